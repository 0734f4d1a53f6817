// What cannot be checked in advance: the device lost mid-generation (forced with device.destroy()) and an
// out-of-memory during allocation (forced by lowering the context's cap). Each rejects the run with a
// clear message, leaves nothing of the run allocated, and the next generation works (on a new device
// after a loss).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNodeContext } from '../../src/gpu/node.ts';
import type { GpuContext } from '../../src/gpu/context.ts';
import { writeTinyModel } from '../helpers/tiny-model.ts';
import { directoryFolder } from '../../src/weights/node-folder.ts';
import { loadBundle, type ModelBundle } from '../../src/pipeline/bundle.ts';
import { GpuLostError, generateVideo } from '../../src/pipeline/generate-video.ts';

let modelDir: string;
const live: GpuContext[] = [];

async function freshBundle(): Promise<{ ctx: GpuContext; bundle: ModelBundle }> {
  const ctx = await createNodeContext();
  live.push(ctx);
  return { ctx, bundle: await loadBundle(ctx, directoryFolder(modelDir)) };
}

beforeAll(() => {
  modelDir = writeTinyModel(3);
});
afterAll(() => {
  for (const ctx of live) if (!ctx.isLost) ctx.destroy();
});

describe('a GPU failure during generation', () => {
  it('device lost at step 2 of 4: a clear rejection, and the next run works on a new device', async () => {
    const { ctx, bundle } = await freshBundle();
    const reference = await generateVideo(ctx, bundle, { prompt: 'a', steps: 4, seed: 5 });
    let destroyedAt = -1;
    const run = generateVideo(ctx, bundle, {
      prompt: 'a',
      steps: 4,
      seed: 5,
      onProgress: (p) => {
        if (p.step === 2 && destroyedAt < 0) {
          destroyedAt = p.step;
          ctx.device.destroy();
        }
      },
    });
    await expect(run).rejects.toThrow(GpuLostError);
    await expect(run).rejects.toThrow(/^generate: the GPU device was lost during the run \(.*\); nothing was kept: generate again/);
    expect(destroyedAt).toBe(2);
    expect(ctx.isLost).toBe(true);
    // The lost device refuses further runs up front, with the same advice.
    await expect(generateVideo(ctx, bundle, { prompt: 'a', steps: 1 })).rejects.toThrow(/lost before this run: generate again/);

    const next = await freshBundle();
    // A bundle from the lost device is refused on the new one (it would bind foreign buffers).
    await expect(generateVideo(next.ctx, bundle, { prompt: 'a', steps: 1 })).rejects.toThrow(/was loaded on another GPU device/);
    const again = await generateVideo(next.ctx, next.bundle, { prompt: 'a', steps: 4, seed: 5 });
    expect(again.frames).toEqual(reference.frames);
    next.bundle.dispose();
  }, 60_000);

  it('out of memory while allocating: a clear rejection, nothing of the run left allocated, and a run after it works', async () => {
    const { ctx, bundle } = await freshBundle();
    const reference = await generateVideo(ctx, bundle, { prompt: 'a', steps: 2, seed: 1 });
    ctx.trimPool();
    const liveTensors = ctx.liveTensors;
    const liveBytes = ctx.liveBytes;
    // Room for the weights and a few activations, not for a whole step.
    ctx.memoryCapBytes = liveBytes + 16 * 1024;
    const run = generateVideo(ctx, bundle, { prompt: 'a', steps: 2, seed: 1 });
    await expect(run).rejects.toThrow(/^generate: out of GPU memory: a \d+-byte buffer on top of \d+ bytes in use exceeds the \d+-byte cap \(4 frames of 8×8\); the run's buffers were freed/);
    expect(ctx.liveTensors).toBe(liveTensors);
    expect(ctx.liveBytes).toBe(liveBytes);
    expect(ctx.pooledBytes).toBe(0);
    expect(ctx.isLost).toBe(false);
    // Caps that run out at other points (inside a block's forward, in the decoder): never a leak.
    for (const extra of [40_000, 80_000, 160_000, 320_000]) {
      ctx.memoryCapBytes = liveBytes + extra;
      const outcome = await generateVideo(ctx, bundle, { prompt: 'a', steps: 2, seed: 1 }).then(() => 'done', (e: Error) => e.name);
      expect(outcome).toMatch(/^(done|GpuOutOfMemoryError)$/);
      ctx.trimPool();
      expect([extra, ctx.liveTensors, ctx.liveBytes]).toEqual([extra, liveTensors, liveBytes]);
    }
    ctx.memoryCapBytes = Infinity;
    const again = await generateVideo(ctx, bundle, { prompt: 'a', steps: 2, seed: 1 });
    expect(again.frames).toEqual(reference.frames);
    bundle.dispose();
  }, 60_000);
});
