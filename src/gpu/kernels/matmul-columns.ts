// A matmul whose weight (or bias, or gate) is over the binding limit, run along output columns: each
// segment of weight rows is copied into a tensor of its own and multiplied by the same kernel, then its
// output columns are copied into place. Each output element is still one kernel's dot product over the
// same K in the same order, so the result is identical bit for bit to a single dispatch.
// The weight rows are copied as one plain buffer copy (4-byte aligned, so no range needs aligning); the
// residual and output columns are strided, gathered and scattered by copy_columns.wgsl.

import type { GpuContext } from '../context.ts';
import { BYTES_PER_ELEMENT, type Tensor } from '../tensor.ts';
import type { MatmulActivation, MatmulPath } from './matmul.ts';
import { wholeBytes } from './segments.ts';
import { copyColumns } from './copy-columns.ts';

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

function boundBytes(t: Tensor | undefined): number {
  return t ? wholeBytes(t) : 0;
}

/**
 * Output columns per segment when w, bias or gate is over the binding limit; undefined when they fit.
 * Even, so a segment of 16-bit weights starts on a 4-byte boundary.
 */
export function matmulColumnsPerSegment(ctx: GpuContext, M: number, w: Tensor, bias?: Tensor, gate?: Tensor): number | undefined {
  const limit = ctx.bindingLimit;
  if (Math.max(boundBytes(w), boundBytes(bias), boundBytes(gate)) <= limit) return undefined;
  const [N, K] = w.shape;
  const rowBytes = Math.max(4, K * BYTES_PER_ELEMENT[w.dtype]);
  // The output segment [M, columns] may itself need splitting along tokens, in groups of rows that keep every
  // row range aligned: pick the most columns (a multiple of 64 where possible) whose group fits.
  const align = ctx.bindingOffsetAlignment;
  const stepFor = (bytes: number) => align / gcd(bytes, align);
  const fits = (c: number) => {
    if (M * Math.max(4 * K, 4 * c) <= limit - 16) return true; // no split along tokens
    const a = stepFor(4 * K);
    const b = stepFor(4 * c);
    return ((a * b) / gcd(a, b)) * Math.max(4 * K, 4 * c) <= limit - 16;
  };
  const widest = Math.floor((limit - 16) / rowBytes);
  let columns = 0;
  if (widest >= 64 && fits(Math.floor(widest / 64) * 64)) columns = Math.floor(widest / 64) * 64;
  else for (let c = Math.floor(widest / 2) * 2; c >= 2 && columns === 0; c -= 2) if (fits(c)) columns = c;
  if (columns < 2) {
    throw new Error(`matmul: w [${N}, ${K}] ${w.dtype} cannot be split into segments of output columns under the binding limit ${limit}`);
  }
  return columns;
}

export interface ColumnSegmentArgs {
  x: Tensor;
  w: Tensor;
  bias?: Tensor;
  gate?: Tensor;
  gateRow: number;
  residual?: Tensor;
  activation: MatmulActivation;
  path: MatmulPath;
  out: Tensor;
  columns: number;
}

type MatmulFn = (ctx: GpuContext, x: Tensor, w: Tensor, options: {
  bias?: Tensor; activation?: MatmulActivation; residual?: Tensor; gate?: Tensor; gateRow?: number; out?: Tensor; path?: MatmulPath;
}) => Tensor;

/** Runs `matmul` segment by segment of output columns into `out` ([M, N]). */
export function matmulByColumns(ctx: GpuContext, matmul: MatmulFn, a: ColumnSegmentArgs): void {
  const { x, w, bias, gate, residual, out, columns } = a;
  const [N, K] = w.shape;
  const wordAligned = (bytes: number) => Math.ceil(bytes / 4) * 4;
  const weightRowBytes = K * BYTES_PER_ELEMENT[w.dtype];
  for (let n0 = 0; n0 < N; n0 += columns) {
    const n = Math.min(columns, N - n0);
    const temps: Tensor[] = [];
    const temp = (shape: number[], dtype: Tensor['dtype'], label: string) => {
      const t = ctx.empty(shape, dtype, label);
      temps.push(t);
      return t;
    };
    const wPart = temp([n, K], w.dtype, 'matmul weight segment');
    ctx.copy(w, wPart, wordAligned(n * weightRowBytes), n0 * weightRowBytes, 0);
    let biasPart: Tensor | undefined;
    if (bias) {
      biasPart = temp([n], 'f32', 'matmul bias segment');
      ctx.copy(bias, biasPart, 4 * n, 4 * n0, 0);
    }
    let gatePart: Tensor | undefined;
    if (gate) {
      gatePart = temp([1, n], 'f32', 'matmul gate segment');
      ctx.copy(gate, gatePart, 4 * n, 4 * (a.gateRow * N + n0), 0);
    }
    let residualPart: Tensor | undefined;
    if (residual) {
      residualPart = temp([...x.shape.slice(0, -1), n], 'f32', 'matmul residual segment');
      copyColumns(ctx, residual, { start: n0, count: n }, residualPart, { start: 0, count: n });
    }
    const outPart = matmul(ctx, x, wPart, { bias: biasPart, activation: a.activation, gate: gatePart, residual: residualPart, path: a.path });
    temps.push(outPart);
    copyColumns(ctx, outPart, { start: 0, count: n }, out, { start: n0, count: n });
    // Released buffers go back to the pool; commands already recorded still read their contents.
    for (const t of temps) t.release();
  }
}
