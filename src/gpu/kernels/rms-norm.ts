import type { GpuContext } from '../context.ts';
import { formatShape, type Tensor } from '../tensor.ts';
import { expectDType, expectSameShape, expectShape, rowsCols } from './check.ts';
import { rowThreads } from './layer-norm.ts';

/**
 * RMSNorm over the whole last dimension C of x [..., C]: y = x / sqrt(mean(x²) + eps) · weight,
 * weight [C]. Returns `out` (x's shape; must not alias x).
 */
export function rmsNorm(ctx: GpuContext, x: Tensor, weight: Tensor, eps: number, out?: Tensor): Tensor {
  const op = 'rmsNorm';
  expectDType(op, 'x', x, 'f32');
  if (x.shape.length < 1) throw new Error(`${op}: x must have at least one dimension, got ${formatShape(x.shape)}`);
  const { rows, cols } = rowsCols(x);
  expectDType(op, 'weight', weight, 'f32');
  expectShape(op, 'weight', weight, [cols]);
  if (!Number.isFinite(eps) || eps < 0) throw new Error(`${op}: eps must be a finite number ≥ 0, got ${eps}`);
  if (out) {
    expectDType(op, 'out', out, 'f32');
    expectSameShape(op, 'x', x, 'out', out);
    if (out.buffer === x.buffer || out.buffer === weight.buffer) throw new Error(`${op}: out must not alias x or weight`);
  }
  const y = out ?? ctx.empty(x.shape, 'f32', op);
  if (x.size === 0) return y;
  ctx.dispatch(
    { shader: 'rms_norm', constants: { THREADS: rowThreads(cols) } },
    { bindings: { x, weight, out: y }, uniforms: { rows, cols, eps }, workgroups: rows, label: op },
  );
  return y;
}
