// The demo and benchmark pages in Chromium (WebGPU on SwiftShader), served by Vite's dev server as
// `npm run dev` serves them: the shipped model loads and generates a short clip that the <video>
// element plays; a cached run is compared with the uncached one; bad input gives a clear message and
// the page keeps working; the benchmark fills #bench-json. No console errors; screenshots saved.
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { launchBrowser, modelLabelIn, publicDirForTests, screenshot, startDevServer, watchErrors, type Browser, type ErrorLog, type Served } from './harness.ts';
import { encodeSafetensors } from '../../src/weights/safetensors.ts';

let dev: Served;
let browser: Browser;
let publicDir: string;
/** What the page calls the test model. */
let label: string;
let page: Page;
let log: ErrorLog;

beforeAll(async () => {
  publicDir = publicDirForTests().dir;
  label = modelLabelIn(publicDir);
  dev = await startDevServer(publicDir);
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await dev?.close();
});

/** Records every text the run label shows, so a test sees the per-step progress however fast it goes. */
async function recordRunLabels(p: Page): Promise<void> {
  await p.evaluate(() => {
    const w = window as unknown as { runLabels: string[] };
    w.runLabels = [];
    const label = document.getElementById('run-label')!;
    new MutationObserver(() => w.runLabels.push(label.textContent ?? '')).observe(label, { childList: true, characterData: true, subtree: true });
  });
}

async function generateOnce(p: Page): Promise<string> {
  await p.evaluate(() => delete document.body.dataset.lastRun);
  await p.click('#generate');
  await p.waitForFunction(() => document.body.dataset.lastRun !== undefined, null, { timeout: 180_000 });
  return (await p.evaluate(() => document.body.dataset.lastRun))!;
}

