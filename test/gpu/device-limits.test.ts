// The device asks for the adapter's own limits (binding size, buffer size, …), never a fixed desktop size.
import { describe, expect, it } from 'vitest';
import { createContext, WebGpuUnavailableError } from '../../src/gpu/device.ts';
import { nodeGpu } from '../../src/gpu/node.ts';

/** A GPU whose adapter reports `limits` and records what the device request asked for. */
async function recordingGpu(scale: (name: string, value: number) => number): Promise<{ gpu: GPU; asked: () => Record<string, number> | undefined }> {
  const real = await nodeGpu();
  const adapter = (await real.requestAdapter())!;
  const limits: Record<string, number> = {};
  for (const name in adapter.limits) limits[name] = scale(name, adapter.limits[name as keyof GPUSupportedLimits] as number);
  let asked: Record<string, number> | undefined;
  const fake = {
    limits,
    features: adapter.features,
    info: adapter.info,
    requestDevice: (d: GPUDeviceDescriptor) => {
      asked = d.requiredLimits as Record<string, number>;
      // The real adapter grants what it has: ask it for no more than its own limits.
      return adapter.requestDevice({ ...d, requiredLimits: Object.fromEntries(Object.entries(asked).map(([k, v]) => [k, Math.min(v, adapter.limits[k as keyof GPUSupportedLimits] as number)])) });
    },
  };
  return { gpu: { requestAdapter: async () => fake } as unknown as GPU, asked: () => asked };
}

describe('device limits', () => {
  it("asks for the adapter's maxStorageBufferBindingSize and maxBufferSize, whatever they are", async () => {
    // An adapter with exactly 200 MiB bindings and 300 MiB buffers (not a power of two, not a desktop size).
    const { gpu, asked } = await recordingGpu((name, v) =>
      name === 'maxStorageBufferBindingSize' ? 200 * 2 ** 20 : name === 'maxBufferSize' ? 300 * 2 ** 20 : v,
    );
    const ctx = await createContext(gpu);
    expect(asked()!.maxStorageBufferBindingSize).toBe(200 * 2 ** 20);
    expect(asked()!.maxBufferSize).toBe(300 * 2 ** 20);
    ctx.destroy();
  });

  it('refuses an adapter that binds less than 128 MiB, with the numbers', async () => {
    const { gpu } = await recordingGpu((name, v) => (name === 'maxStorageBufferBindingSize' ? 64 * 2 ** 20 : v));
    await expect(createContext(gpu)).rejects.toThrow(WebGpuUnavailableError);
    await expect(createContext(gpu)).rejects.toThrow(/maxStorageBufferBindingSize is 67108864, webdit needs 134217728/);
  });
});
