// Which kernel paths an adapter gets, as a pure function of its features, limits and info, so the
// choice is unit-tested on fake adapters (an H100 with and without Dawn's toggles, Apple, SwiftShader)
// without the GPU. Kernel wrappers ask `kernelPaths(ctx)`; none decides on its own.

import type { GpuContext } from './context.ts';

/** One entry of Dawn's `adapter.info.subgroupMatrixConfigs`: an M×K by K×N product into M×N. */
export interface SubgroupMatrixConfig {
  componentType: string;
  resultComponentType: string;
  M: number;
  N: number;
  K: number;
}

/** What the choice depends on: plain data, so a test can write one by hand. */
export interface AdapterCapabilities {
  features: ReadonlySet<string>;
  /** Whether it is a CPU implementation (SwiftShader, llvmpipe, …): see software-adapter.ts. */
  software: boolean;
  subgroupMatrixConfigs: readonly SubgroupMatrixConfig[];
  /** Smallest and largest subgroup the adapter may run (Dawn's `adapter.info`; 0 when unknown). */
  subgroupMinSize: number;
  subgroupMaxSize: number;
  maxComputeWorkgroupStorageSize: number;
  maxComputeInvocationsPerWorkgroup: number;
}

export const SUBGROUP_MATRIX_FEATURE = 'chromium-experimental-subgroup-matrix';

export interface KernelPaths {
  /** Element type of activations between kernels; accumulation is f32 either way. */
  activations: 'f32' | 'f16';
  matmul: 'staged' | 'direct' | 'subgroup-matrix';
  attention: 'tiled' | 'direct' | 'direct-subgroups' | 'subgroup-matrix';
  norms: 'tree' | 'rows';
  /** The configuration the subgroup-matrix paths use; absent when they are not chosen. */
  matrixConfig?: SubgroupMatrixConfig;
}

export interface PathPreferences {
  /** 'f32' keeps f32 activations even where f16 is offered (reference runs, debugging). */
  activations?: 'auto' | 'f32';
  /** false keeps the matrix units off. */
  matrixUnits?: boolean;
}

/** Matrix sizes the subgroup-matrix kernels are written for (shaders/matmul_subgroup_matrix.wgsl). */
const MATRIX_SIDES = [8, 16];

/** Workgroup storage the subgroup-matrix matmul stages at side 16: two f16 32×32 tiles and an f32 one. */
export const MATRIX_MATMUL_WORKGROUP_BYTES = 2 * 32 * 32 * 2 + 32 * 32 * 4;

/** Largest subgroup the subgroup-matrix kernels size a workgroup to (their WG = the adapter's largest). */
const MAX_MATRIX_WORKGROUP = 128;

/**
 * The subgroup-matrix configuration the kernels can use: f16 inputs with an f32 result (f16 results
 * lose too much over Wan's K = 5,120 sums), square sides of 8 or 16 (M = N = K), and the largest such.
 * Undefined when none fits.
 */
export function usableMatrixConfig(configs: readonly SubgroupMatrixConfig[]): SubgroupMatrixConfig | undefined {
  const fits = configs.filter(
    (c) => c.componentType === 'f16' && c.resultComponentType === 'f32' && c.M === c.N && c.N === c.K && MATRIX_SIDES.includes(c.M),
  );
  return fits.sort((a, b) => b.M - a.M)[0];
}

/**
 * The kernel paths for an adapter. CPU implementations take the barrier-free 'direct' and 'rows'
 * variants (a barrier there suspends every SIMD batch as a coroutine); GPUs the workgroup-tiled ones;
 * f16 activations where `shader-f16` is present; matrix units where `subgroups`, `shader-f16` and the
 * subgroup-matrix feature are all there with a usable configuration, the adapter runs one subgroup
 * size (min = max: a workgroup of that size is exactly one subgroup, which the attention kernel's
 * accumulation through workgroup memory relies on; at most 128) and the staging fits workgroup memory.
 */
export function chooseKernelPaths(caps: AdapterCapabilities, prefs: PathPreferences = {}): KernelPaths {
  const has = (f: string) => caps.features.has(f);
  const f16 = has('shader-f16') && prefs.activations !== 'f32';
  const config = prefs.matrixUnits === false || !f16 || !has('subgroups') || !has(SUBGROUP_MATRIX_FEATURE) ? undefined : usableMatrixConfig(caps.subgroupMatrixConfigs);
  const workgroupFits =
    caps.subgroupMaxSize > 0 &&
    caps.subgroupMinSize === caps.subgroupMaxSize &&
    caps.subgroupMaxSize <= Math.min(MAX_MATRIX_WORKGROUP, caps.maxComputeInvocationsPerWorkgroup) &&
    caps.maxComputeWorkgroupStorageSize >= MATRIX_MATMUL_WORKGROUP_BYTES;
  const matrix = config !== undefined && workgroupFits && !caps.software;
  const paths: KernelPaths = {
    activations: f16 ? 'f16' : 'f32',
    matmul: matrix ? 'subgroup-matrix' : caps.software ? 'direct' : 'staged',
    attention: matrix ? 'subgroup-matrix' : caps.software ? (has('subgroups') ? 'direct-subgroups' : 'direct') : 'tiled',
    norms: caps.software ? 'rows' : 'tree',
  };
  if (matrix) paths.matrixConfig = config;
  return paths;
}

/** Whether the adapter is a CPU implementation of WebGPU, judged from its info strings. */
export function isSoftwareAdapterInfo(info: { vendor: string; architecture: string; description: string }): boolean {
  return /swiftshader|llvmpipe|lavapipe|software/i.test(`${info.vendor} ${info.architecture} ${info.description}`);
}

/** The capabilities of a live context (a partial fake in tests: missing features and limits count as none). */
export function capabilitiesOf(ctx: GpuContext): AdapterCapabilities {
  const info = ctx.adapterInfo;
  return {
    features: ctx.features ?? new Set(),
    software: isSoftwareAdapterInfo(info),
    subgroupMatrixConfigs: info.subgroupMatrixConfigs ?? [],
    subgroupMinSize: info.subgroupMinSize ?? 0,
    subgroupMaxSize: info.subgroupMaxSize ?? 0,
    maxComputeWorkgroupStorageSize: ctx.limits?.maxComputeWorkgroupStorageSize ?? 0,
    maxComputeInvocationsPerWorkgroup: ctx.limits?.maxComputeInvocationsPerWorkgroup ?? 0,
  };
}

const chosen = new WeakMap<GpuContext, KernelPaths>();

/** The context's kernel paths (computed once; the context's features never change). */
export function kernelPaths(ctx: GpuContext): KernelPaths {
  let paths = chosen.get(ctx);
  if (!paths) {
    paths = chooseKernelPaths(capabilitiesOf(ctx));
    chosen.set(ctx, paths);
  }
  return paths;
}
