// The streamed umT5 encoder in Chromium (WebGPU on SwiftShader here): the `odd` golden's text_encoder
// folder fetched by URL from Vite's dev server (two shards, Range reads), against t5.py's output.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCheckPage, type CheckPage } from './harness.ts';
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
});
