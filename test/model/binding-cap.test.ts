// Issue 19, binding limits: under an artificial binding cap far below the tensors' sizes, the Wan
// transformer and umT5 goldens give outputs identical (bit for bit) to the uncapped run.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { testContext } from '../helpers/gpu.ts';
import { relativeError } from '../helpers/reference.ts';
import { directoryFolder } from '../../src/weights/node-folder.ts';
import { fileSource } from '../../src/weights/node-source.ts';
import { openSafetensors, readTensor } from '../../src/weights/safetensors.ts';
import { loadWanTransformer } from '../../src/model/load.ts';
import { loadUmt5Encoder } from '../../src/model/umt5/load.ts';
import { runTransformerOnInputs } from '../../src/cli/commands/transformer.ts';
import type { GpuContext } from '../../src/gpu/context.ts';

const GOLDEN = join(__dirname, '../golden');

/** Runs `fn` under a binding cap; returns its result and the sub-range bindings it made, by shader. */
async function capped<T>(ctx: GpuContext, cap: number, fn: () => Promise<T>): Promise<{ result: T; ranges: Record<string, number> }> {
  const before = { ...ctx.rangeBindings };
  ctx.setBindingLimit(cap);
  try {
    const result = await fn();
    const ranges: Record<string, number> = {};
    for (const [shader, n] of Object.entries(ctx.rangeBindings)) if (n > (before[shader] ?? 0)) ranges[shader] = n - (before[shader] ?? 0);
    return { result, ranges };
  } finally {
    ctx.setBindingLimit(undefined);
  }
}

const bits = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);

describe('under an artificial binding cap, outputs equal the uncapped run bit for bit', () => {
  // Caps below most activations and weights. The goldens' odd widths (48, 96) align a row range only
  // every few rows, which bounds how low a cap can go (real widths are multiples of 64: any row aligns).
  const cases = [
    { name: 'tiny', cap: 8192, split: ['matmul', 'attention_direct', 'layer_norm_rows', 'rms_norm_rows', 'rope', 'copy_columns'] },
    { name: 'tiny_bf16', cap: 8192, split: ['matmul', 'attention_direct', 'layer_norm_rows', 'rms_norm_rows', 'rope', 'copy_columns'] },
    { name: 'head128', cap: 32768, split: ['matmul', 'copy_columns'] },
  ];
  for (const { name, cap, split: splitShaders } of cases) {
    it(`Wan transformer golden ${name}, ${cap / 1024} KiB cap: output and every intermediate`, async () => {
      const ctx = await testContext();
      const dir = join(GOLDEN, 'wan', name);
      const model = await loadWanTransformer(ctx, directoryFolder(dir));
      const inputs = await openSafetensors(await fileSource(join(dir, 'inputs.safetensors')));
      const whole = await runTransformerOnInputs(ctx, model, inputs, { intermediates: true });
      const before = ctx.liveTensors;
      const { result: split, ranges } = await capped(ctx, cap, () => runTransformerOnInputs(ctx, model, inputs, { intermediates: true }));
      console.log(`${name} under ${cap} B: sub-range bindings ${JSON.stringify(ranges)}`);
      for (const shader of splitShaders) {
        expect(ranges[shader], `${shader} was split`).toBeGreaterThan(0);
      }
      expect(bits(split.output.data)).toEqual(bits(whole.output.data));
      expect([...split.intermediates.keys()]).toEqual([...whole.intermediates.keys()]);
      for (const [key, t] of whole.intermediates) expect(bits(split.intermediates.get(key)!.data), key).toEqual(bits(t.data));
      // And still the upstream golden (the uncapped run's own test is test/model/wan-golden.test.ts).
      const expected = await openSafetensors(await fileSource(join(dir, 'outputs.safetensors')));
      expect(relativeError(split.output.data, await readTensor(expected, 'output'))).toBeLessThan(1e-4);
      expect(ctx.liveTensors).toBe(before);
      model.dispose();
    }, 60_000);
  }

  it('umT5 golden tiny, 4 KiB cap: both sequences', async () => {
    const ctx = await testContext();
    const dir = join(GOLDEN, 't5', 'tiny');
    const encoder = await loadUmt5Encoder(ctx, { folder: directoryFolder(join(dir, 'hf')) });
    const inputs = await openSafetensors(await fileSource(join(dir, 'inputs.safetensors')));
    const [batch, length] = inputs.tensors.get('input_ids')!.shape;
    const ids = await readTensor(inputs, 'input_ids');
    const mask = await readTensor(inputs, 'mask');
    const sequences: number[][] = [];
    for (let b = 0; b < batch; b++) {
      const n = mask.subarray(b * length, (b + 1) * length).reduce((a, m) => a + m, 0);
      sequences.push(Array.from(ids.subarray(b * length, b * length + n)));
    }
    const whole = await encoder.encode(sequences);
    const { result: split, ranges } = await capped(ctx, 4096, () => encoder.encode(sequences));
    console.log(`umT5 tiny under 4096 B: sub-range bindings ${JSON.stringify(ranges)}`);
    expect(ranges.matmul).toBeGreaterThan(0);
    expect(ranges.copy_columns, 'relative attention by head groups').toBeGreaterThan(0);
    expect(split.map(bits)).toEqual(whole.map(bits));
  }, 60_000);
});
