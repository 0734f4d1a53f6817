import type { GpuContext } from '../context.ts';
import { formatShape, type Tensor } from '../tensor.ts';
import { capabilitiesOf, chooseKernelPaths, SUBGROUP_MATRIX_FEATURE, type SubgroupMatrixConfig } from '../features.ts';
import { expectDType, expectShape } from './check.ts';

export interface SubgroupMatrixMatmulOptions {
  /** [N] f32. */
  bias?: Tensor;
  /** Written in place of a new tensor: [..., N] f32. */
  out?: Tensor;
}

// One small buffer per context for an absent bias (outside the pool: never a live tensor).
const placeholders = new WeakMap<GpuContext, GPUBuffer>();
function placeholder(ctx: GpuContext): GPUBuffer {
  let b = placeholders.get(ctx);
  if (!b) {
    b = ctx.device.createBuffer({ label: 'matmul_subgroup_matrix placeholder', size: 16, usage: GPUBufferUsage.STORAGE });
    placeholders.set(ctx, b);
  }
  return b;
}

/** The configuration and workgroup size the kernel runs with here, or why it cannot run. */
export function subgroupMatrixSupport(ctx: GpuContext): { config: SubgroupMatrixConfig; workgroup: number } | { reason: string } {
  const caps = capabilitiesOf(ctx);
  const paths = chooseKernelPaths(caps);
  if (paths.matmul === 'subgroup-matrix' && paths.matrixConfig) return { config: paths.matrixConfig, workgroup: caps.subgroupMaxSize };
  if (!ctx.features.has(SUBGROUP_MATRIX_FEATURE)) {
    return { reason: `the device lacks '${SUBGROUP_MATRIX_FEATURE}' (in Node Dawn offers it only with allow_unsafe_apis; SwiftShader never)` };
  }
  return { reason: `no usable configuration (f16 → f32, square 8 or 16) in ${JSON.stringify(caps.subgroupMatrixConfigs)}` };
}

/**
 * out = x · wᵀ (+ bias) on the matrix units (shaders/matmul_subgroup_matrix.wgsl): x [..., K] f16
 * activations, w [N, K] f16 weights, f32 sums, out [..., N] f32. Products of two f16 values are exact
 * in f32, so against float64 on the f16 inputs only the f32 accumulation errs: ‖out − ref‖/‖ref‖
 * ≤ 1e-4 expected (tested where the adapter offers the feature).
 */
export function matmulSubgroupMatrix(ctx: GpuContext, x: Tensor, w: Tensor, options: SubgroupMatrixMatmulOptions = {}): Tensor {
  const op = 'matmulSubgroupMatrix';
  expectDType(op, 'x', x, 'f16');
  expectDType(op, 'w', w, 'f16');
  if (x.shape.length < 1) throw new Error(`${op}: x must have at least one dimension, got ${formatShape(x.shape)}`);
  if (w.shape.length !== 2) throw new Error(`${op}: w must be [N, K], got ${formatShape(w.shape)}`);
  const K = x.shape[x.shape.length - 1];
  const M = x.shape.slice(0, -1).reduce((a, b) => a * b, 1);
  const [N, wK] = w.shape;
  if (wK !== K) throw new Error(`${op}: x ${formatShape(x.shape)} and w ${formatShape(w.shape)} disagree on K (${K} vs ${wK})`);
  const outShape = [...x.shape.slice(0, -1), N];
  if (options.bias) {
    expectDType(op, 'bias', options.bias, 'f32');
    expectShape(op, 'bias', options.bias, [N]);
  }
  if (options.out) {
    expectDType(op, 'out', options.out, 'f32');
    expectShape(op, 'out', options.out, outShape);
    if ([x, w, options.bias].some((t) => t?.buffer === options.out!.buffer)) throw new Error(`${op}: out must be another buffer than x, w and bias`);
  }
  const support = subgroupMatrixSupport(ctx);
  if ('reason' in support) throw new Error(`${op}: matrix units unavailable: ${support.reason}`);
  const out = options.out ?? ctx.empty(outShape, 'f32', op);
  if (M === 0 || N === 0) return out;
  const block = 2 * support.config.M;
  ctx.dispatch(
    {
      shader: 'matmul_subgroup_matrix',
      flags: support.config.M === 8 ? ['SIDE8'] : [],
      constants: { WG: support.workgroup, HAS_BIAS: options.bias ? 1 : 0 },
    },
    {
      bindings: { x, w, bias: options.bias ?? placeholder(ctx), out },
      uniforms: { M, N, K },
      workgroups: [Math.ceil(N / block), Math.ceil(M / block), 1],
      label: op,
    },
  );
  return out;
}
