// The demo's "Wan2.1 from single files" panel in Chromium (Vite's dev server): files picked one per
// part, as people download them (the tiny folder's transformer under Wan's original key names, umT5
// and the VAE as one file each, spiece.model), load as one model that the page then uses; missing or
// mismatched parts get a message naming them, and the model in use stays.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { launchBrowser, modelLabelIn, publicDirForTests, screenshot, startDevServer, watchErrors, type Browser, type ErrorLog, type Served } from './harness.ts';
import { writeOriginalKeyTransformer } from '../helpers/wan-single-files.ts';

const MODEL = join(__dirname, '../golden/wan_pipeline/model');

let dev: Served;
let browser: Browser;
let page: Page;
let log: ErrorLog;
let label: string;
let dir: string;
let transformerPath: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'webdit-parts-panel-'));
  transformerPath = join(dir, 'wan2.1_t2v_tiny.safetensors');
  await writeOriginalKeyTransformer(join(MODEL, 'transformer/diffusion_pytorch_model.safetensors'), transformerPath);
  const publicDir = publicDirForTests().dir;
  label = modelLabelIn(publicDir);
  dev = await startDevServer(publicDir);
  browser = await launchBrowser();
  page = await browser.context.newPage();
  log = watchErrors(page);
  await page.goto(`${dev.url}/`);
  await page.waitForSelector('body[data-state=ready]', { timeout: 120_000 });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await dev?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function loadParts(files: Record<string, string | undefined>): Promise<string> {
  await page.evaluate(() => {
    (document.getElementById('parts-panel') as HTMLDetailsElement).open = true;
    document.getElementById('parts-message')!.hidden = true;
  });
  for (const [id, path] of Object.entries(files)) await page.setInputFiles(`#${id}`, path === undefined ? [] : path);
  await page.click('#parts-load');
  await page.waitForSelector('#parts-message:not([hidden])', { timeout: 120_000 });
  return (await page.textContent('#parts-message')) ?? '';
}

describe('the single-files panel', () => {
  it('names the missing parts, and keeps the model in use', async () => {
    const message = await loadParts({ 'parts-transformer': transformerPath });
    expect(message).toMatch(/Those files did not load: .*missing the text encoder \(umT5 \.safetensors\), the tokenizer \(spiece\.model\), a decoder/);
    expect(message).toContain(`The page still uses ${label}.`);
    expect(await page.textContent('#model-name')).toBe(label);
  }, 60_000);

  it('refuses a text encoder of another width, naming both parts', async () => {
    const message = await loadParts({
      'parts-transformer-config': join(MODEL, 'transformer/config.json'),
      'parts-text-encoder': join(__dirname, '../golden/t5/odd/wan.safetensors'),
      'parts-tokenizer': join(MODEL, 'tokenizer/spiece.model'),
      'parts-vae': join(MODEL, 'vae/diffusion_pytorch_model.safetensors'),
    });
    expect(message).toMatch(/the text encoder's width \(wan\.safetensors: d_model 36\) is not the transformer's text_dim 32/);
    expect(await page.textContent('#model-name')).toBe(label);
  }, 60_000);

  it('loads the single files as the page model', async () => {
    const message = await loadParts({ 'parts-text-encoder': join(MODEL, 'text_encoder/model.safetensors') });
    expect(message).toMatch(/^Loaded wan2\.1_t2v_tiny: Wan2\.1 with 2 blocks of width 48, umT5 of width 32\./);
    expect(await page.textContent('#model-name')).toBe('wan2.1_t2v_tiny');
    await screenshot(page, 'parts-panel');
    expect(log.errors).toEqual([]);
  }, 120_000);
});
