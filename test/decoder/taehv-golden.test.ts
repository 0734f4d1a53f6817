// TAEHV's decoder against the upstream taehv.py `decode_video` output (test/golden/taehv/decoder).
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { testContext } from '../helpers/gpu.ts';
import { relativeError } from '../helpers/reference.ts';
import { fileSource } from '../../src/weights/node-source.ts';
import { openSafetensors, readTensor } from '../../src/weights/safetensors.ts';
import { TaehvDecoder } from '../../src/decoder/taehv.ts';

const GOLDEN = join(__dirname, '../golden/taehv/decoder');

async function golden(): Promise<{ latents: Float32Array; latentShape: number[]; frames: Float32Array; frameShape: number[] }> {
  const io = await openSafetensors(await fileSource(join(GOLDEN, 'io.safetensors')));
  const [, T, C, h, w] = io.tensors.get('latents')!.shape;
  const [, F, , H, W] = io.tensors.get('frames')!.shape;
  return { latents: await readTensor(io, 'latents'), latentShape: [T, C, h, w], frames: await readTensor(io, 'frames'), frameShape: [F, 3, H, W] };
}

describe('TAEHV decoder matches upstream taehv.py', () => {
  it('decodes the golden latents to the golden frames (relative error ≤ 1e-3) and releases every intermediate', async () => {
    const ctx = await testContext();
    const g = await golden();
    const [T, , h, w] = g.latentShape;
    expect(g.frameShape).toEqual([4 * T - 3, 3, 8 * h, 8 * w]);

    const before = ctx.liveTensors;
    const decoder = await TaehvDecoder.load(ctx, await fileSource(join(GOLDEN, 'taew2_1.safetensors')));
    expect([decoder.temporalScale, decoder.spatialScale, decoder.latentChannels]).toEqual([4, 8, 16]);
    expect(decoder.chunkFramesFor(ctx, h, w)).toBeGreaterThanOrEqual(T);
    const latents = ctx.upload(g.latents, g.latentShape);
    const baseline = ctx.liveTensors;

    const frames = await decoder.decode(ctx, latents);
    expect(frames.shape).toEqual(g.frameShape);
    // Every intermediate is released: only the returned frames stay.
    expect(ctx.liveTensors).toBe(baseline + 1);
    const out = await ctx.read(frames);
    frames.release();
    expect(out.some(Number.isNaN)).toBe(false);
    const whole = relativeError(out, g.frames);
    expect(whole).toBeLessThan(1e-3);

    decoder.dispose();
    latents.release();
    expect(ctx.liveTensors).toBe(before);
    console.log(`TAEHV golden: relative error ${whole.toExponential(2)}`);
  }, 300_000);

  it('gives the same frames one latent frame at a time (block memories carried between chunks)', async () => {
    const ctx = await testContext();
    const g = await golden();
    // A 2 × 3 crop of the golden latents keeps this quick; chunking does not depend on the image size.
    const [T, C, h, w] = g.latentShape;
    const [ch, cw] = [2, 3];
    const crop = new Float32Array(T * C * ch * cw);
    for (let t = 0; t < T * C; t++) for (let y = 0; y < ch; y++) for (let x = 0; x < cw; x++) crop[(t * ch + y) * cw + x] = g.latents[(t * h + y) * w + x];
    const latents = ctx.upload(crop, [T, C, ch, cw]);
    const decoder = await TaehvDecoder.load(ctx, await fileSource(join(GOLDEN, 'taew2_1.safetensors')));
    const outputs: Float32Array[] = [];
    for (const chunkFrames of [T, 1]) {
      const baseline = ctx.liveTensors;
      const frames = await decoder.decode(ctx, latents, { chunkFrames });
      expect(frames.shape).toEqual([4 * T - 3, 3, 8 * ch, 8 * cw]);
      expect(ctx.liveTensors).toBe(baseline + 1);
      outputs.push(await ctx.read(frames));
      frames.release();
    }

    // An abort between chunks rejects and leaves nothing behind.
    const baseline = ctx.liveTensors;
    const controller = new AbortController();
    const pending = decoder.decode(ctx, latents, { chunkFrames: 1, signal: controller.signal });
    controller.abort(new Error('stopped by the test'));
    await expect(pending).rejects.toThrow('stopped by the test');
    expect(ctx.liveTensors).toBe(baseline);

    // Bad inputs are refused before anything runs.
    const wrongChannels = ctx.zeros([T, 4, ch, cw]);
    await expect(decoder.decode(ctx, wrongChannels)).rejects.toThrow(/latents must be \[T ≥ 1, 16, h, w\], got \[3, 4, 2, 3\]/);
    await expect(decoder.decode(ctx, latents, { chunkFrames: 0 })).rejects.toThrow(/chunkFrames must be a positive integer/);
    wrongChannels.release();
    expect(ctx.liveTensors).toBe(baseline);
    decoder.dispose();
    await expect(decoder.decode(ctx, latents)).rejects.toThrow(/after dispose/);
    expect(outputs[0].some(Number.isNaN)).toBe(false);
    expect(relativeError(outputs[1], outputs[0])).toBeLessThan(1e-6);
    latents.release();
  }, 300_000);
});
