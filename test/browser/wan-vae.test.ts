// The Wan VAE decoder in a real browser: Chromium's WebGPU (SwiftShader here) decodes the tiny_tall
// golden (test/golden/vae, fetched from Vite's dev server as a diffusers folder) in the page.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { openCheckPage, type CheckPage, type ErrorLog } from './harness.ts';
import type { WanVaeCheckOutput } from './wan-vae-check.ts';

let check: CheckPage;
let page: Page;
let log: ErrorLog;

beforeAll(async () => {
  check = await openCheckPage('wan-vae-check.html');
  ({ page, log } = check);
});

afterAll(async () => {
  await check?.close();
});

describe('Wan VAE decoder in Chromium', () => {
  it('decodes the tiny_tall golden in the page to upstream frames (relative error ≤ 1e-4)', async () => {
    await page.waitForFunction(() => 'runWanVaeCheck' in window);
    const result = await page.evaluate(
      (url) => (window as unknown as { runWanVaeCheck(u: string): Promise<WanVaeCheckOutput> }).runWanVaeCheck(url),
      new URL('/test/golden/vae/tiny_tall', page.url()).href,
    );
    console.log(`Wan VAE in Chromium (${result.adapter}): relative error ${result.relativeError.toExponential(2)}`);
    expect(result.frameShape).toEqual([13, 3, 40, 24]);
    expect(result.relativeError).toBeLessThan(1e-4);
    expect(result.liveTensorsAfter).toBe(0);
    expect(log.errors).toEqual([]);
  }, 300_000);
});
