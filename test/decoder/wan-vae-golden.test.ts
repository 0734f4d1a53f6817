// The Wan VAE decoder against wan/modules/vae.py's WanVAE decode (test/golden/vae, tools/golden/vae_golden.py).
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { testContext } from '../helpers/gpu.ts';
import { relativeError } from '../helpers/reference.ts';
import { fileSource } from '../../src/weights/node-source.ts';
import { directoryFolder } from '../../src/weights/node-folder.ts';
import { loadWanVaeFile, loadWanVaeFolder } from '../../src/decoder/wan-vae-load.ts';
import type { WanVaeDecoder } from '../../src/decoder/wan-vae.ts';
import { planWanVaeDecode } from '../../src/decoder/wan-vae-plan.ts';
import { GOLDEN, vaeGolden } from '../helpers/wan-vae-golden.ts';

async function decodeGolden(decoder: WanVaeDecoder, name: string, maxBindingBytes?: number, carriedF16 = false): Promise<{ error: number; out: Float32Array }> {
  const ctx = await testContext();
  const g = await vaeGolden(name);
  const latents = ctx.upload(g.latents, g.latentShape);
  const baseline = ctx.liveTensors;
  const baseBytes = ctx.liveBytes;
  ctx.resetPeakBytes();
  const frames = await decoder.decode(ctx, latents, { maxBindingBytes, carriedF16 });
  // The plan (without weights and latents) bounds the decode's peak of live GPU bytes, and not loosely.
  const [T, , h, w] = latents.shape;
  const plan = planWanVaeDecode(decoder.config, T, h, w, maxBindingBytes ?? ctx.limits.maxStorageBufferBindingSize, 4, carriedF16 ? 2 : 4);
  const planned = plan.peakBytes - plan.weightBytes;
  const measured = ctx.peakLiveBytes - baseBytes;
  console.log(`${name}${carriedF16 ? ' (f16 carried)' : ''}: peak ${measured} bytes measured, ${planned} planned`);
  expect(measured).toBeLessThanOrEqual(planned);
  expect(measured).toBeGreaterThan(0.5 * planned);
  expect(frames.shape).toEqual(g.frameShape);
  // Every intermediate and carried frame is released: only the returned frames stay.
  expect(ctx.liveTensors).toBe(baseline + 1);
  const out = await ctx.read(frames);
  frames.release();
  latents.release();
  // The error is measured on upstream's scale, [−1, 1].
  return { error: relativeError(out.map((v) => 2 * v - 1), g.frames.map((v) => 2 * v - 1)), out };
}

describe('Wan VAE decoder matches wan/modules/vae.py', () => {
  it('tiny (3 latent frames → 9, 3×5 → 24×40), original key names: relative error ≤ 1e-4', async () => {
    const ctx = await testContext();
    const before = ctx.liveTensors;
    const decoder = await loadWanVaeFile(ctx, await fileSource(join(GOLDEN, 'tiny', 'wan_2.1_vae.safetensors')));
    expect([decoder.temporalScale, decoder.spatialScale, decoder.latentChannels, decoder.config.baseDim]).toEqual([4, 8, 16, 8]);
    const { error } = await decodeGolden(decoder, 'tiny');
    console.log(`Wan VAE golden tiny (original keys): relative error ${error.toExponential(2)}`);
    expect(error).toBeLessThan(1e-4);
    // Carried frames in f16: the rounding of the frames each causal conv reads from the previous chunk.
    const half = await decodeGolden(decoder, 'tiny', undefined, true);
    console.log(`Wan VAE golden tiny with f16 carried frames: relative error ${half.error.toExponential(2)}`);
    expect(half.error).toBeGreaterThan(error);
    expect(half.error).toBeLessThan(1e-3);
    decoder.dispose();
    expect(ctx.liveTensors).toBe(before);
  }, 120_000);

  it('tiny_tall (4 latent frames → 13, 5×3 → 40×24), diffusers folder: relative error ≤ 1e-4', async () => {
    const ctx = await testContext();
    const decoder = await loadWanVaeFolder(ctx, directoryFolder(join(GOLDEN, 'tiny_tall')));
    expect(decoder.config.baseDim).toBe(4);
    const { error } = await decodeGolden(decoder, 'tiny_tall');
    console.log(`Wan VAE golden tiny_tall (diffusers folder): relative error ${error.toExponential(2)}`);
    expect(error).toBeLessThan(1e-4);
    decoder.dispose();
  }, 120_000);
});
