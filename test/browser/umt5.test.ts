// The streamed umT5 encoder in Chromium (WebGPU on SwiftShader here): the `odd` golden's text_encoder
// folder fetched by URL from Vite's dev server (two shards, Range reads), against t5.py's output.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, rm } from 'node:fs/promises';
import { openCheckPage, ROOT, type CheckPage } from './harness.ts';
import { testContext } from '../helpers/gpu.ts';
import { writeTinyUmt5Model } from '../helpers/tiny-umt5.ts';
import { loadTokenizerFromPath } from '../../src/cli/model-args.ts';
import { loadUmt5Encoder } from '../../src/model/umt5/load.ts';
import { encodePromptEmbeds } from '../../src/model/umt5/prompt-embeds.ts';
import { directoryFolder } from '../../src/weights/node-folder.ts';
import { relativeError } from '../helpers/reference.ts';
import { fileSource } from '../../src/weights/node-source.ts';
import { openSafetensors, readTensor } from '../../src/weights/safetensors.ts';
import type { Umt5CheckOutput } from './umt5-check.ts';

let check: CheckPage;

beforeAll(async () => {
  check = await openCheckPage('umt5-check.html');
}, 120_000);

afterAll(async () => {
  await check?.close();
});

describe('umT5 encoder in Chromium', () => {
  it("matches wan/modules/t5.py on the odd golden, fetched by URL", async () => {
    const dir = join(__dirname, '../golden/t5/odd');
    const inputs = await openSafetensors(await fileSource(join(dir, 'inputs.safetensors')));
    const outputs = await openSafetensors(await fileSource(join(dir, 'outputs.safetensors')));
    const [, length] = inputs.tensors.get('input_ids')!.shape;
    const ids = await readTensor(inputs, 'input_ids');
    const mask = await readTensor(inputs, 'mask');
    const output = await readTensor(outputs, 'output');
    const dim = outputs.tensors.get('output')!.shape[2];
    const lengths = [0, 1].map((b) => mask.subarray(b * length, (b + 1) * length).reduce((a, m) => a + m, 0));
    const sequences = lengths.map((n, b) => Array.from(ids.subarray(b * length, b * length + n)));
    await check.page.waitForFunction(() => 'runUmt5' in window);
    const result = (await check.page.evaluate(
      ([url, seqs]) => (window as unknown as { runUmt5: (u: string, s: number[][]) => Promise<Umt5CheckOutput> }).runUmt5(url, seqs),
      ['/test/golden/t5/odd/hf/', sequences] as const,
    )) as Umt5CheckOutput;
    lengths.forEach((n, b) => {
      const expected = output.slice(b * length * dim, (b * length + n) * dim);
      expect(relativeError(result.outputs[b], expected), `prompt ${b} on ${result.adapter}`).toBeLessThan(1e-4);
    });
    expect(result.peakGpuBytes).toBeGreaterThan(0);
    expect(check.log.errors).toEqual([]);
  }, 120_000);

  it('tokenizes and encodes a prompt and its negative in the page, as Node does', async () => {
    const dir = join(ROOT, 'test-output/umt5-prompt-model');
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    await writeTinyUmt5Model(dir);
    const prompt = 'A red fox &amp; its   shadow run across snow — 雪の上を走る狐 🦊';
    const negative = 'blurry, static';
    await check.page.waitForFunction(() => 'runPromptEmbeds' in window);
    check.log.expect404(/\/tokenizer\/tokenizer_config\.json$/); // optional: absent means no added tokens
    type Out = { ids: number[]; promptEmbeds: number[]; negativePromptEmbeds: number[] };
    const result = (await check.page.evaluate(
      ([url, p, n]) => (window as unknown as { runPromptEmbeds: (u: string, p: string, n: string) => Promise<Out> }).runPromptEmbeds(url, p, n),
      ['/test-output/umt5-prompt-model/', prompt, negative] as const,
    )) as Out;
    const ctx = await testContext();
    const tokenizer = await loadTokenizerFromPath(join(dir, 'tokenizer'));
    const encoder = await loadUmt5Encoder(ctx, { folder: directoryFolder(join(dir, 'text_encoder')) });
    const embeds = await encodePromptEmbeds(encoder, tokenizer.encode(prompt), tokenizer.encode(negative));
    expect(result.ids).toEqual(tokenizer.encode(prompt));
    expect(result.ids.length).toBeGreaterThan(10);
    expect(relativeError(Float32Array.from(result.promptEmbeds), embeds.promptEmbeds)).toBeLessThan(1e-5);
    expect(relativeError(Float32Array.from(result.negativePromptEmbeds), embeds.negativePromptEmbeds!)).toBeLessThan(1e-5);
    expect(result.promptEmbeds.slice(result.ids.length * 16).every((v) => v === 0)).toBe(true); // zero past the tokens
    expect(check.log.errors).toEqual([]);
  }, 120_000);
});
