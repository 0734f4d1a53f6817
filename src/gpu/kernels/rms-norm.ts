import type { GpuContext } from '../context.ts';
import { formatShape, type Tensor } from '../tensor.ts';
import { activationFlags, expectDType, expectSameShape, expectShape, rowsCols } from './check.ts';
import { ROWS_PER_GROUP, choosePath, rowThreads, type NormPath } from './layer-norm.ts';
import { rowRange, rowSegments } from './segments.ts';

export interface RmsNormOptions {
  /** Defaults to the adapter's best (see `preferredNormPath` in layer-norm.ts). */
  path?: NormPath;
}

/**
 * RMSNorm over the whole last dimension C of x [..., C]: y = x / sqrt(mean(x²) + eps) · weight,
 * weight [C] f32. Returns `out` (x's shape and dtype; must not alias x). x and out are f32, or both f16
 * where the device has `shader-f16` (the 'tree' path; sums in f32, each output rounded once to f16:
 * relative error ≤ 2⁻¹¹ + 1e-6 per element against float64 on the f16 inputs).
 */
export function rmsNorm(ctx: GpuContext, x: Tensor, weight: Tensor, eps: number, out?: Tensor, options: RmsNormOptions = {}): Tensor {
  const op = 'rmsNorm';
  const flags = activationFlags(ctx, op, out ? { x, out } : { x });
  if (x.shape.length < 1) throw new Error(`${op}: x must have at least one dimension, got ${formatShape(x.shape)}`);
  const { rows, cols } = rowsCols(x);
  expectDType(op, 'weight', weight, 'f32');
  expectShape(op, 'weight', weight, [cols]);
  if (!Number.isFinite(eps) || eps < 0) throw new Error(`${op}: eps must be a finite number ≥ 0, got ${eps}`);
  if (out) {
    expectSameShape(op, 'x', x, 'out', out);
    if (out.buffer === x.buffer || out.buffer === weight.buffer) throw new Error(`${op}: out must not alias x or weight`);
  }
  if (flags.length && options.path === 'rows') throw new Error(`${op}: the rows path takes f32 only; f16 runs on the tree path`);
  const path = flags.length ? 'tree' : choosePath(ctx, op, options.path, { x, weight });
  const y = out ?? ctx.empty(x.shape, x.dtype, op);
  if (x.size === 0) return y;
  const rowBytes = (x.dtype === 'f16' ? 2 : 4) * cols;
  for (const segment of rowSegments(ctx, op, rows, [{ tensor: x, rowBytes }, { tensor: y, rowBytes }], [weight])) {
    const bindings = { x: rowRange(x, rowBytes, segment, rows), weight, out: rowRange(y, rowBytes, segment, rows) };
    const uniforms = { rows: segment.count, cols, eps };
    if (path === 'rows') {
      ctx.dispatch(
        { shader: 'rms_norm_rows', constants: { ALIGNED: cols % 4 === 0 ? 1 : 0 } },
        { bindings, uniforms, workgroups: Math.ceil(segment.count / ROWS_PER_GROUP), label: op },
      );
    } else {
      ctx.dispatch({ shader: 'rms_norm', flags, constants: { THREADS: rowThreads(cols) } }, { bindings, uniforms, workgroups: segment.count, label: op });
    }
  }
  return y;
}
