import type { GpuContext } from '../context.ts';
import type { Tensor } from '../tensor.ts';
import { expectDType, expectRank, expectShape } from './check.ts';
import { kernelPaths } from '../features.ts';
import { rowRange, rowSegments, wholeBytes } from './segments.ts';
import { copyColumns } from './copy-columns.ts';

/**
 * The largest head size the kernels hold (shaders/attention.wgsl: 4·MAX_SLOTS·LANES;
 * attention_direct.wgsl: 4·MAX_CHUNKS).
 */
export const ATTENTION_MAX_HEAD_DIM = 256;

/**
 * How the kernel feeds K and V to its registers:
 * - 'tiled' (GPUs): 128 threads share K/V tiles staged in workgroup memory behind barriers
 *   (shaders/attention.wgsl);
 * - 'direct' (CPU implementations such as SwiftShader): no workgroup memory and no barrier; each
 *   invocation owns 4 query rows of one head and streams 16 keys at a time straight from storage
 *   (shaders/attention_direct.wgsl);
 * - 'direct-subgroups': 'direct' with the 4 lanes of a quad sharing each K/V load by quadBroadcast
 *   (shaders/attention_direct.wgsl with the template flag SUBGROUPS; needs the 'subgroups' feature).
 */
export type AttentionPath = 'tiled' | 'direct' | 'direct-subgroups';

export interface AttentionOptions {
  /** Defaults to the adapter's best (see `preferredAttentionPath`). */
  path?: AttentionPath;
}

const PATHS: readonly AttentionPath[] = ['tiled', 'direct', 'direct-subgroups'];

/**
 * 'direct-subgroups' (else 'direct') on CPU implementations, 'tiled' elsewhere. Measured on SwiftShader
 * (2 cores; process CPU time, median of interleaved runs, bench/attention-norms.ts): self-attention
 * Lq = Lk = 256, 2 heads of 64: tiled ≈ 140 ms, direct ≈ 35 ms, direct-subgroups ≈ 20 ms; Lq = Lk = 1024,
 * 12 heads of 128: ≈ 25 s, 6.5 s, 4.1 s. There a workgroup barrier suspends every
 * 4-lane batch as a coroutine and each load with per-lane addresses is a gather, so reuse in registers
 * beats sharing through workgroup memory. On a GPU the direct paths' per-invocation arrays (2 × 4 KiB)
 * would spill, and the tiled kernel's shared tiles are what GPUs are built for.
 */
export function preferredAttentionPath(ctx: GpuContext): AttentionPath {
  // The matrix-unit path takes f16 q, k, v (attention-subgroup-matrix.ts); this kernel's GPU path is 'tiled'.
  const path = kernelPaths(ctx).attention;
  return path === 'subgroup-matrix' ? 'tiled' : path;
}

/** Query rows per workgroup of the direct paths: 4 invocations (attention_direct.wgsl THREADS) × 4 rows. */
const DIRECT_ROWS_PER_GROUP = 16;

