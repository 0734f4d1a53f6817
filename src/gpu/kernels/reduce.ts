// Reductions over large buffers whose results stay on the GPU, one slot of a results tensor per
// call, so a caller can record many (one per block) and read them back together. A tensor over the
// binding limit is reduced in segments (each writes its own partials) before the one final pass; a
// relative L1 that one workgroup reduces whole needs no final pass (that workgroup writes the slot).

import type { GpuContext } from '../context.ts';
import { formatShape, type Tensor } from '../tensor.ts';
import { expectDType, expectRank, expectSameShape } from './check.ts';
import { rowRange, rowSegments, type RowSegment, type RowSplit } from './segments.ts';

const THREADS = 256;
/** Enough workgroups to fill a large GPU; each thread then loops over the rest of the data. */
const MAX_PARTIALS = 1024;
/** Below this many elements per thread, fewer workgroups are launched (CPU adapters pay per barrier). */
const MIN_PER_THREAD = 64;

/**
 * Up to this many elements, `relativeL1AndStore` runs one workgroup (128 per thread), which writes the
 * slot itself: a second dispatch would cost more than the first pass saves by spreading the data.
 */
const ONE_GROUP_MAX = THREADS * 128;

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
 * Both reductions: the first pass once per segment of the inputs (one segment when they fit the binding
 * limit), each segment's workgroups writing `perPartial` values from its own base, then the final pass
 * over all partials into the slot.
 */
function reduceInSegments(
  ctx: GpuContext,
  op: string,
  shader: 'reduce_l1' | 'reduce_max_abs',
  constants: Record<string, number>,
  inputs: RowSplit[],
  out: Tensor,
  slot: number,
  perPartial: number,
  extraUniforms: Record<string, number>,
): void {
  const count = inputs[0].tensor.size;
  const segments = rowSegments(ctx, op, count, inputs, [out]);
  const partialsOf = segments.map((s) => partialCount(s.count));
  const total = partialsOf.reduce((a, b) => a + b, 0);
  const scratch = ctx.empty([perPartial * total], shader === 'reduce_l1' ? 'f32' : 'u32', `${op} partials`);
  const bind = (segment: RowSegment) => ({
    ...Object.fromEntries(inputs.map(({ tensor, rowBytes }, i) => [i === 0 ? 'a' : 'b', rowRange(tensor, rowBytes, segment, count)])),
    partials: scratch,
    out,
  });
  if (total === 1 && shader === 'reduce_l1') {
    // One workgroup: its pair is the result (the final pass would add zeros to it), written to the slot
    // directly, the scratch standing in for the `out` the first pass does not write.
    const uniforms = { ...extraUniforms, count, partialCount: 1, slot, partialBase: slot };
    ctx.dispatch({ shader, constants: { ...constants, FINAL: 0 } }, { bindings: { ...bind(segments[0]), partials: out, out: scratch }, uniforms, workgroups: 1, label: op });
    scratch.release();
    return;
  }
  let base = 0;
  segments.forEach((segment, i) => {
    const uniforms = { ...extraUniforms, count: segment.count, partialCount: partialsOf[i], slot, partialBase: base };
    ctx.dispatch({ shader, constants: { ...constants, FINAL: 0 } }, { bindings: bind(segment), uniforms, workgroups: partialsOf[i], label: op });
    base += partialsOf[i];
  });
  const uniforms = { ...extraUniforms, count, partialCount: total, slot, partialBase: 0 };
  ctx.dispatch({ shader, constants: { ...constants, FINAL: 1 } }, { bindings: bind(segments[0]), uniforms, workgroups: 1, label: `${op} final` });
  scratch.release(); // recorded: the pool hands it out only to later commands
}

function checkMeasured(op: string, a: Tensor, b: Tensor, out: Tensor, slot: number): void {
  expectDType(op, 'a', a, 'f32');
  expectDType(op, 'b', b, 'f32', 'f16');
  expectSameShape(op, 'a', a, 'b', b);
  checkSlot(op, out, slot, 2);
  if (out.buffer === a.buffer || out.buffer === b.buffer) throw new Error(`${op}: out must not alias a or b`);
}

/**
 * Σ|a − b| → out[2·slot] and Σ|b| → out[2·slot + 1], in one pass over a and b (same shape; a f32,
 * b f32 or f16 read in place).
 * out is an f32 tensor [2·S]; the rest of it is left untouched. Nothing is read back.
 */
