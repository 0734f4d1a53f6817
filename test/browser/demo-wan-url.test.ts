// The demo page loading the tiny Wan2.1 folder by URL (served by the dev server, with its own size and
// steps in model_index.json) with a TAEHV file beside it: the model's own size preset, the TAEHV preview
// decoder, an empty negative prompt; prompt → a clip that plays; back to the shipped model afterwards.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { SCREENSHOTS, type ErrorLog } from './harness.ts';
import { expectPlaying, generateOnce, openDemoWithWan, recordRunLabels, runLabels, TAEHV, type DemoWithWan } from './demo-wan-page.ts';

let demo: DemoWithWan;
let page: Page;
let log: ErrorLog;

beforeAll(async () => {
  demo = await openDemoWithWan();
  ({ page, log } = demo);
});

afterAll(async () => {
  await demo?.close();
});

describe('demo page with a Wan2.1 folder by URL', () => {
  it('loads a Wan2.1 folder by URL with a TAEHV preview decoder; an empty negative prompt is allowed', async () => {
    await page.click('#load-panel > summary');
    await page.setInputFiles('#decoder-file', TAEHV);
    await page.evaluate(() => document.getElementById('loader-message')!.classList.remove('ok', 'error'));
    await page.fill('#model-url', '/models/wan-tiny/');
    await page.click('#load-url');
    await page.waitForSelector('#loader-message.ok, #loader-message.error', { timeout: 60_000 });
    expect(await page.textContent('#loader-message')).toBe(
      'Loaded Wan2.1 tiny random as a Wan2.1 model (umT5 text encoder, transformer, Wan VAE), with taew2_1.safetensors as the preview decoder.',
    );
    // model_index.json's own size is offered first and chosen.
    expect(await page.inputValue('#size-preset')).toBe('model');
    expect(await page.textContent('#size-preset option[value=model]')).toBe("the model's own (48×32, 5 frames)");
    expect(await page.inputValue('#steps')).toBe('2');
    expect(await page.isVisible('#decoder-group')).toBe(true);
    await page.selectOption('#decoder-choice', 'preview');
    await page.fill('#negative-prompt', '');
    await recordRunLabels(page);
    expect(await generateOnce(page)).toBe('done');
    const labels = await runLabels(page);
    expect(labels.some((l) => l.endsWith(' · decoding with TAEHV (preview)…'))).toBe(true);
    await expectPlaying(page);
    await page.locator('.workspace').screenshot({ path: join(SCREENSHOTS, 'demo-wan-url-taehv.png') });

    // Back to the shipped model: the page still works with it.
    await page.click('#use-shipped');
    await page.waitForFunction((label) => document.getElementById('model-name')!.textContent === label, demo.shippedLabel, { timeout: 30_000 });
    expect(await page.isVisible('#negative-prompt')).toBe(false);
    expect(await page.isVisible('#plan')).toBe(false);
    expect(log.errors).toEqual([]);
  }, 120_000);
});
