import type { GpuContext } from '../context.ts';
import type { Tensor } from '../tensor.ts';
import { expectDType, expectRank, expectShape, groupsFor } from './check.ts';
import { wholeBytes } from './segments.ts';
import { copyColumns } from './copy-columns.ts';

/** The largest head size shaders/attention_relative.wgsl holds in registers (its MAX_HEAD_DIM). */
export const RELATIVE_ATTENTION_MAX_HEAD_DIM = 256;
const WORKGROUP = 64;

export interface RelativeAttentionOptions {
  /** Multiplies q·k before the bias is added; T5 uses 1 (no 1/√d). */
  scale?: number;
  out?: Tensor;
}

/**
 * Self-attention of packed sequences with a per-head relative-position bias (shaders/attention_relative.wgsl):
 * q, k, v [T, heads·d] f32; bias [heads, 2·span − 1] f32, the bias of offset (key − query position) at
 * index offset + span − 1; tokens [T, 2] u32, each token's (sequence index, position < span). A query
 * attends to the keys of its own sequence only. The caller guarantees the token table's contents.
 */
export function relativeAttention(
  ctx: GpuContext,
  q: Tensor,
  k: Tensor,
  v: Tensor,
  bias: Tensor,
  tokens: Tensor,
  heads: number,
  options: RelativeAttentionOptions = {},
): Tensor {
  const op = 'relativeAttention';
  for (const [name, t] of [['q', q], ['k', k], ['v', v], ['bias', bias]] as const) {
    expectDType(op, name, t, 'f32');
    expectRank(op, name, t, 2);
  }
  expectDType(op, 'tokens', tokens, 'u32');
  const [count, width] = q.shape;
  if (!Number.isInteger(heads) || heads < 1) throw new Error(`${op}: heads must be a positive integer, got ${heads}`);
  if (width % heads !== 0) throw new Error(`${op}: q width ${width} is not a multiple of ${heads} heads`);
  const headDim = width / heads;
  if (headDim < 1) throw new Error(`${op}: q has no columns`);
  if (headDim > RELATIVE_ATTENTION_MAX_HEAD_DIM) throw new Error(`${op}: head size ${headDim} exceeds the kernel's ${RELATIVE_ATTENTION_MAX_HEAD_DIM}`);
  expectShape(op, 'k', k, [count, width]);
  expectShape(op, 'v', v, [count, width]);
  expectShape(op, 'tokens', tokens, [count, 2]);
  const biasWidth = bias.shape[1];
  if (bias.shape[0] !== heads || biasWidth % 2 !== 1) {
    throw new Error(`${op}: bias must be [${heads}, 2·span − 1], got [${bias.shape.join(', ')}]`);
  }
  const span = (biasWidth + 1) / 2;
  const scale = options.scale ?? 1;
  if (!Number.isFinite(scale)) throw new Error(`${op}: scale must be finite, got ${scale}`);
  const out = options.out ?? ctx.empty(q.shape, 'f32', op);
  if (options.out) {
    expectDType(op, 'out', out, 'f32');
    expectShape(op, 'out', out, q.shape);
    if ([q, k, v, bias, tokens].some((t) => t.buffer === out.buffer)) throw new Error(`${op}: out must not alias an input`);
  }
  if (count === 0) return out;
  if ([q, k, v, bias, out].some((t) => wholeBytes(t) > ctx.bindingLimit)) {
    byHeadGroups(ctx, { q, k, v, bias, tokens, heads, scale, out });
    return out;
  }
  ctx.dispatch(
    { shader: 'attention_relative' },
    {
      bindings: { q, k, v, bias, tokens, out },
      uniforms: { tokens: count, heads, headDim, span, scale },
      workgroups: groupsFor(count * heads, WORKGROUP),
      label: op,
    },
  );
  return out;
}

/**
 * When a tensor is over the binding limit: by groups of heads, each group's columns of q, k and v (and
 * its rows of the bias) copied into tensors of their own, attended by the same kernel, and scattered
 * into `out`. Heads never interact, so the result is bit for bit that of one dispatch.
 */
function byHeadGroups(
  ctx: GpuContext,
  a: { q: Tensor; k: Tensor; v: Tensor; bias: Tensor; tokens: Tensor; heads: number; scale: number; out: Tensor },
): void {
  const [count, width] = a.q.shape;
  const headDim = width / a.heads;
  const biasWidth = a.bias.shape[1];
  const headBytes = 4 * Math.max(count * headDim, biasWidth);
  const perGroup = Math.min(a.heads, Math.floor((ctx.bindingLimit - 16) / headBytes));
  if (perGroup < 1) {
    throw new Error(`relativeAttention: one head of ${count} tokens × ${headDim} (${headBytes} bytes) exceeds the binding limit ${ctx.bindingLimit}`);
  }
  for (let h0 = 0; h0 < a.heads; h0 += perGroup) {
    const n = Math.min(perGroup, a.heads - h0);
    const columns = { start: h0 * headDim, count: n * headDim };
    const local = { start: 0, count: n * headDim };
    const gather = (t: Tensor, name: string) => {
      const part = ctx.empty([count, n * headDim], 'f32', `relativeAttention ${name} heads`);
      copyColumns(ctx, t, columns, part, local);
      return part;
    };
    const biasPart = ctx.empty([n, biasWidth], 'f32', 'relativeAttention bias heads');
    ctx.copy(a.bias, biasPart, 4 * n * biasWidth, 4 * h0 * biasWidth, 0);
    const parts = [gather(a.q, 'q'), gather(a.k, 'k'), gather(a.v, 'v')];
    const outPart = relativeAttention(ctx, parts[0], parts[1], parts[2], biasPart, a.tokens, n, { scale: a.scale });
    copyColumns(ctx, outPart, local, a.out, columns);
    // Back to the pool; commands already recorded still read their contents.
    for (const t of [...parts, biasPart, outPart]) t.release();
  }
}
