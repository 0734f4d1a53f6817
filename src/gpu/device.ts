// Getting a device: from navigator.gpu in the browser, or from a GPU object the Node entry point
// supplies (src/gpu/node.ts). Asks for the adapter's own limits and the optional features it has.

import { GpuContext, type ContextOptions } from './context.ts';
import type { SubgroupMatrixConfig } from './features.ts';

/** Optional features webdit uses when the adapter has them. */
export const OPTIONAL_FEATURES = ['shader-f16', 'subgroups', 'timestamp-query', 'chromium-experimental-subgroup-matrix'] as const;

/** Limits raised to what the adapter supports (the defaults are far below a real GPU's). */
const RAISED_LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
] as const;

/** The least an adapter must offer to run webdit's kernels. */
export const MINIMUM_LIMITS = {
  maxComputeWorkgroupStorageSize: 16384,
  maxComputeInvocationsPerWorkgroup: 256,
  maxStorageBuffersPerShaderStage: 8,
  maxStorageBufferBindingSize: 128 * 1024 * 1024,
} as const;

export class WebGpuUnavailableError extends Error {
  override name = 'WebGpuUnavailableError';
}

export interface RequestOptions extends ContextOptions {
  powerPreference?: GPUPowerPreference;
}

export async function createContext(gpu: GPU | undefined, options: RequestOptions = {}): Promise<GpuContext> {
  if (!gpu) {
    throw new WebGpuUnavailableError(
      'WebGPU is not available here. Use a recent Chrome or Edge (WebGPU is on by default), Safari 26+, or Firefox 141+ on Windows; ' +
        'on Linux Chrome may need chrome://flags/#enable-unsafe-webgpu.',
    );
  }
  const adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' });
  if (!adapter) {
    throw new WebGpuUnavailableError('WebGPU is present but no GPU adapter was found (is hardware acceleration disabled?).');
  }
  for (const [name, need] of Object.entries(MINIMUM_LIMITS)) {
    const have = adapter.limits[name as keyof typeof MINIMUM_LIMITS];
    if (have < need) throw new WebGpuUnavailableError(`this GPU adapter is too small: ${name} is ${have}, webdit needs ${need}`);
  }
  const requiredLimits: Record<string, number> = {};
  for (const name of RAISED_LIMITS) requiredLimits[name] = adapter.limits[name];
  const requiredFeatures = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f)) as GPUFeatureName[];
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures, label: 'webdit' });
  const info = adapter.info ?? { vendor: '', architecture: '', device: '', description: '' };
  // Dawn's extras: plain copies, so the context holds no live adapter object.
  const dawnInfo = info as GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number; subgroupMatrixConfigs?: Iterable<SubgroupMatrixConfig> };
  const subgroupMatrixConfigs = [...(dawnInfo.subgroupMatrixConfigs ?? [])].map((c) => ({
    componentType: c.componentType,
    resultComponentType: c.resultComponentType,
    M: c.M,
    N: c.N,
    K: c.K,
  }));
  return new GpuContext(
    device,
    {
      vendor: info.vendor,
      architecture: info.architecture,
      device: info.device,
      description: info.description,
      subgroupMinSize: dawnInfo.subgroupMinSize,
      subgroupMaxSize: dawnInfo.subgroupMaxSize,
      subgroupMatrixConfigs,
    },
    options,
  );
}

/** The browser's context: navigator.gpu. */
export function createBrowserContext(options: RequestOptions = {}): Promise<GpuContext> {
  const gpu = typeof navigator !== 'undefined' ? navigator.gpu : undefined;
  return createContext(gpu, options);
}
