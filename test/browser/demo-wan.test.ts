// The demo page with a Wan2.1 diffusers folder picked from disk (the tiny random one of
// test/golden/wan_pipeline/model, all five parts) in Chromium on SwiftShader: shown as a Wan model with
// Wan's negative prompt, the memory plan and a time estimate before Generate; a size that does not fit
// refused naming the largest that does; bad folders and a too-small GPU each refused with a clear
// message; then prompt → a clip that plays, with the stages in the progress line (umT5 layers, release,
// steps, decode). demo-wan-url.test.ts loads the folder by URL with a TAEHV preview decoder.
import { join } from 'node:path';
import { mkdirSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { SCREENSHOTS, type ErrorLog } from './harness.ts';
import { editJson, expectPlaying, generateOnce, openDemoWithWan, recordRunLabels, runLabels, type DemoWithWan } from './demo-wan-page.ts';
import { WAN_NEGATIVE_PROMPT } from '../../src/pipeline/wan-text.ts';

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

const wanCopy = (name: string, edit?: (dir: string) => void) => demo.wanCopy(name, edit);

/** Loads a local folder through the folder picker; resolves with the loader's message and its kind. */
async function pickFolder(dir: string): Promise<{ kind: string; text: string }> {
  await page.evaluate(() => {
    const el = document.getElementById('loader-message')!;
    el.classList.remove('error', 'ok', 'info');
    el.hidden = true;
  });
  await page.setInputFiles('#model-files', dir);
  await page.waitForSelector('#loader-message.error, #loader-message.ok', { timeout: 60_000 });
  return page.evaluate(() => {
    const el = document.getElementById('loader-message')!;
    return { kind: el.classList.contains('error') ? 'error' : 'ok', text: el.textContent ?? '' };
  });
}

describe('demo page with a Wan2.1 folder', () => {
  it('loads a local Wan2.1 folder and shows it as a Wan model, with the plan and an estimate before Generate', async () => {
    await page.click('#load-panel > summary');
    const loaded = await pickFolder(wanCopy('Wan2.1-tiny'));
    expect(loaded).toEqual({ kind: 'ok', text: 'Loaded Wan2.1-tiny as a Wan2.1 model (umT5 text encoder, transformer, Wan VAE).' });
    expect(await page.textContent('#model-name')).toBe('Wan2.1-tiny');
    expect(await page.textContent('#model-detail')).toMatch(/2 blocks · .* · Wan2\.1: umT5 \(2 layers, streamed\) → transformer → Wan VAE/);
    expect(await page.isDisabled('#prompt')).toBe(false);
    expect(await page.isVisible('#negative-prompt')).toBe(true);
    expect(await page.inputValue('#negative-prompt')).toBe(WAN_NEGATIVE_PROMPT);
    expect(await page.isVisible('#decoder-group')).toBe(false); // no TAEHV file given
    // The model's own size (Wan2.1's default, as its model_index.json names none) and the browser presets.
    const presets = await page.$$eval('#size-preset option', (os) => os.map((o) => (o as HTMLOptionElement).value));
    expect(presets).toEqual(['480p', '480p-short', 'preview', 'small', 'thumbnail', 'custom']);
    expect(await page.inputValue('#size-preset')).toBe('480p');
    expect(await page.textContent('#plan')).toMatch(/^Memory plan for 832×480, 81 frames \(GPU\): encode [\d.]+ MiB · sample [\d.]+ (MiB|GiB) · decode [\d.]+ (MiB|GiB)( \(peak\))?; 7\.20 GiB usable\.$/);
    await page.waitForFunction(() => document.getElementById('estimate')!.dataset.seconds !== undefined, null, { timeout: 30_000 });
    expect(await page.textContent('#estimate')).toMatch(/^Estimated time on this adapter: about .* \(encode .*, sample .*, decode .*\)\. An estimate: one block at 64 and 256 tokens and two small decodes/);
    expect(log.errors).toEqual([]);
  }, 60_000);

  it('refuses a size that does not fit the GPU memory, naming the largest size that does', async () => {
    await page.selectOption('#size-preset', 'preview');
    expect(await page.inputValue('#width')).toBe('480');
    const previewPlan = await page.textContent('#plan');
    const bytes = (text: string, stage: string) => {
      const m = new RegExp(`${stage} ([\\d.]+) (MiB|GiB)`).exec(text)!;
      return Number(m[1]) * (m[2] === 'GiB' ? 1024 : 1);
    };
    const previewPeak = Math.max(...['encode', 'sample', 'decode'].map((s) => bytes(previewPlan!, s)));
    // Memory for the preview but not for 480p: 480p is refused, naming the preview.
    await page.fill('#gpu-memory', String((previewPeak * 1.05) / 0.9 / 1024));
    await page.selectOption('#size-preset', '480p');
    expect(await page.textContent('#plan')).toMatch(/Refused: 832×480, 81 frames needs .* of GPU memory at its largest stage \(\w+\), more than the .* usable of .*: the largest size that fits is preview \(480×272, 33 frames\)\.$/);
    expect(await generateOnce(page)).toBe('error');
    expect(await page.textContent('#message')).toMatch(/832×480, 81 frames needs .*the largest size that fits is preview/);
    await page.fill('#gpu-memory', '8');
    expect(await page.textContent('#plan')).not.toMatch(/Refused/);
  }, 30_000);

  it('refuses bad folders and a too-small GPU with a clear message, keeping the Wan model', async () => {
    const keep = /The page still uses Wan2\.1-tiny\.$/;
    const noVae = wanCopy('no-vae', (d) => rmSync(join(d, 'vae'), { recursive: true }));
    let m = await pickFolder(noVae);
    expect(m.kind).toBe('error');
    expect(m.text).toMatch(/a Wan2\.1 folder needs tokenizer\/, text_encoder\/, transformer\/, vae\/ and scheduler\/; missing vae\/ \(no vae\/config\.json\)/);
    expect(m.text).toMatch(keep);

    m = await pickFolder(wanCopy('wide-text', (d) => editJson(join(d, 'text_encoder/config.json'), (j) => (j.d_model = 64))));
    expect(m.text).toMatch(/the text encoder's width \(text_encoder\/config\.json d_model 64\) is not the transformer's text_dim 32/);
    expect(m.text).toMatch(keep);

    m = await pickFolder(
      wanCopy('other-vae', (d) =>
        editJson(join(d, 'vae/config.json'), (j) => Object.assign(j, { z_dim: 48, latents_mean: new Array(48).fill(0), latents_std: new Array(48).fill(1) })),
      ),
    );
    expect(m.text).toMatch(/the VAE's z_dim 48 is not the transformer's latent channels \(in_channels 16, out_channels 16\)/);
    expect(m.text).toMatch(keep);

    // A GPU too small for even the smallest size: refused before any weight is read.
    await page.fill('#gpu-memory', '0.001');
    m = await pickFolder(wanCopy('fits-nowhere'));
    expect(m.text).toMatch(/That model did not load: it does not fit this GPU even at its smallest size: 192×112, 9 frames needs .* of GPU memory .* no size offered here fits: even the smallest needs more\. \(set the GPU memory under Size if it has more\) The page still uses Wan2\.1-tiny\./);
    await page.fill('#gpu-memory', '8');
    expect(await page.textContent('#model-name')).toBe('Wan2.1-tiny');
    expect(log.errors).toEqual([]);
  }, 60_000);

  it('goes prompt → frames with the stages in the progress line, after those errors', async () => {
    await page.fill('#prompt', 'a small red fox runs through the snow');
    await page.selectOption('#size-preset', 'custom');
    await page.fill('#frames', '5');
    await page.fill('#height', '32');
    await page.fill('#width', '48');
    await page.fill('#steps', '2');
    await page.selectOption('#cache-policy', 'none');
    expect(await page.textContent('#plan')).toMatch(/^Memory plan for 48×32, 5 frames/);
    await recordRunLabels(page);
    expect(await generateOnce(page)).toBe('done');
    const labels = await runLabels(page);
    const stages = labels.filter((l, i) => l !== labels[i - 1]);
    expect(stages, stages.join('\n')).toContain('Encoding the prompt with umT5 (streamed): layer 2 of 2');
    const order = ['Encoding the prompt with umT5 (streamed)…', 'Encoding the prompt with umT5 (streamed): layer 1 of 2', 'umT5 released', 'Step 1 of 2', 'Step 2 of 2', 'sampled in ', 'Encoding the video…'];
    const at = order.map((o) => stages.findIndex((l) => l.startsWith(o)));
    expect(stages.find((l) => l.startsWith('sampled in '))).toMatch(/^sampled in [\d.]+ s · decoding with the Wan VAE…$/);
    expect(at.every((i) => i >= 0)).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
    await expectPlaying(page);
    expect(await page.textContent('#clip-info')).toMatch(/^5 frames at/);
    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.locator('.workspace').screenshot({ path: join(SCREENSHOTS, 'demo-wan.png') });
    // The same prompt again: its umT5 embeddings come from the browser's store, umT5 does not run.
    await recordRunLabels(page);
    expect(await generateOnce(page)).toBe('done');
    const again = await runLabels(page);
    expect(again, again.join('\n')).toContain('Prompt embeddings from this browser (umT5 not needed)');
    expect(again.some((l) => l.startsWith('Encoding the prompt with umT5'))).toBe(false);
    expect(log.errors).toEqual([]);
  }, 120_000);

});
