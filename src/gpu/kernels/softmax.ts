import type { GpuContext } from '../context.ts';
import { formatShape, type Tensor } from '../tensor.ts';
import { expectDType, expectSameShape } from './check.ts';

/** Row-wise softmax of x [rows, cols] f32 scaled by `scale` first: softmax(scale·x) along the last dimension. */
export function softmaxRows(ctx: GpuContext, x: Tensor, scale = 1, out?: Tensor): Tensor {
  const op = 'softmaxRows';
  expectDType(op, 'x', x, 'f32');
  if (x.shape.length !== 2) throw new Error(`${op}: x must be [rows, cols], got ${formatShape(x.shape)}`);
  const [rows, cols] = x.shape;
  if (cols < 1) throw new Error(`${op}: rows of x are empty; softmax over nothing is undefined`);
  if (!Number.isFinite(scale)) throw new Error(`${op}: scale must be finite, got ${scale}`);
  if (out) {
    expectDType(op, 'out', out, 'f32');
    expectSameShape(op, 'x', x, 'out', out);
    if (out.buffer === x.buffer) throw new Error(`${op}: out must not share a buffer with x`);
  }
  const y = out ?? ctx.empty(x.shape, 'f32', op);
  if (rows > 0) ctx.dispatch({ shader: 'softmax_rows' }, { bindings: { x, out: y }, uniforms: { rows, cols, scale }, workgroups: rows, label: op });
  return y;
}
