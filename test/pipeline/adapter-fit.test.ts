// Issue 19, a too-small adapter: a Wan2.1 request is held against simulated adapter limits and a memory
// budget before any weight is read; the refusal names what is short, by how much, and the largest preset
// that fits; the same context then loads and generates normally.
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { testContext } from '../helpers/gpu.ts';
import type { GpuContext } from '../../src/gpu/context.ts';
import { MINIMUM_LIMITS } from '../../src/gpu/device.ts';
import type { ModelFolder } from '../../src/weights/folder.ts';
import { directoryFolder } from '../../src/weights/node-folder.ts';
import { PRESETS, WAN21_FOLDER_CONFIGS, planGeneration, readWanFolderConfigs } from '../../src/pipeline/memory-plan.ts';
import { AdapterTooSmallError, adapterShortfalls, checkAdapterFits, largestPresetForAdapter, type AdapterLimits } from '../../src/pipeline/adapter-fit.ts';
import { loadBundle } from '../../src/pipeline/bundle.ts';
import { generateVideo } from '../../src/pipeline/generate-video.ts';
import { main } from '../../src/cli/main.ts';

const MODEL = join(__dirname, '../golden/wan_pipeline/model');
const GiB = 2 ** 30;
const WAN = WAN21_FOLDER_CONFIGS['1.3b'];
/** A desktop-class adapter: 2 GiB bindings, 4 GiB buffers. */
const DESKTOP: AdapterLimits = { ...MINIMUM_LIMITS, maxStorageBufferBindingSize: 2 * GiB, maxBufferSize: 4 * GiB };

