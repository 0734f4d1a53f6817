import type { GpuContext } from '../context.ts';
import type { Tensor } from '../tensor.ts';
import { expectDType, expectSameShape, groupsFor } from './check.ts';
import { rowRange, rowSegments } from './segments.ts';

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
  // Elementwise: split into runs of elements when a tensor is over the binding limit.
  const n = a.size;
  for (const s of rowSegments(ctx, op, n, [a, b, y].map((tensor) => ({ tensor, rowBytes: 4 })))) {
    ctx.dispatch(
      { shader: 'multiply' },
      {
        bindings: { a: rowRange(a, 4, s, n), b: rowRange(b, 4, s, n), out: rowRange(y, 4, s, n) },
        uniforms: { count: s.count },
        workgroups: groupsFor(s.count),
        label: op,
      },
    );
  }
  return y;
}
