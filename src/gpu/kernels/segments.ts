// Splitting a dispatch along rows when a tensor is bigger than the binding limit (ctx.bindingLimit).
// Each segment binds row ranges of the row-split tensors (offset + size within their buffers), so the
// WGSL is unchanged and each output row is computed by the same code as in one whole dispatch: the
// segmented result is identical bit for bit. Segment starts are multiples of a row count that keeps
// every range's byte offset aligned to minStorageBufferOffsetAlignment.

import type { GpuContext, TensorRange } from '../context.ts';
import type { Tensor } from '../tensor.ts';

/** A tensor split along its rows: `rowBytes` bytes per row. */
export interface RowSplit {
  tensor: Tensor;
  rowBytes: number;
}

export interface RowSegment {
  start: number;
  count: number;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** Bytes a whole-tensor binding spans (the context binds a tensor's own bytes, rounded up to 16). */
export function wholeBytes(t: Tensor): number {
  return Math.min(t.buffer.size, Math.ceil(t.byteLength / 16) * 16);
}

/**
 * Row segments [start, start + count) covering `rows` rows such that every split tensor's range fits
 * the binding limit: one segment when everything fits already. `whole` lists the tensors every segment
 * binds entirely (weights, tables); they must fit on their own. Throws when no aligned segment fits.
 */
export function rowSegments(ctx: GpuContext, op: string, rows: number, splits: RowSplit[], whole: (Tensor | undefined)[] = []): RowSegment[] {
  const limit = ctx.bindingLimit;
  for (const t of whole) {
    if (t && wholeBytes(t) > limit) {
      throw new Error(`${op}: ${t.label || 'a tensor'} [${t.shape.join(', ')}] ${t.dtype} (${wholeBytes(t)} bytes) is bound whole and exceeds the binding limit ${limit}`);
    }
  }
  if (rows === 0 || splits.every((s) => wholeBytes(s.tensor) <= limit)) return [{ start: 0, count: rows }];
  const align = ctx.bindingOffsetAlignment;
  // Rows per aligned step: the least count whose bytes are a multiple of the alignment for every split.
  let step = 1;
  for (const { rowBytes } of splits) {
    const need = align / gcd(rowBytes, align);
    step = (step * need) / gcd(step, need);
  }
  const widest = Math.max(...splits.map((s) => s.rowBytes));
  // 16 bytes spare: a range is rounded up to whole 16-byte chunks.
  const fit = Math.floor((limit - 16) / widest / step) * step;
  if (fit < 1) {
    throw new Error(`${op}: rows of ${widest} bytes in aligned groups of ${step} do not fit the binding limit ${limit}; the tensor cannot be split into segments`);
  }
  const segments: RowSegment[] = [];
  for (let start = 0; start < rows; start += fit) segments.push({ start, count: Math.min(fit, rows - start) });
  return segments;
}

/** A tensor's rows [start, start + count) as a binding range (or the tensor itself for one whole segment). */
export function rowRange(t: Tensor, rowBytes: number, segment: RowSegment, rows: number): Tensor | TensorRange {
  if (segment.start === 0 && segment.count === rows) return t;
  const offset = segment.start * rowBytes;
  const size = Math.min(t.buffer.size - offset, Math.ceil((segment.count * rowBytes) / 16) * 16);
  return { tensor: t, offset, size };
}