describe('adapterShortfalls / checkAdapterFits (Wan2.1-1.3B, simulated limits)', () => {
  const at480p = PRESETS[0];

  it('a desktop adapter with 16 GB runs 480p×81; with 8 GB it is refused by the memory budget, naming the stage and preset', () => {
    expect(checkAdapterFits(WAN, at480p, { limits: DESKTOP, memoryBytes: 0.9 * 16 * GiB }).peakGpuBytes).toBeLessThan(0.9 * 16 * GiB);
    const plan = planGeneration(WAN, at480p, { maxBindingBytes: DESKTOP.maxStorageBufferBindingSize });
    const budget = 0.9 * 8 * GiB;
    const short = ((plan.peakGpuBytes - budget) / GiB).toFixed(2);
    const fitting = largestPresetForAdapter(WAN, { limits: DESKTOP, memoryBytes: budget })!;
    expect(fitting).toBeDefined();
    expect(planGeneration(WAN, fitting, { maxBindingBytes: 2 * GiB }).peakGpuBytes).toBeLessThanOrEqual(budget);
    expect(() => checkAdapterFits(WAN, at480p, { limits: DESKTOP, memoryBytes: budget })).toThrow(
      new RegExp(`^this GPU adapter cannot run 832×480×81: GPU memory budget is 7\\.20 GiB, the decode stage needs [\\d.]+ GiB \\(${short} GiB short\\)\\. The largest preset that fits is ${fitting.name} \\(`),
    );
  });

  it("a buffer over maxBufferSize is refused with its size, what it holds and the shortfall; one over the binding limit is not (it is split)", () => {
    const plan = planGeneration(WAN, at480p, { maxBindingBytes: 2 * GiB });
    const ffn = plan.largestBuffers.sample;
    expect(ffn.what).toMatch(/FFN hidden layer/);
    const limits = { ...DESKTOP, maxStorageBufferBindingSize: GiB, maxBufferSize: ffn.bytes - 2 ** 20 }; // the FFN's 1.25 GiB: over the binding limit
    const { shortfalls } = adapterShortfalls(WAN, at480p, { limits });
    expect(shortfalls.map((s) => s.limit)).toEqual(['maxBufferSize']);
    expect(shortfalls[0].need - shortfalls[0].have).toBe(2 ** 20);
    expect(() => checkAdapterFits(WAN, at480p, { limits })).toThrow(/maxBufferSize is [\d.]+ GiB, the transformer's largest activation \(the FFN hidden layer\) \(sample stage\) needs [\d.]+ GiB \(1\.0 MiB short\)/);
    // 128 MiB bindings (WebGPU's default): the VAE decodes every preset in 2-D tiles that fit them.
    const bindings = { ...DESKTOP, maxStorageBufferBindingSize: 128 * 2 ** 20 };
    for (const preset of PRESETS) expect(adapterShortfalls(WAN, preset, { limits: bindings }).shortfalls, preset.name).toEqual([]);
    expect(largestPresetForAdapter(WAN, { limits: bindings })).toBe(PRESETS[0]);
    // Buffers of 32 MiB: not even one latent pixel with its halos (34.2 MiB) fits a VAE tile.
    const tiny = adapterShortfalls(WAN, at480p, { limits: { ...DESKTOP, maxBufferSize: 32 * 2 ** 20 } }).shortfalls;
    expect(tiny.find((f) => f.what.startsWith('Wan VAE:'))?.what).toMatch(/a tile of 1 latent pixel with its 13-pixel halo on each cut side needs 34\.2 MiB in one tensor, more than this GPU's binding limit of 32\.0 MiB/);
  });

  it("kernel limits under webdit's minimum: named with both numbers, and no preset is offered", () => {
    const limits = { ...DESKTOP, maxComputeWorkgroupStorageSize: 8192, maxStorageBuffersPerShaderStage: 4 };
    let error: unknown;
    try {
      checkAdapterFits(WAN, PRESETS[4], { limits });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AdapterTooSmallError);
    const refusal = error as AdapterTooSmallError;
    expect(refusal.shortfalls.map((s) => [s.limit, s.have, s.need])).toEqual([
      ['maxComputeWorkgroupStorageSize', 8192, 16384],
      ['maxStorageBuffersPerShaderStage', 4, 8],
    ]);
    expect(refusal.message).toMatch(/maxComputeWorkgroupStorageSize is 8192 bytes, webdit's kernels needs 16384 bytes \(8192 bytes short\); maxStorageBuffersPerShaderStage is 4, webdit's kernels needs 8 \(4 short\)\. No size runs on it/);
    expect(refusal.largestFittingPreset).toBeUndefined();
  });
});

/** The folder, counting the bytes read from its files. */
function countingFolder(folder: ModelFolder): { folder: ModelFolder; bytesRead: () => number } {
  let read = 0;
  return {
    folder: {
      name: folder.name,
      readText: (path) => folder.readText(path),
      open: async (path) => {
        const source = await folder.open(path);
        if (!source) return source;
        return { name: source.name, size: source.size, read: async (offset, length, signal) => ((read += length), source.read(offset, length, signal)) };
      },
    },
    bytesRead: () => read,
  };
}

/** The test context, reporting other limits (loadBundle reads nothing else of it before the check). */
function withLimits(ctx: GpuContext, limits: Partial<AdapterLimits>): GpuContext {
  // GPUSupportedLimits keeps its values in getters, which a spread would not copy.
  const reported = (target: GpuContext) => new Proxy(target.limits, { get: (l, key) => (key in limits ? limits[key as keyof AdapterLimits] : (l as unknown as Record<PropertyKey, unknown>)[key]) });
  return new Proxy(ctx, { get: (target, key) => (key === 'limits' ? reported(target) : Reflect.get(target, key, target)) });
}

describe('loadBundle with a size to fit (tiny Wan2.1 folder)', () => {
  it('refuses before reading weights when the adapter is too small, then loads and generates on the same context', async () => {
    const ctx = await testContext();
    const configs = await readWanFolderConfigs(directoryFolder(MODEL));
    const video = { frames: 9, height: 48, width: 32 };
    const plan = planGeneration(configs, video, { maxBindingBytes: ctx.limits.maxStorageBufferBindingSize });
    const largest = Math.max(...Object.values(plan.largestBuffers).map((b) => b.bytes));
    const counted = countingFolder(directoryFolder(MODEL));
    const live = ctx.liveTensors;
    await expect(loadBundle(withLimits(ctx, { maxBufferSize: largest - 4 }), counted.folder, { fit: { video } })).rejects.toThrow(
      /^this GPU adapter cannot run 32×48×9: maxBufferSize is [\d.]+ (MiB|bytes), .* \(\w+ stage\) needs [\d.]+ (MiB|bytes) \(4 bytes short\)\. No preset fits it, not even the smallest\.$/,
    );
    const memoryBytes = plan.peakGpuBytes - 1;
    await expect(loadBundle(ctx, counted.folder, { fit: { video, memoryBytes } })).rejects.toThrow(/GPU memory budget is [\d.]+ MiB, the \w+ stage needs [\d.]+ MiB \(1 bytes short\)/);
    // Only JSON and safetensors headers were read: the folder's weights are 1.7 MB.
    expect(counted.bytesRead()).toBeLessThan(64 * 1024);
    expect(ctx.liveTensors, 'nothing allocated').toBe(live);
    // The same context afterwards: a size that fits loads and runs.
    const bundle = await loadBundle(ctx, counted.folder, { fit: { video, memoryBytes: plan.peakGpuBytes } });
    try {
      const result = await generateVideo(ctx, bundle, { prompt: 'a boat', ...video, steps: 1 });
      expect(result.frames.some(Number.isNaN)).toBe(false);
      expect(result.stagePeakGpuBytes.sample).toBeLessThanOrEqual(plan.peakGpuBytes);
    } finally {
      bundle.dispose();
    }
  }, 60_000);

  it('webdit generate --memory-gib: the same refusal from the command line, exit 1, before loading', async () => {
    const errors: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((m: string) => void errors.push(m));
    try {
      const code = await main(['generate', '--model', MODEL, '--prompt', 'a boat', '--frames', '9', '--height', '48', '--width', '32', '--memory-gib', '0.0001', '--out', '/tmp/never-written.safetensors']);
      expect(code).toBe(1);
    } finally {
      vi.restoreAllMocks();
    }
    expect(errors.join('\n')).toMatch(/^webdit generate: this GPU adapter cannot run 32×48×9: GPU memory budget is 0\.1 MiB, the \w+ stage \(even with the transformer's weights released for decoding\) needs [\d.]+ MiB \([\d.]+ MiB short\)\. No preset fits it, not even the smallest\./);
  });
});
