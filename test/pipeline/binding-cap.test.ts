// Issue 19, binding limits, end to end: a whole generation of the tiny random model (text encoder →
// transformer with CFG → UniPC → decoder), and of the tiny Wan2.1 folder (umT5 → transformer with CFG →
// UniPC → Wan VAE), under an artificial binding cap gives exactly the frames of the uncapped run. Cached
// runs under a cap: test/cache/binding-cap.test.ts.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { testContext } from '../helpers/gpu.ts';
import { writeTinyModel } from '../helpers/tiny-model.ts';
import { directoryFolder } from '../../src/weights/node-folder.ts';
import { loadBundle, type ModelBundle } from '../../src/pipeline/bundle.ts';
import { generateVideo, type GenerateRequest, type VideoResult } from '../../src/pipeline/generate-video.ts';
import type { GpuContext } from '../../src/gpu/context.ts';

/** The request's frames uncapped, then under `cap`, and which shaders bound sub-ranges under the cap. */
async function uncappedAndCapped(ctx: GpuContext, bundle: ModelBundle, request: GenerateRequest, cap: number) {
  const whole = await generateVideo(ctx, bundle, request);
  const before = { ...ctx.rangeBindings };
  ctx.setBindingLimit(cap);
  let split: VideoResult;
  try {
    split = await generateVideo(ctx, bundle, request);
  } finally {
    ctx.setBindingLimit(undefined);
  }
  const grew = (shader: string) => (ctx.rangeBindings[shader] ?? 0) - (before[shader] ?? 0);
  const bits = (r: VideoResult) => new Uint32Array(r.frames.buffer, r.frames.byteOffset, r.frames.length);
  expect(whole.frames.some(Number.isNaN)).toBe(false);
  expect(split.shape).toEqual(whole.shape);
  expect(bits(split)).toEqual(bits(whole));
  return { grew, splitShaders: Object.keys(ctx.rangeBindings).filter((k) => grew(k) > 0) };
}

describe('generation under an artificial binding cap', () => {
  it('tiny model, 4 frames of 24×24 (576 tokens), 32 KiB cap: the uncapped frames bit for bit', async () => {
    const ctx = await testContext();
    const bundle = await loadBundle(ctx, directoryFolder(writeTinyModel(3)));
    const request = { prompt: 'a red circle moving left', frames: 4, height: 24, width: 24, steps: 2, guidance: 4, seed: 3, cache: 'none' };
    const { grew, splitShaders } = await uncappedAndCapped(ctx, bundle, request, 32768);
    console.log(`sub-range bindings under 32 KiB: ${JSON.stringify(Object.fromEntries(splitShaders.map((k) => [k, grew(k)])))}`);
    // Tokens [576, 24] and the FFN's [576, 48] split along tokens; keys [576, 24] by heads.
    for (const shader of ['matmul', 'layer_norm_rows', 'copy_columns']) expect(grew(shader), shader).toBeGreaterThan(0);
    bundle.dispose();
  }, 120_000);

  it('the tiny Wan2.1 folder, prompt to frames (umT5, CFG, Wan VAE), 64 KiB cap: the uncapped frames bit for bit', async () => {
    const ctx = await testContext();
    const bundle = await loadBundle(ctx, directoryFolder(join(__dirname, '../golden/wan_pipeline/model')));
    const request = { prompt: 'a small red fox runs through the snow', frames: 5, height: 32, width: 48, steps: 2, guidance: 5, seed: 1 };
    const { splitShaders } = await uncappedAndCapped(ctx, bundle, request, 65536);
    // The transformer's tokens and umT5's rows went in segments (the tiny VAE's pieces fit whole).
    for (const shader of ['matmul', 'rms_norm_rows', 'copy_columns']) expect(splitShaders, shader).toContain(shader);
    bundle.dispose();
  }, 120_000);
});