describe('demo page (index.html)', () => {
  it('loads the shipped model, generates a clip and plays it in <video>', async () => {
    page = await browser.context.newPage();
    log = watchErrors(page);
    await page.goto(`${dev.url}/`);
    await page.waitForSelector('body[data-state=ready]', { timeout: 120_000 });
    expect(await page.textContent('#model-name')).toBe(label);
    expect(await page.isEnabled('#generate')).toBe(true);

    // Uncached first: the cached run below is then compared with it.
    await page.fill('#steps', '6');
    await page.selectOption('#cache-policy', 'none');
    await recordRunLabels(page);
    expect(await generateOnce(page)).toBe('done');
    const labels = await page.evaluate(() => (window as unknown as { runLabels: string[] }).runLabels);
    for (let step = 1; step <= 6; step++) expect(labels).toContain(`Step ${step} of 6`);

    // The generated clip opens in Chromium's <video>: decodable frames, a duration, no media error.
    await page.waitForFunction(() => (document.getElementById('video') as HTMLVideoElement).readyState >= 2, null, { timeout: 30_000 });
    const video = await page.evaluate(() => {
      const v = document.getElementById('video') as HTMLVideoElement;
      return { readyState: v.readyState, duration: v.duration, error: v.error?.message ?? null, width: v.videoWidth, paused: v.paused, loop: v.loop };
    });
    expect(video.readyState).toBeGreaterThanOrEqual(2);
    expect(video.duration).toBeGreaterThan(0);
    expect(video.error).toBeNull();
    expect(video.width).toBeGreaterThanOrEqual(128);
    expect(video.loop).toBe(true);
    expect(await page.isEnabled('#download')).toBe(true);
    // The download offers the format the browser encoded: MP4 where its WebCodecs has H.264, else WebM.
    const h264 = await page.evaluate(async () => (await VideoEncoder.isConfigSupported({ codec: 'avc1.42001f', width: 256, height: 256 })).supported);
    const extension = h264 ? 'mp4' : 'webm';
    expect(await page.textContent('#download')).toBe(`Download (${h264 ? 'MP4' : 'WebM'})`);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
    expect(download.suggestedFilename()).toMatch(new RegExp(`^webdit-seed\\d+-none\\.${extension}$`));
    expect(await page.evaluate(() => (document.getElementById('video') as HTMLVideoElement).src)).toMatch(/^blob:/);
    const mime = await page.evaluate(async () => (await (await fetch((document.getElementById('video') as HTMLVideoElement).src)).blob()).type);
    expect(mime).toBe(`video/${extension}`);
    expect(await page.locator('#heatmap svg rect.cell.computed:not(.legend)').count()).toBe(6 * 3);
    expect(await page.textContent('#m-reuse')).toBe('0%');
    expect(log.errors).toEqual([]);
  }, 240_000);

  it('compares a cached run with the uncached run of the same settings (speedup, PSNR)', async () => {
    await page.selectOption('#cache-policy', 'bwcache');
    await page.fill('#cache-threshold', '0.3');
    expect(await page.textContent('#cache-spec')).toBe('bwcache:threshold=0.3');
    expect(await generateOnce(page)).toBe('done');
    expect(await page.textContent('#m-speedup')).toMatch(/^\d+\.\d\d×( · first run)?$/);
    expect(await page.textContent('#m-psnr')).toMatch(/dB/);
    expect(await page.locator('#heatmap svg rect.cell:not(.legend)').count()).toBe(6 * 3);
    expect(await page.locator('#indicator svg path.series').count()).toBe(1);
    expect(await page.locator('#indicator svg line.threshold').count()).toBe(1);
    await screenshot(page, 'demo');
    expect(log.errors).toEqual([]);
  }, 240_000);

  it('says clearly what is wrong with bad input and stays usable', async () => {
    // A size the model cannot take: generate's own validation message.
    const height = await page.inputValue('#height');
    await page.fill('#height', '31');
    expect(await generateOnce(page)).toBe('error');
    expect(await page.textContent('#message')).toMatch(/height must be a multiple of \d+ for this model, got 31 \(nearest: \d+ or \d+\)/);
    expect(await page.isEnabled('#generate')).toBe(true);
    await page.fill('#height', height);

    // A URL with no model behind it (404).
    log.expect404(/\/no-such-model\//);
    await page.click('#load-panel > summary');
    await page.fill('#model-url', '/no-such-model/');
    await page.click('#load-url');
    await page.waitForSelector('#loader-message.error', { timeout: 30_000 });
    expect(await page.textContent('#loader-message')).toMatch(new RegExp(`No model found at .*/no-such-model/.*404.*The page still uses ${label}\\.`));

    // A folder whose weights file is not safetensors.
    const broken = mkdtempSync(join(tmpdir(), 'webdit-broken-'));
    cpSync(join(publicDir, 'models/toy'), join(broken, 'broken-model'), { recursive: true });
    writeFileSync(join(broken, 'broken-model/transformer/diffusion_pytorch_model.safetensors'), 'this is a text file, not weights\n'.repeat(20));
    await page.evaluate(() => document.getElementById('loader-message')!.classList.remove('error'));
    await page.setInputFiles('#model-files', join(broken, 'broken-model'));
    await page.waitForSelector('#loader-message.error', { timeout: 30_000 });
    expect(await page.textContent('#loader-message')).toMatch(new RegExp(`diffusion_pytorch_model\\.safetensors.*not a safetensors file.*The page still uses ${label}\\.`));

    // Prompt embeddings of the wrong width.
    const embeds = join(broken, 'embeds.safetensors');
    writeFileSync(embeds, encodeSafetensors({ prompt_embeds: { dtype: 'F32', shape: [1, 4, 5], data: new Float32Array(20) } }));
    await page.evaluate(() => document.getElementById('loader-message')!.classList.remove('error'));
    await page.setInputFiles('#embeds-file', embeds);
    await page.waitForSelector('#loader-message.error', { timeout: 30_000 });
    expect(await page.textContent('#loader-message')).toMatch(/prompt_embeds has width 5, but this model's text_dim is \d+/);
    await screenshot(page, 'demo-errors');

    // Still usable: the shipped model generates again.
    expect(await page.textContent('#model-name')).toBe(label);
    expect(await page.isDisabled('#prompt')).toBe(false);
    await page.fill('#steps', '1');
    expect(await generateOnce(page)).toBe('done');
    expect(log.errors).toEqual([]);
  }, 240_000);
});

describe('without WebGPU', () => {
  it('the demo says so plainly and how to get it', async () => {
    const bare = await browser.context.newPage();
    const bareLog = watchErrors(bare);
    await bare.addInitScript(() => Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined }));
    await bare.goto(`${dev.url}/`);
    await bare.waitForSelector('body[data-state=no-webgpu]', { timeout: 30_000 });
    expect(await bare.isVisible('#gpu-missing')).toBe(true);
    expect(await bare.textContent('#gpu-missing-message')).toMatch(/WebGPU is not available here\. Use a recent Chrome or Edge/);
    expect(await bare.isDisabled('#generate')).toBe(true);
    await screenshot(bare, 'demo-no-webgpu');
    await bare.close();
    expect(bareLog.errors).toEqual([]);
  }, 60_000);
});

describe('benchmark page (bench.html)', () => {
  it('runs two policies on one seed and fills #bench-json', async () => {
    const bench = await browser.context.newPage();
    const benchLog = watchErrors(bench);
    await bench.goto(`${dev.url}/bench.html?policies=none,bwcache&seeds=0&steps=2&autorun=1`);
    await bench.waitForFunction(() => document.body.dataset.lastRun !== undefined, null, { timeout: 240_000 });
    expect(await bench.evaluate(() => document.body.dataset.lastRun)).toBe('done');
    const report = JSON.parse((await bench.textContent('#bench-json'))!);
    expect(report.policies.map((p: { spec: string }) => p.spec)).toEqual(['none', 'bwcache']);
    expect(report.settings.steps).toBe(2);
    expect(report.settings.seeds).toEqual([0]);
    expect(report.adapter.architecture).toMatch(/\S/);
    expect(report.curve.relL1).toHaveLength(2);
    // SwiftShader has timestamp queries, so the kernels were profiled.
    expect(report.kernels.length).toBeGreaterThan(3);
    expect(await bench.locator('#results-table tbody tr').count()).toBe(2);
    expect(await bench.locator('#curve svg path.series').count()).toBeGreaterThan(0);
    expect(await bench.locator('#kernels .bar-row').count()).toBeGreaterThan(3);
    await screenshot(bench, 'bench');
    expect(benchLog.errors).toEqual([]);
  }, 300_000);
});
