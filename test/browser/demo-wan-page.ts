// The demo page opened in Chromium (SwiftShader) for the Wan2.1 tests: the random tiny model as the
// shipped one (fast here), the tiny Wan2.1 folder of test/golden/wan_pipeline/model served by URL at
// models/wan-tiny/ (with its own size and steps in model_index.json), and helpers to drive the page.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { Page } from 'playwright-core';
import { launchBrowser, modelLabelIn, publicDirForTests, startDevServer, watchErrors, type ErrorLog } from './harness.ts';

export const GOLDEN = join(import.meta.dirname, '../golden');
export const WAN = join(GOLDEN, 'wan_pipeline/model');
export const TAEHV = join(GOLDEN, 'taehv/decoder/taew2_1.safetensors');

export function editJson(file: string, change: (json: Record<string, unknown>) => void): void {
  const json = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  change(json);
  writeFileSync(file, JSON.stringify(json));
}

export interface DemoWithWan {
  page: Page;
  log: ErrorLog;
  /** The page's name for its shipped (here: random tiny) model. */
  shippedLabel: string;
  /** A copy of the tiny Wan folder named `name` in a temporary folder, with `edit` applied. */
  wanCopy(name: string, edit?: (dir: string) => void): string;
  close(): Promise<void>;
}

export async function openDemoWithWan(): Promise<DemoWithWan> {
  process.env.WEBDIT_TEST_TINY_MODEL = '1';
  const { dir } = publicDirForTests();
  const shippedLabel = modelLabelIn(dir);
  const work = mkdtempSync(join(tmpdir(), 'webdit-demo-wan-'));
  mkdirSync(join(dir, 'models'), { recursive: true });
  cpSync(WAN, join(dir, 'models/wan-tiny'), { recursive: true });
  editJson(join(dir, 'models/wan-tiny/model_index.json'), (j) => Object.assign(j, { name: 'Wan2.1 tiny random', frames: 5, height: 32, width: 48, steps: 2 }));
  const dev = await startDevServer(dir);
  const browser = await launchBrowser();
  const page = await browser.context.newPage();
  const log = watchErrors(page);
  // Optional files the loaders probe: a word encoder's config (the shipped model has none), a tokenizer
  // config beside spiece.model, a VAE folder given as the vae/ folder itself.
  for (const optional of [/\/models\/toy\/text_encoder\/config\.json$/, /\/tokenizer\/tokenizer_config\.json$/, /\/vae\/vae\/config\.json$/]) log.expect404(optional);
  await page.goto(`${dev.url}/`);
  await page.waitForSelector('body[data-state=ready]', { timeout: 60_000 });
  return {
    page,
    log,
    shippedLabel,
    wanCopy(name, edit = () => {}) {
      const copy = join(work, name);
      cpSync(WAN, copy, { recursive: true });
      edit(copy);
      return copy;
    },
    async close() {
      await browser.close();
      await dev.close();
      rmSync(work, { recursive: true, force: true });
    },
  };
}

/** Records every text the page sets on the run label and the text beside it, so a test sees each stage however fast it goes. */
export async function recordRunLabels(p: Page): Promise<void> {
  await p.evaluate(() => {
    const w = window as unknown as { runLabels: string[] };
    w.runLabels = [];
    const text = Object.getOwnPropertyDescriptor(Node.prototype, 'textContent')!;
    for (const id of ['run-label', 'run-eta']) {
      const el = document.getElementById(id)!;
      Object.defineProperty(el, 'textContent', {
        configurable: true,
        get: () => text.get!.call(el),
        set: (value: string) => {
          if (value) w.runLabels.push(value);
          text.set!.call(el, value);
        },
      });
    }
  });
}

export function runLabels(p: Page): Promise<string[]> {
  return p.evaluate(() => (window as unknown as { runLabels: string[] }).runLabels);
}

export async function generateOnce(p: Page): Promise<string> {
  await p.evaluate(() => delete document.body.dataset.lastRun);
  await p.click('#generate');
  await p.waitForFunction(() => document.body.dataset.lastRun !== undefined, null, { timeout: 120_000 });
  return (await p.evaluate(() => document.body.dataset.lastRun))!;
}

/** The clip opened in Chromium's <video>: decodable frames, a duration, no media error. */
export async function expectPlaying(p: Page): Promise<void> {
  await p.waitForFunction(() => (document.getElementById('video') as HTMLVideoElement).readyState >= 2, null, { timeout: 30_000 });
  const video = await p.evaluate(() => {
    const v = document.getElementById('video') as HTMLVideoElement;
    return { duration: v.duration, error: v.error?.message ?? null };
  });
  expect(video.duration).toBeGreaterThan(0);
  expect(video.error).toBeNull();
}