export function relativeL1(ctx: GpuContext, a: Tensor, b: Tensor, out: Tensor, slot: number): void {
  const op = 'relativeL1';
  checkMeasured(op, a, b, out, slot);
  const half = b.dtype === 'f16' ? 1 : 0;
  const inputs = [{ tensor: a, rowBytes: 4 }, { tensor: b, rowBytes: half ? 2 : 4 }];
  reduceInSegments(ctx, op, 'reduce_l1', { B_F16: half }, inputs, out, slot, 2, { zero: 0 });
}

/**
 * `relativeL1(a, stored)` into the slot, then a stored into `stored` (f32: copied; f16: packed as
 * `castToHalfChecked` does, raising `flags[flagIndex]` for a value f16 cannot hold), with the first pass
 * and the store fused: the data is read once. Up to `ONE_GROUP_MAX` elements that is the only dispatch.
 * The work is split otherwise than `relativeL1` splits it (whole f16 words per thread; one workgroup for
 * small tensors), so the sums may differ from its in their last bits. Nothing is read back.
 */
export function relativeL1AndStore(ctx: GpuContext, a: Tensor, stored: Tensor, out: Tensor, slot: number, flags: Tensor, flagIndex: number): void {
  const op = 'relativeL1AndStore';
  checkMeasured(op, a, stored, out, slot);
  expectDType(op, 'flags', flags, 'u32');
  if (!Number.isInteger(flagIndex) || flagIndex < 0 || flagIndex >= flags.size) throw new Error(`${op}: flag ${flagIndex} outside 0..${flags.size - 1}`);
  if (flags.buffer === a.buffer || flags.buffer === stored.buffer || a.buffer === stored.buffer) throw new Error(`${op}: a, stored and flags must be distinct buffers`);
  const half = stored.dtype === 'f16' ? 1 : 0;
  const storedBytes = half ? 2 : 4;
  const count = a.size;
  const segments = rowSegments(ctx, op, count, [{ tensor: a, rowBytes: 4 }, { tensor: stored, rowBytes: storedBytes }], [out, flags]);
  const pass = (segment: RowSegment, partials: Tensor, workgroups: number, partialBase: number) =>
    ctx.dispatch(
      { shader: 'reduce_l1_store', constants: { B_F16: half } },
      {
        bindings: { a: rowRange(a, 4, segment, count), b: rowRange(stored, storedBytes, segment, count), partials, flags },
        uniforms: { count: segment.count, partialCount: workgroups, zero: 0, partialBase, flagIndex },
        workgroups,
        label: op,
      },
    );
  if (segments.length === 1 && count <= ONE_GROUP_MAX) {
    pass(segments[0], out, 1, slot); // one workgroup writes its pair, the result, into the slot
    return;
  }
  const partialsOf = segments.map((s) => partialCount(s.count));
  const total = partialsOf.reduce((x, y) => x + y, 0);
  const scratch = ctx.empty([2 * total], 'f32', `${op} partials`);
  let base = 0;
  segments.forEach((segment, i) => {
    pass(segment, scratch, partialsOf[i], base);
    base += partialsOf[i];
  });
  const first = segments[0];
  ctx.dispatch(
    { shader: 'reduce_l1', constants: { B_F16: half, FINAL: 1 } },
    {
      bindings: { a: rowRange(a, 4, first, count), b: rowRange(stored, storedBytes, first, count), partials: scratch, out },
      uniforms: { count, partialCount: total, slot, partialBase: 0, zero: 0 },
      workgroups: 1,
      label: `${op} final`,
    },
  );
  scratch.release(); // recorded: the pool hands it out only to later commands
}

/** max|a| → out[slot] (NaN if a holds a NaN). out is an f32 tensor [S]; nothing is read back. */
export function maxAbs(ctx: GpuContext, a: Tensor, out: Tensor, slot: number): void {
  const op = 'maxAbs';
  expectDType(op, 'a', a, 'f32');
  checkSlot(op, out, slot, 1);
  if (out.buffer === a.buffer) throw new Error(`${op}: out must not alias a`);
  reduceInSegments(ctx, op, 'reduce_max_abs', {}, [{ tensor: a, rowBytes: 4 }], out, slot, 1, {});
}
