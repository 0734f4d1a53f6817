import type { GpuContext } from '../context.ts';
import type { Tensor } from '../tensor.ts';
import { expectDType, expectRank, expectShape } from './check.ts';

/** The largest head size the kernel's register slices hold (shaders/attention.wgsl: 4·MAX_SLOTS·LANES). */
export const ATTENTION_MAX_HEAD_DIM = 256;

/** Threads per workgroup (shaders/attention.wgsl: THREADS), shared by ROWS = 128/LANES query rows. */
const THREADS_PER_GROUP = 128;

/**
 * Threads per query row: enough that each holds at most 8 vec4 chunks of the head where possible
 * (d ≤ 32: 1, d ≤ 64: 2, else 4). Fewer lanes put more query rows on each shared K/V tile.
 */
function lanesFor(headDim: number): number {
  const chunks = Math.ceil(headDim / 4);
  return chunks <= 8 ? 1 : chunks <= 16 ? 2 : 4;
}

/**
 * Multi-head attention softmax(Q·Kᵀ/√d)·V with the heads packed in the columns, as the Linear
 * projections produce them: q [Lq, heads·d], k and v [Lk, heads·d], out [Lq, heads·d] (head h at
 * columns [h·d, (h+1)·d)). Lq and Lk may differ (cross-attention). `out` must not be q, k or v.
 */
export function attention(ctx: GpuContext, q: Tensor, k: Tensor, v: Tensor, heads: number, out?: Tensor): Tensor {
  const op = 'attention';
  for (const [name, t] of [['q', q], ['k', k], ['v', v]] as const) {
    expectDType(op, name, t, 'f32');
    expectRank(op, name, t, 2);
  }
  const [queries, width] = q.shape;
  const keys = k.shape[0];
  if (!Number.isInteger(heads) || heads < 1) throw new Error(`${op}: heads must be a positive integer, got ${heads}`);
  if (width % heads !== 0) throw new Error(`${op}: q width ${width} is not a multiple of ${heads} heads`);
  const headDim = width / heads;
  if (headDim < 1) throw new Error(`${op}: q has no columns`);
  if (headDim > ATTENTION_MAX_HEAD_DIM) throw new Error(`${op}: head size ${headDim} exceeds the kernel's ${ATTENTION_MAX_HEAD_DIM}`);
  expectShape(op, 'k', k, [keys, width]);
  expectShape(op, 'v', v, [keys, width]);
  if (keys === 0) throw new Error(`${op}: no keys (k and v have 0 rows); softmax over nothing is undefined`);
  if (out) {
    expectDType(op, 'out', out, 'f32');
    expectShape(op, 'out', out, q.shape);
    if ([q, k, v].some((t) => t.buffer === out.buffer)) {
      throw new Error(`${op}: out must be another tensor than q, k and v (WebGPU cannot bind one buffer as both input and output)`);
    }
  }
  const y = out ?? ctx.empty(q.shape, 'f32', op);
  if (queries === 0) return y;
  const lanes = lanesFor(headDim);
  const rowsPerGroup = THREADS_PER_GROUP / lanes;
  ctx.dispatch(
    { shader: 'attention', constants: { HEAD_DIM: headDim, LANES: lanes } },
    {
      bindings: { q, k, v, out: y },
      uniforms: { queries, keys, heads, scale: 1 / Math.sqrt(headDim) },
      workgroups: [Math.ceil(queries / rowsPerGroup), heads, 1],
      label: op,
    },
  );
  return y;
}
