import type { GpuContext } from '../context.ts';
import { formatShape, type Tensor } from '../tensor.ts';
import { expectDType, expectSameShape, expectShape, rowsCols } from './check.ts';

/** adaLN modulation: rows of an f32 table [R, C] (or [..., C], flattened to rows). */
export interface LayerNormModulation {
  table: Tensor;
  shiftRow: number;
  scaleRow: number;
}

export interface LayerNormOptions {
  eps: number;
  /** Affine weight [C]. */
  weight?: Tensor;
  /** Affine bias [C]. */
  bias?: Tensor;
  /** Fused after the affine part: y·(1 + table[scaleRow]) + table[shiftRow]. */
  modulation?: LayerNormModulation;
  out?: Tensor;
}

/**
 * LayerNorm over the last dimension C of x [..., C] (biased variance, eps inside the square root),
 * optionally affine and optionally adaLN-modulated. Returns `out` (x's shape; must not alias x).
 */
export function layerNorm(ctx: GpuContext, x: Tensor, options: LayerNormOptions): Tensor {
  const op = 'layerNorm';
  const { eps, weight, bias, modulation } = options;
  expectDType(op, 'x', x, 'f32');
  if (x.shape.length < 1) throw new Error(`${op}: x must have at least one dimension, got ${formatShape(x.shape)}`);
  const { rows, cols } = rowsCols(x);
  if (!Number.isFinite(eps) || eps < 0) throw new Error(`${op}: eps must be a finite number ≥ 0, got ${eps}`);
  if (weight) {
    expectDType(op, 'weight', weight, 'f32');
    expectShape(op, 'weight', weight, [cols]);
  }
  if (bias) {
    expectDType(op, 'bias', bias, 'f32');
    expectShape(op, 'bias', bias, [cols]);
  }
  if (modulation) checkModulation(op, modulation, cols);
  if (options.out) {
    expectDType(op, 'out', options.out, 'f32');
    expectSameShape(op, 'x', x, 'out', options.out);
    if (options.out.buffer === x.buffer) throw new Error(`${op}: out must not alias x`);
  }
  const out = options.out ?? ctx.empty(x.shape, 'f32', op);
  if (x.size === 0) return out;
  ctx.dispatch(
    {
      shader: 'layer_norm',
      constants: {
        HAS_WEIGHT: weight ? 1 : 0,
        HAS_BIAS: bias ? 1 : 0,
        HAS_MODULATION: modulation ? 1 : 0,
        THREADS: rowThreads(cols),
      },
    },
    {
      // Bindings a variant does not read are filled with x (read-only, so binding it twice is valid).
      bindings: { x, weight: weight ?? x, bias: bias ?? x, table: modulation?.table ?? x, out },
      uniforms: {
        rows,
        cols,
        eps,
        shiftRow: modulation?.shiftRow ?? 0,
        scaleRow: modulation?.scaleRow ?? 0,
      },
      workgroups: rows,
      label: op,
    },
  );
  return out;
}

/**
 * Threads per workgroup for a kernel that reduces one row of `cols` per workgroup: about 8 elements
 * per thread, a power of two from 32 to 256 (idle threads cost a lot at each barrier on CPU adapters).
 */
export function rowThreads(cols: number): number {
  return Math.min(256, Math.max(32, 2 ** Math.ceil(Math.log2(Math.max(1, cols / 8)))));
}

function checkModulation(op: string, m: LayerNormModulation, cols: number): void {
  expectDType(op, 'modulation table', m.table, 'f32');
  const tableCols = m.table.shape[m.table.shape.length - 1];
  if (m.table.shape.length < 2 || tableCols !== cols) {
    throw new Error(`${op}: modulation table must be [R, ${cols}], got ${formatShape(m.table.shape)}`);
  }
  const tableRows = m.table.size / cols;
  for (const [name, row] of [['shiftRow', m.shiftRow], ['scaleRow', m.scaleRow]] as const) {
    if (!Number.isInteger(row) || row < 0 || row >= tableRows) {
      throw new Error(`${op}: modulation ${name} ${row} is outside the table's ${tableRows} rows`);
    }
  }
}
