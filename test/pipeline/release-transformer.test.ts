// Issue 19, peak memory: decoding does not need the transformer's weights. With releaseTransformer they
// are freed after sampling (the decode stage's peak drops by exactly their bytes, the frames are the
// same bits) and read again by the next generation; the plan says the same before anything runs.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { testContext } from '../helpers/gpu.ts';
import { bucketBytes } from '../../src/gpu/context.ts';
import { directoryFolder } from '../../src/weights/node-folder.ts';
import { loadBundle } from '../../src/pipeline/bundle.ts';
import { generateVideo } from '../../src/pipeline/generate-video.ts';
import { planGeneration, readWanFolderConfigs } from '../../src/pipeline/memory-plan.ts';

const MODEL = join(__dirname, '../golden/wan_pipeline/model');
const bits = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);

describe('releaseTransformer (tiny Wan2.1 folder)', () => {
  it('frees the weights for decoding, same frames, reloaded by the next run; the plan agrees', async () => {
    const ctx = await testContext();
    const bundle = await loadBundle(ctx, directoryFolder(MODEL));
    try {
      const request = { prompt: 'a kite over the sea', frames: 9, height: 48, width: 32, steps: 1, seed: 5 };
      const weightBytes = [...bundle.model.weights.values()].reduce((sum, t) => sum + bucketBytes(t.byteLength), 0);
      // What the GPU holds when decoding starts, pooled buffers included (a pooled buffer is still allocated).
      let heldAtDecode = 0;
      const onStage = (s: { stage: string }) => {
        if (s.stage === 'decode') heldAtDecode = ctx.liveBytes + ctx.pooledBytes;
      };
      const kept = await generateVideo(ctx, bundle, { ...request, onStage });
      const keptHeld = heldAtDecode;
      expect(bundle.model.weightsResident).toBe(true);
      const released = await generateVideo(ctx, bundle, { ...request, releaseTransformer: true, onStage });
      expect(bundle.model.weightsResident).toBe(false);
      expect(keptHeld - heldAtDecode).toBeGreaterThanOrEqual(weightBytes);
      expect(bits(released.frames)).toEqual(bits(kept.frames));
      expect(kept.stagePeakGpuBytes.decode - released.stagePeakGpuBytes.decode).toBe(weightBytes);
      expect(released.stagePeakGpuBytes.sample).toBe(kept.stagePeakGpuBytes.sample);
      // The next run reads them again before sampling.
      const again = await generateVideo(ctx, bundle, request);
      expect(bundle.model.weightsResident).toBe(true);
      expect(bits(again.frames)).toEqual(bits(kept.frames));

      const configs = await readWanFolderConfigs(directoryFolder(MODEL));
      const tokens = { promptTokens: bundle.promptEncoder!.tokenizer.encode(request.prompt).length };
      const keepPlan = planGeneration(configs, request, tokens);
      const releasePlan = planGeneration(configs, request, { ...tokens, releaseTransformer: true });
      expect(keepPlan.stages.decode.gpuBytes - releasePlan.stages.decode.gpuBytes).toBe(weightBytes);
      expect(released.stagePeakGpuBytes.decode).toBeLessThanOrEqual(releasePlan.stages.decode.gpuBytes);
      expect(releasePlan.stages.sample).toEqual(keepPlan.stages.sample);
    } finally {
      bundle.dispose();
    }
  }, 60_000);

  it("loadBundle's fit 'auto' releases them only where the budget needs it, and refuses where neither fits", async () => {
    const ctx = await testContext();
    const video = { frames: 9, height: 48, width: 32 };
    const configs = await readWanFolderConfigs(directoryFolder(MODEL));
    const [keep, release] = [false, true].map((r) => planGeneration(configs, video, { releaseTransformer: r, maxBindingBytes: ctx.limits.maxStorageBufferBindingSize }));
    expect(keep.peakGpuBytes, 'decoding is the largest stage here').toBe(keep.stages.decode.gpuBytes);
    expect(release.peakGpuBytes).toBeLessThan(keep.peakGpuBytes);
    const folder = directoryFolder(MODEL);
    const roomy = await loadBundle(ctx, folder, { fit: { video, memoryBytes: keep.peakGpuBytes, releaseTransformer: 'auto' } });
    expect(roomy.releaseTransformer).toBe(false);
    roomy.dispose();
    const tight = await loadBundle(ctx, folder, { fit: { video, memoryBytes: release.peakGpuBytes, releaseTransformer: 'auto' } });
    try {
      expect(tight.releaseTransformer).toBe(true);
      const result = await generateVideo(ctx, tight, { prompt: 'a kite', ...video, steps: 1 });
      expect(tight.model.weightsResident).toBe(false);
      expect(result.peakGpuBytes).toBeLessThanOrEqual(release.peakGpuBytes);
    } finally {
      tight.dispose();
    }
    await expect(loadBundle(ctx, folder, { fit: { video, memoryBytes: release.peakGpuBytes - 1, releaseTransformer: 'auto' } })).rejects.toThrow(/GPU memory budget is [\d.]+ MiB, the \w+ stage \(even with the transformer's weights released for decoding\) needs [\d.]+ MiB \(1 bytes short\)/);
  }, 60_000);

  it('is refused for a bundle that cannot read its weights again', async () => {
    const ctx = await testContext();
    const bundle = await loadBundle(ctx, directoryFolder(MODEL));
    try {
      const fixed = { ...bundle, reloadTransformerWeights: undefined };
      await expect(generateVideo(ctx, fixed, { prompt: 'x', frames: 1, height: 16, width: 16, steps: 1, releaseTransformer: true })).rejects.toThrow(
        /releaseTransformer needs a bundle that can read its weights again/,
      );
      await expect(generateVideo(ctx, bundle, { prompt: 'x', frames: 1, height: 16, width: 16, steps: 1, releaseTransformer: 'yes' as unknown as boolean })).rejects.toThrow(
        /releaseTransformer must be true or false/,
      );
    } finally {
      bundle.dispose();
    }
  });
});
