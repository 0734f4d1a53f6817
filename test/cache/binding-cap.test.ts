// Issue 19, binding limits with a cache: the cache's indicator reductions (relative L1 of block features,
// on the GPU), its checked f16 feature stores and its conditional copies run in segments under an
// artificial 64 KiB binding cap, and a cached generation of the tiny Wan2.1 folder gives exactly the
// latents (and the same reuse) of the uncapped run, for BWCache, TeaCache and First Block Cache.
// The decoder here passes the latents through: the Wan VAE cannot decode under 64 KiB (a band with its
// halo needs MiB), and decoding is the same computation on the same latents in both runs; the VAE under a
// cap is test/decoder/binding-cap.test.ts, the whole pipeline's frames under a cap test/pipeline/binding-cap.test.ts.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testContext } from '../helpers/gpu.ts';
import type { GpuContext } from '../../src/gpu/context.ts';
import type { Tensor } from '../../src/gpu/tensor.ts';
import type { VideoDecoder } from '../../src/decoder/decoder.ts';
import { directoryFolder } from '../../src/weights/node-folder.ts';
import { loadBundle, type ModelBundle } from '../../src/pipeline/bundle.ts';
import { generateVideo } from '../../src/pipeline/generate-video.ts';

const MODEL = join(__dirname, '../golden/wan_pipeline/model');
const CAP = 64 * 1024;

/** The decoder's input ([T, C, h, w] latents, made by the segmented swapOuter under the cap), copied out as the "frames". */
function passThrough(vae: VideoDecoder): VideoDecoder {
  return {
    temporalScale: vae.temporalScale,
    spatialScale: vae.spatialScale,
    latentChannels: vae.latentChannels,
    async decode(ctx: GpuContext, latents: Tensor) {
      const copy = ctx.empty(latents.shape, 'f32', 'latents as frames');
      ctx.copy(latents, copy);
      return copy;
    },
    dispose() {},
  };
}

describe('cached sampling under a 64 KiB binding cap (tiny Wan2.1 folder)', () => {
  let ctx: GpuContext;
  let bundle: ModelBundle;
  let prompt: Awaited<ReturnType<NonNullable<ModelBundle['promptEncoder']>['encode']>>;
  beforeAll(async () => {
    ctx = await testContext();
    bundle = await loadBundle(ctx, directoryFolder(MODEL));
    prompt = await bundle.promptEncoder!.encode(ctx, 'a red fox jumping over a fence', 'blurry', bundle.textLen);
  });
  afterAll(() => bundle?.dispose());

  // 17 frames of 128×192: 5 latent frames of 16×24 (120 KiB of latents), 480 tokens of width 48 (90 KiB
  // a hidden state: two segments of the indicator's reduction).
  const size = { frames: 17, height: 128, width: 192, steps: 4, guidance: 5, seed: 7 };
  // Residuals are stored by subtract_store; BWCache's features and TeaCache's probe measured and stored
  // by reduce_l1_store; First Block Cache's probe (f16) by the checked cast.
  for (const cache of ['bwcache:threshold=2', 'teacache:threshold=2', 'first-block:threshold=2', 'bwcache:threshold=2,storage=f32']) {
    it(`${cache}: the uncapped latents bit for bit, the same reuse`, async () => {
      const run = { ...bundle, decoder: passThrough(bundle.decoder) };
      const request = { prompt: prompt.prompt, negativePrompt: prompt.negative, ...size, cache };
      const whole = await generateVideo(ctx, run, request);
      const before = { ...ctx.rangeBindings };
      ctx.setBindingLimit(CAP);
      let split: Awaited<ReturnType<typeof generateVideo>>;
      try {
        split = await generateVideo(ctx, run, request);
      } finally {
        ctx.setBindingLimit(undefined);
      }
      const grew = (shader: string) => (ctx.rangeBindings[shader] ?? 0) - (before[shader] ?? 0);
      const stores = ['subtract_store', cache.startsWith('first-block') ? 'cast_f16_checked' : 'reduce_l1_store'];
      for (const shader of ['reduce_l1', ...stores, 'patchify', 'unpatchify', 'swap_outer']) expect(grew(shader), `${shader} in segments`).toBeGreaterThan(0);
      expect(whole.stats.computedFraction, 'some blocks reused').toBeLessThan(1);
      // The same decisions; the indicator's sums, added in another order, agree to float32 rounding.
      expect(split.stats.computedFraction).toBe(whole.stats.computedFraction);
      for (const [branch, stats] of Object.entries(whole.stats.branches)) {
        const got = split.stats.branches[branch as keyof typeof whole.stats.branches]!;
        expect(got.computed, branch).toEqual(stats.computed);
        const values = (b: typeof stats) => [...b.indicator, ...b.blockIndicator.flat()];
        const [want, have] = [values(stats), values(got)];
        expect(have.map((v) => v === null), branch).toEqual(want.map((v) => v === null));
        want.forEach((v, i) => v !== null && expect(Math.abs(have[i]! - v), `${branch} indicator ${i}`).toBeLessThanOrEqual(1e-6 * Math.abs(v)));
        expect(want.some((v) => v !== null && v > 0), `${branch} measured`).toBe(true);
      }
      expect(whole.frames.some(Number.isNaN)).toBe(false);
      expect(split.frames.length).toBe(16 * 5 * 16 * 24);
      expect(new Uint32Array(split.frames.buffer, split.frames.byteOffset, split.frames.length)).toEqual(
        new Uint32Array(whole.frames.buffer, whole.frames.byteOffset, whole.frames.length),
      );
    }, 60_000);
  }
});
