// Reductions over large buffers whose results stay on the GPU, one slot of a results tensor per
// call, so a caller can record many (one per block) and read them back together.

import type { GpuContext } from '../context.ts';
import { formatShape, type Tensor } from '../tensor.ts';
import { expectDType, expectRank, expectSameShape } from './check.ts';

const THREADS = 256;
/** Enough workgroups to fill a large GPU; each thread then loops over the rest of the data. */
const MAX_PARTIALS = 1024;
/** Below this many elements per thread, fewer workgroups are launched (CPU adapters pay per barrier). */
const MIN_PER_THREAD = 64;

function partialCount(count: number): number {
  return Math.min(MAX_PARTIALS, Math.max(1, Math.ceil(count / (THREADS * MIN_PER_THREAD))));
}

function checkSlot(op: string, out: Tensor, slot: number, width: number): void {
  expectDType(op, 'out', out, 'f32');
  expectRank(op, 'out', out, 1);
  if (!Number.isInteger(slot) || slot < 0 || width * (slot + 1) > out.size) {
    throw new Error(`${op}: slot ${slot} does not fit out ${formatShape(out.shape)} (${width} value${width > 1 ? 's' : ''} per slot)`);
  }
}

/**
 * Σ|a − b| → out[2·slot] and Σ|b| → out[2·slot + 1], in one pass over a and b (same shape; a f32,
 * b f32 or f16 read in place).
 * out is an f32 tensor [2·S]; the rest of it is left untouched. Nothing is read back.
 */
export function relativeL1(ctx: GpuContext, a: Tensor, b: Tensor, out: Tensor, slot: number): void {
  const op = 'relativeL1';
  expectDType(op, 'a', a, 'f32');
  expectDType(op, 'b', b, 'f32', 'f16');
  expectSameShape(op, 'a', a, 'b', b);
  checkSlot(op, out, slot, 2);
  if (out.buffer === a.buffer || out.buffer === b.buffer) throw new Error(`${op}: out must not alias a or b`);
  const partials = partialCount(a.size);
  const scratch = ctx.empty([2 * partials], 'f32', `${op} partials`);
  const uniforms = { count: a.size, partialCount: partials, slot, zero: 0 };
  const bindings = { a, b, partials: scratch, out };
  const half = b.dtype === 'f16' ? 1 : 0;
  ctx.dispatch({ shader: 'reduce_l1', constants: { FINAL: 0, B_F16: half } }, { bindings, uniforms, workgroups: partials, label: op });
  ctx.dispatch({ shader: 'reduce_l1', constants: { FINAL: 1, B_F16: half } }, { bindings, uniforms, workgroups: 1, label: `${op} final` });
  scratch.release(); // recorded: the pool hands it out only to later commands
}

/** max|a| → out[slot] (NaN if a holds a NaN). out is an f32 tensor [S]; nothing is read back. */
export function maxAbs(ctx: GpuContext, a: Tensor, out: Tensor, slot: number): void {
  const op = 'maxAbs';
  expectDType(op, 'a', a, 'f32');
  checkSlot(op, out, slot, 1);
  if (out.buffer === a.buffer) throw new Error(`${op}: out must not alias a`);
  const partials = partialCount(a.size);
  const scratch = ctx.empty([partials], 'u32', `${op} partials`);
  const uniforms = { count: a.size, partialCount: partials, slot };
  const bindings = { a, partials: scratch, out };
  ctx.dispatch({ shader: 'reduce_max_abs', constants: { FINAL: 0 } }, { bindings, uniforms, workgroups: partials, label: op });
  ctx.dispatch({ shader: 'reduce_max_abs', constants: { FINAL: 1 } }, { bindings, uniforms, workgroups: 1, label: `${op} final` });
  scratch.release();
}
