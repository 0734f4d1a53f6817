import type { GpuContext } from '../context.ts';
import type { Tensor } from '../tensor.ts';
import { expectDType, groupsFor } from './check.ts';
import { wholeBytes } from './segments.ts';
import type { TensorRange } from '../context.ts';

/** f32 elements [first, first + count) bound from the aligned offset at or before them; `skip` elements precede `first` in the range. */
function elementRange(t: Tensor, first: number, count: number, align: number, whole: boolean): { binding: Tensor | TensorRange; skip: number } {
  if (whole) return { binding: t, skip: first };
  const offset = Math.floor((4 * first) / align) * align;
  const size = Math.min(t.buffer.size - offset, Math.ceil((4 * (first + count) - offset) / 16) * 16);
  return { binding: { tensor: t, offset, size }, skip: first - offset / 4 };
}

/** Columns [start, start + count) of a row-major matrix with `width` columns. */
export interface ColumnBlock {
  start: number;
  count: number;
}

/**
 * out[r, to.start + c] = x[r, from.start + c] for every row r and c < count (f32, x and out as
 * [rows, width] matrices of their last dimension); out's other columns are left as they are. Split
 * along rows when x or out is over the binding limit. `out` must be another tensor than x.
 */
export function copyColumns(ctx: GpuContext, x: Tensor, from: ColumnBlock, out: Tensor, to: ColumnBlock): void {
  const op = 'copyColumns';
  expectDType(op, 'x', x, 'f32');
  expectDType(op, 'out', out, 'f32');
  const inStride = x.shape[x.shape.length - 1] ?? 1;
  const outStride = out.shape[out.shape.length - 1] ?? 1;
  const rows = inStride === 0 ? 0 : x.size / inStride;
  if (outStride === 0 || out.size / outStride !== rows) throw new Error(`${op}: x [${x.shape}] and out [${out.shape}] have different row counts`);
  if (from.count !== to.count) throw new Error(`${op}: copying ${from.count} columns into ${to.count}`);
  for (const [name, block, width] of [['from', from, inStride], ['to', to, outStride]] as const) {
    if (!Number.isInteger(block.start) || block.start < 0 || !Number.isInteger(block.count) || block.count < 0 || block.start + block.count > width) {
      throw new Error(`${op}: columns ${name} [${block.start}, ${block.start + block.count}) lie outside a row of ${width}`);
    }
  }
  if (x.buffer === out.buffer) throw new Error(`${op}: out must be another tensor than x`);
  if (rows === 0 || from.count === 0) return;
  const single = wholeBytes(x) <= ctx.bindingLimit && wholeBytes(out) <= ctx.bindingLimit;
  // Over the binding limit: runs of rows, each bound from the aligned offset at or before its first row;
  // the rest of the way goes into the offset uniforms, so rows of any width split anywhere.
  const align = ctx.bindingOffsetAlignment;
  const perSegment = single ? rows : Math.floor((ctx.bindingLimit - 16 - align) / (4 * Math.max(inStride, outStride)));
  if (perSegment < 1) throw new Error(`${op}: a row of ${Math.max(inStride, outStride)} values does not fit the binding limit ${ctx.bindingLimit}`);
  for (let start = 0; start < rows; start += perSegment) {
    const count = Math.min(perSegment, rows - start);
    const xPart = elementRange(x, start * inStride, count * inStride, align, single);
    const outPart = elementRange(out, start * outStride, count * outStride, align, single);
    ctx.dispatch(
      { shader: 'copy_columns' },
      {
        bindings: { x: xPart.binding, out: outPart.binding },
        uniforms: { rows: count, cols: from.count, inStride, inOffset: from.start + xPart.skip, outStride, outOffset: to.start + outPart.skip },
        workgroups: groupsFor(count * from.count),
        label: op,
      },
    );
  }
}
