// Issue 19, binding limits, end to end: a whole generation of the tiny random model (text encoder →
// transformer with CFG → UniPC → decoder) under an artificial binding cap gives exactly the frames of the
// uncapped run. Cached runs under a cap: test/cache/binding-cap.test.ts.
import { describe, expect, it } from 'vitest';
import { testContext } from '../helpers/gpu.ts';
import { writeTinyModel } from '../helpers/tiny-model.ts';
import { directoryFolder } from '../../src/weights/node-folder.ts';
import { loadBundle } from '../../src/pipeline/bundle.ts';
import { generateVideo } from '../../src/pipeline/generate-video.ts';

describe('generation under an artificial binding cap', () => {
  it('tiny model, 4 frames of 24×24 (576 tokens), 32 KiB cap: the uncapped frames bit for bit', async () => {
    const ctx = await testContext();
    const bundle = await loadBundle(ctx, directoryFolder(writeTinyModel(3)));
    const request = { prompt: 'a red circle moving left', frames: 4, height: 24, width: 24, steps: 2, guidance: 4, seed: 3, cache: 'none' };
    const whole = await generateVideo(ctx, bundle, request);
    const before = { ...ctx.rangeBindings };
    ctx.setBindingLimit(32768);
    let split: Awaited<ReturnType<typeof generateVideo>>;
    try {
      split = await generateVideo(ctx, bundle, request);
    } finally {
      ctx.setBindingLimit(undefined);
    }
    const grew = (shader: string) => (ctx.rangeBindings[shader] ?? 0) - (before[shader] ?? 0);
    console.log(`sub-range bindings under 32 KiB: ${JSON.stringify(Object.fromEntries(Object.keys(ctx.rangeBindings).map((k) => [k, grew(k)])))}`);
    // Tokens [576, 24] and the FFN's [576, 48] split along tokens; keys [576, 24] by heads.
    for (const shader of ['matmul', 'layer_norm_rows', 'copy_columns']) expect(grew(shader), shader).toBeGreaterThan(0);
    expect(split.shape).toEqual(whole.shape);
    expect(whole.frames.some(Number.isNaN)).toBe(false);
    expect(new Uint32Array(split.frames.buffer, split.frames.byteOffset, split.frames.length)).toEqual(
      new Uint32Array(whole.frames.buffer, whole.frames.byteOffset, whole.frames.length),
    );
    bundle.dispose();
  }, 120_000);
});
