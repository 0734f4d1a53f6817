import type { GpuContext } from '../context.ts';
import { formatShape, type Tensor } from '../tensor.ts';
import { activationFlags, expectDType, expectSameShape, expectShape, rowsCols } from './check.ts';
import { kernelPaths } from '../features.ts';
import { rowRange, rowSegments } from './segments.ts';

/**
 * How a row is reduced:
 * - 'tree' (GPUs): one workgroup of 32…256 threads per row, partial sums tree-reduced in workgroup
 *   memory behind barriers (shaders/layer_norm.wgsl, rms_norm.wgsl);
 * - 'rows' (CPU implementations such as SwiftShader): one invocation per row, sequential passes over
 *   it read as 16-byte chunks, no workgroup memory and no barrier (layer_norm_rows.wgsl, rms_norm_rows.wgsl).
 * A row per subgroup reduced with subgroupAdd was measured too: on SwiftShader (subgroups of 4) it took
 * the same CPU time as a row per invocation (≈ 69 ms for adaLN on [1024, 1536], scalar reads both),
 * so it is not a path; on a GPU it would be the candidate to measure against 'tree'.
 */
export type NormPath = 'tree' | 'rows';

const NORM_PATHS: readonly NormPath[] = ['tree', 'rows'];

/**
 * 'rows' on CPU implementations, 'tree' elsewhere. Measured on SwiftShader (2 cores; process CPU time,
 * median of interleaved runs, bench/attention-norms.ts): layerNorm with modulation on [256, 128]
 * ≈ 20 ms tree vs ≈ 2 ms rows, on [1024, 1536] ≈ 1.3 s vs ≈ 48 ms; rmsNorm on [256, 128] ≈ 14 ms vs
 * ≈ 0.9 ms. Each of the tree's ~2·log2(threads) barriers suspends every
 * 4-lane batch of the workgroup as a coroutine. On a GPU one thread per row would leave most of the
 * device idle and read rows uncoalesced, where the tree keeps every load coalesced.
 */
export function preferredNormPath(ctx: GpuContext): NormPath {
  return kernelPaths(ctx).norms;
}

/** Rows per workgroup of the 'rows' path (layer_norm_rows.wgsl, rms_norm_rows.wgsl: THREADS). */
export const ROWS_PER_GROUP = 4;

/** The 'rows' path reads its inputs as 16-byte chunks: a last partial chunk must lie inside the buffer. */
function holdsWholeChunks(t: Tensor): boolean {
  return t.buffer.size >= Math.ceil(t.byteLength / 16) * 16;
}

/**
 * The path to take: `forced` if given (checked), else the adapter's, falling back to 'tree' when an
 * input's buffer ends mid-chunk (a buffer from outside the pool; the pool rounds sizes up).
 */
export function choosePath(ctx: GpuContext, op: string, forced: NormPath | undefined, inputs: Record<string, Tensor | undefined>): NormPath {
  if (forced !== undefined && !NORM_PATHS.includes(forced)) throw new Error(`${op}: unknown path "${forced}"`);
  const ragged = Object.entries(inputs).find(([, t]) => t && !holdsWholeChunks(t));
  if (forced === 'rows' && ragged) {
    throw new Error(`${op}: the rows path reads ${ragged[0]} in 16-byte chunks; its buffer must be padded to a multiple of 16 bytes`);
  }
  return forced ?? (ragged ? 'tree' : preferredNormPath(ctx));
}

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
  /** Defaults to the adapter's best (see `preferredNormPath`). */
  path?: NormPath;
}

/**
 * LayerNorm over the last dimension C of x [..., C] (biased variance, eps inside the square root),
 * optionally affine and optionally adaLN-modulated. Returns `out` (x's shape and dtype; must not alias
 * x). x and out are f32, or both f16 where the device has `shader-f16` (the 'tree' path; sums in f32, each
 * output rounded once: relative error ≤ 2⁻¹¹ + 1e-6 per element against float64 on the f16 inputs).
 */
export function layerNorm(ctx: GpuContext, x: Tensor, options: LayerNormOptions): Tensor {
  const op = 'layerNorm';
  const { eps, weight, bias, modulation } = options;
  const template = activationFlags(ctx, op, options.out ? { x, out: options.out } : { x });
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
    expectSameShape(op, 'x', x, 'out', options.out);
    if (options.out.buffer === x.buffer) throw new Error(`${op}: out must not alias x`);
  }
  if (template.length && options.path === 'rows') throw new Error(`${op}: the rows path takes f32 only; f16 runs on the tree path`);
  const path = template.length ? 'tree' : choosePath(ctx, op, options.path, { x, weight, bias, 'modulation table': modulation?.table });
  const out = options.out ?? ctx.empty(x.shape, x.dtype, op);
  if (x.size === 0) return out;
  const rowsPath = path === 'rows';
  const flags = { HAS_WEIGHT: weight ? 1 : 0, HAS_BIAS: bias ? 1 : 0, HAS_MODULATION: modulation ? 1 : 0 };
  const rowBytes = (x.dtype === 'f16' ? 2 : 4) * cols;
  const segments = rowSegments(ctx, op, rows, [{ tensor: x, rowBytes }, { tensor: out, rowBytes }], [weight, bias, modulation?.table]);
  for (const segment of segments) {
    const xPart = rowRange(x, rowBytes, segment, rows);
    ctx.dispatch(
      rowsPath
        ? { shader: 'layer_norm_rows', constants: { ...flags, ALIGNED: cols % 4 === 0 ? 1 : 0 } }
        : { shader: 'layer_norm', flags: template, constants: { ...flags, THREADS: rowThreads(cols) } },
      {
        // Bindings a variant does not read are filled with x (read-only, so binding it twice is valid).
        bindings: { x: xPart, weight: weight ?? xPart, bias: bias ?? xPart, table: modulation?.table ?? xPart, out: rowRange(out, rowBytes, segment, rows) },
        uniforms: {
          rows: segment.count,
          cols,
          eps,
          shiftRow: modulation?.shiftRow ?? 0,
          scaleRow: modulation?.scaleRow ?? 0,
        },
        workgroups: rowsPath ? Math.ceil(segment.count / ROWS_PER_GROUP) : segment.count,
        label: op,
      },
    );
  }
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
