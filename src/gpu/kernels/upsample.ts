import type { GpuContext } from '../context.ts';
import type { Tensor } from '../tensor.ts';
import { expectDType, expectRank, expectShape, groupsFor } from './check.ts';

/** Nearest-neighbour 2× upsampling of the last two dimensions: [N, C, H, W] → [N, C, 2H, 2W]. */
export function upsampleNearest2x(ctx: GpuContext, x: Tensor, out?: Tensor): Tensor {
  const op = 'upsampleNearest2x';
  expectDType(op, 'x', x, 'f32');
  expectRank(op, 'x', x, 4);
  const [N, C, H, W] = x.shape;
  const outShape = [N, C, 2 * H, 2 * W];
  if (out) {
    expectDType(op, 'out', out, 'f32');
    expectShape(op, 'out', out, outShape);
    if (out.buffer === x.buffer) throw new Error(`${op}: out must not share a buffer with x`);
  }
  const y = out ?? ctx.empty(outShape, 'f32', op);
  const count = y.size;
  if (count > 0) {
    ctx.dispatch({ shader: 'upsample_nearest' }, { bindings: { x, out: y }, uniforms: { count, H, W }, workgroups: groupsFor(count), label: op });
  }
  return y;
}