/** The direct paths read q, k and v as 16-byte chunks: a last partial chunk must lie inside the buffer. */
function holdsWholeChunks(t: Tensor): boolean {
  return t.buffer.size >= Math.ceil(t.byteLength / 16) * 16;
}

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
export function attention(
  ctx: GpuContext,
  q: Tensor,
  k: Tensor,
  v: Tensor,
  heads: number,
  out?: Tensor,
  options: AttentionOptions = {},
): Tensor {
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
  if (options.path !== undefined && !PATHS.includes(options.path)) throw new Error(`${op}: unknown path "${options.path}"`);
  if (options.path === 'direct-subgroups' && !ctx.features.has('subgroups')) {
    throw new Error(`${op}: path "direct-subgroups" needs the 'subgroups' feature, which this device lacks`);
  }
  const chunked = [q, k, v].every(holdsWholeChunks);
  if (options.path?.startsWith('direct') && !chunked) {
    throw new Error(`${op}: the ${options.path} path reads q, k and v in 16-byte chunks; their buffers must be padded to a multiple of 16 bytes`);
  }
  // A buffer from outside the pool may end mid-chunk: the tiled path reads it value by value.
  const path = options.path ?? (chunked ? preferredAttentionPath(ctx) : 'tiled');
  const y = out ?? ctx.empty(q.shape, 'f32', op);
  if (queries === 0) return y;
  if (wholeBytes(k) > ctx.bindingLimit || wholeBytes(v) > ctx.bindingLimit) {
    attentionByHeadGroups(ctx, q, k, v, heads, y, path);
    return y;
  }
  // Along query blocks when q or the output is over the binding limit: each query row is computed alone.
  const rowBytes = 4 * width;
  const segments = rowSegments(ctx, op, queries, [{ tensor: q, rowBytes }, { tensor: y, rowBytes }], [k, v]);
  for (const segment of segments) {
    const bindings = { q: rowRange(q, rowBytes, segment, queries), k, v, out: rowRange(y, rowBytes, segment, queries) };
    if (path !== 'tiled') {
      ctx.dispatch(
        { shader: 'attention_direct', flags: path === 'direct' ? [] : ['SUBGROUPS'], constants: { ALIGNED: headDim % 4 === 0 ? 1 : 0 } },
        {
          bindings,
          uniforms: { queries: segment.count, keys, heads, headDim, scale: 1 / Math.sqrt(headDim) },
          workgroups: [Math.ceil(segment.count / DIRECT_ROWS_PER_GROUP), heads, 1],
          label: op,
        },
      );
      continue;
    }
    const lanes = lanesFor(headDim);
    const rowsPerGroup = THREADS_PER_GROUP / lanes;
    ctx.dispatch(
      { shader: 'attention', constants: { HEAD_DIM: headDim, LANES: lanes } },
      {
        bindings,
        uniforms: { queries: segment.count, keys, heads, scale: 1 / Math.sqrt(headDim) },
        workgroups: [Math.ceil(segment.count / rowsPerGroup), heads, 1],
        label: op,
      },
    );
  }
  return y;
}

/**
 * Attention when k or v is over the binding limit: by groups of heads, each group's columns of q, k and v
 * gathered into tensors of their own (copy_columns.wgsl), attended with the same kernel and path, and
 * scattered into `out`. Heads never interact, so the result is bit for bit that of one dispatch.
 */
function attentionByHeadGroups(ctx: GpuContext, q: Tensor, k: Tensor, v: Tensor, heads: number, out: Tensor, path: AttentionPath): void {
  const [queries, width] = q.shape;
  const keys = k.shape[0];
  const headDim = width / heads;
  const perGroup = Math.min(heads, Math.floor((ctx.bindingLimit - 16) / (4 * keys * headDim)));
  if (perGroup < 1) {
    throw new Error(`attention: one head of ${keys} keys × ${headDim} (${4 * keys * headDim} bytes) exceeds the binding limit ${ctx.bindingLimit}; k and v cannot be split into segments`);
  }
  for (let h0 = 0; h0 < heads; h0 += perGroup) {
    const n = Math.min(perGroup, heads - h0);
    const columns = { start: h0 * headDim, count: n * headDim };
    const local = { start: 0, count: n * headDim };
    const gather = (t: Tensor, rows: number, name: string) => {
      const part = ctx.empty([rows, n * headDim], 'f32', `attention ${name} heads`);
      copyColumns(ctx, t, columns, part, local);
      return part;
    };
    const [qPart, kPart, vPart] = [gather(q, queries, 'q'), gather(k, keys, 'k'), gather(v, keys, 'v')];
    const outPart = attention(ctx, qPart, kPart, vPart, n, undefined, { path });
    copyColumns(ctx, outPart, local, out, columns);
    // Back to the pool; commands already recorded still read their contents.
    for (const t of [qPart, kPart, vPart, outPart]) t.release();
  }
}
