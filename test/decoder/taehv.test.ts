// TAEHV weight handling: taehv.py's TGrow trimming, and refusal of tensors that are not a TAEHV decoder.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { testContext } from '../helpers/gpu.ts';
import type { Tensor } from '../../src/gpu/tensor.ts';
import { TAEHV_DECODER_TENSORS, TaehvDecoder } from '../../src/decoder/taehv.ts';
import { loadTensors, openCheckpointFile } from '../../src/weights/checkpoint.ts';
import { fileSource } from '../../src/weights/node-source.ts';
import { openSafetensors, readTensor } from '../../src/weights/safetensors.ts';

const GOLDEN = join(__dirname, '../golden/taehv/decoder');

describe('TAEHV decoder weights', () => {
  it('keeps the last rows of a TGrow weight with more than its stride needs (patch_tgrow_layers)', async () => {
    const ctx = await testContext();
    const weightsFile = join(GOLDEN, 'taew2_1.safetensors');
    const checkpoint = await openCheckpointFile(await fileSource(weightsFile));
    const load = () => loadTensors(ctx, checkpoint, TAEHV_DECODER_TENSORS, { widenToF32: (_n, info) => info.shape.length === 1 });

    // Stride-1 TGrow stored as a stride-2 one: [512, 256, 1, 1], the first 256 rows NaN.
    const key = 'decoder.7.conv.weight';
    const info = checkpoint.tensors.get(key)!.info;
    const raw = await checkpoint.tensors.get(key)!.file.source.read(info.begin, info.end - info.begin);
    const count = raw.byteLength / 2;
    const rows = new Uint16Array(2 * count).fill(0x7e00);
    rows.set(new Uint16Array(raw.buffer, raw.byteOffset, count), count);
    const patchedWeights = await load();
    patchedWeights.get(key)!.release();
    patchedWeights.set(key, ctx.upload(rows, [512, 256, 1, 1], 'f16'));

    const plain = TaehvDecoder.fromTensors(ctx, await load());
    const patched = TaehvDecoder.fromTensors(ctx, patchedWeights);
    // One latent frame of the golden, cropped to 1 × 2.
    const io = await openSafetensors(await fileSource(join(GOLDEN, 'io.safetensors')));
    const all = await readTensor(io, 'latents');
    const [, , C, h, w] = io.tensors.get('latents')!.shape;
    const crop = new Float32Array(C * 2);
    for (let c = 0; c < C; c++) crop.set(all.subarray(c * h * w, c * h * w + 2), c * 2);
    const latents = ctx.upload(crop, [1, C, 1, 2]);
    // Latents whose intermediates could not be bound on this GPU are refused before anything runs.
    const limit = Math.min(ctx.limits.maxStorageBufferBindingSize, ctx.limits.maxBufferSize);
    const hugeWidth = Math.floor(limit / (65536 * 128)) + 1; // the largest intermediate is 65536·h·w bytes per latent frame
    const huge = ctx.zeros([1, C, 128, hugeWidth]);
    const live = ctx.liveTensors;
    await expect(plain.decode(ctx, huge)).rejects.toThrow(new RegExp(`${hugeWidth}×128 latents need \\d+ MiB buffers per latent frame; this GPU binds at most`));
    expect(ctx.liveTensors).toBe(live);
    huge.release();

    const outputs: Float32Array[] = [];
    for (const decoder of [plain, patched]) {
      const frames = await decoder.decode(ctx, latents);
      expect(frames.shape).toEqual([1, 3, 8, 16]);
      outputs.push(await ctx.read(frames));
      frames.release();
      decoder.dispose();
    }
    expect(outputs[1].some(Number.isNaN)).toBe(false);
    expect(Array.from(outputs[1])).toEqual(Array.from(outputs[0]));
    latents.release();
  }, 300_000);

  it('refuses tensors that are not a TAEHV decoder, releasing them', async () => {
    const ctx = await testContext();
    const before = ctx.liveTensors;
    const some = (entries: [string, Tensor][]) => new Map(entries);
    expect(() => TaehvDecoder.fromTensors(ctx, some([['decoder.2.weight', ctx.zeros([4])]]))).toThrow(/no tensor "decoder\.1\.weight"/);
    expect(() => TaehvDecoder.fromTensors(ctx, some([['decoder.1.weight', ctx.zeros([256, 16, 3, 3], 'f16')]]))).toThrow(/no tensor "decoder\.1\.bias"/);
    expect(() =>
      TaehvDecoder.fromTensors(
        ctx,
        some([
          ['decoder.1.weight', ctx.zeros([256, 16, 3, 3], 'f16')],
          ['decoder.1.bias', ctx.zeros([256], 'f16')],
        ]),
      ),
    ).toThrow(/decoder\.1\.bias must be f32, got f16/);
    expect(() =>
      TaehvDecoder.fromTensors(
        ctx,
        some([
          ['decoder.1.weight', ctx.zeros([256, 16, 3, 3], 'f16')],
          ['decoder.1.bias', ctx.zeros([128])],
        ]),
      ),
    ).toThrow(/"decoder\.1\.bias" must have shape \[256\], got \[128\]/);
    expect(() =>
      TaehvDecoder.fromTensors(
        ctx,
        some([
          ['decoder.1.weight', ctx.zeros([256, 48, 3, 3], 'f16')],
          ['decoder.22.weight', ctx.zeros([12, 64, 3, 3], 'f16')],
        ]),
      ),
    ).toThrow(/pixel-shuffled variants/);
    expect(ctx.liveTensors).toBe(before);
  });
});
