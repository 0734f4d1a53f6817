import type { GpuContext } from '../context.ts';
import type { Tensor } from '../tensor.ts';
import { expectDType, expectSameShape, groupsFor } from './check.ts';

/** out = a · b, elementwise, same shapes, f32; `out` defaults to a new tensor and must alias neither input. */
export function multiply(ctx: GpuContext, a: Tensor, b: Tensor, out?: Tensor): Tensor {
  const op = 'multiply';
  expectDType(op, 'a', a, 'f32');
  expectDType(op, 'b', b, 'f32');
  expectSameShape(op, 'a', a, 'b', b);
  if (out) {
    expectDType(op, 'out', out, 'f32');
    expectSameShape(op, 'a', a, 'out', out);
    if (out.buffer === a.buffer || out.buffer === b.buffer) throw new Error(`${op}: out must not alias a or b`);
  }
  const y = out ?? ctx.empty(a.shape, 'f32', op);
  if (a.size === 0) return y;
  ctx.dispatch(
    { shader: 'multiply' },
    { bindings: { a, b, out: y }, uniforms: { count: a.size }, workgroups: groupsFor(a.size), label: op },
  );
  return y;
}
