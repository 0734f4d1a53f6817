import type { GpuContext } from '../context.ts';
import type { Tensor } from '../tensor.ts';
import { expectDType, expectRank, expectShape } from './check.ts';
import { subgroupMatrixSupport } from './matmul-subgroup-matrix.ts';

/** Largest head the kernel stages (shaders/attention_subgroup_matrix.wgsl: 4 tiles of SIDE·d f16/f32). */
export const MATRIX_ATTENTION_MAX_HEAD_DIM = 256;

/** Workgroup bytes the kernel stages for a head of d at side `side`. */
export function matrixAttentionWorkgroupBytes(headDim: number, side: number): number {
  return side * headDim * (3 * 2 + 4) + side * side * (4 + 2) + 3 * side * 4;
}

/**
 * Multi-head attention softmax(Q·Kᵀ/√d)·V on the matrix units: q [Lq, H·d], k and v [Lk, H·d], all
 * f16, out [Lq, H·d] f32 (head h at columns [h·d, (h+1)·d)). d must be a multiple of the adapter's
 * matrix side (Wan: 128). Against float64 on the f16 inputs the error is the f16 rounding of the
 * probabilities (≤ 2⁻¹¹ each, normalised by their own rounded sum): ‖out − ref‖/‖ref‖ ≤ 2e-3 expected.
 */
export function attentionSubgroupMatrix(ctx: GpuContext, q: Tensor, k: Tensor, v: Tensor, heads: number, out?: Tensor): Tensor {
  const op = 'attentionSubgroupMatrix';
  for (const [name, t] of [['q', q], ['k', k], ['v', v]] as const) {
    expectDType(op, name, t, 'f16');
    expectRank(op, name, t, 2);
  }
  const [queries, width] = q.shape;
  const keys = k.shape[0];
  if (!Number.isInteger(heads) || heads < 1 || width % heads !== 0) throw new Error(`${op}: q width ${width} is not a multiple of ${heads} heads`);
  const headDim = width / heads;
  expectShape(op, 'k', k, [keys, width]);
  expectShape(op, 'v', v, [keys, width]);
  if (keys === 0) throw new Error(`${op}: no keys (k and v have 0 rows); softmax over nothing is undefined`);
  const support = subgroupMatrixSupport(ctx);
  if ('reason' in support) throw new Error(`${op}: matrix units unavailable: ${support.reason}`);
  const side = support.config.M;
  if (headDim % side !== 0 || headDim > MATRIX_ATTENTION_MAX_HEAD_DIM) {
    throw new Error(`${op}: head size ${headDim} must be a multiple of the matrix side ${side} and at most ${MATRIX_ATTENTION_MAX_HEAD_DIM}`);
  }
  const bytes = matrixAttentionWorkgroupBytes(headDim, side);
  if (bytes > ctx.limits.maxComputeWorkgroupStorageSize) {
    throw new Error(`${op}: a head of ${headDim} needs ${bytes} bytes of workgroup memory; this device has ${ctx.limits.maxComputeWorkgroupStorageSize}`);
  }
  if (out) {
    expectDType(op, 'out', out, 'f32');
    expectShape(op, 'out', out, q.shape);
  }
  const y = out ?? ctx.empty(q.shape, 'f32', op);
  if (queries === 0) return y;
  ctx.dispatch(
    {
      shader: 'attention_subgroup_matrix',
      flags: side === 8 ? ['SIDE8'] : [],
      constants: { WG: support.workgroup, HEAD_DIM: headDim },
    },
    {
      bindings: { q, k, v, out: y },
      uniforms: { queries, keys, heads, scale: 1 / Math.sqrt(headDim) },
      workgroups: [Math.ceil(queries / side), heads, 1],
      label: op,
    },
  );
  return y;
}
