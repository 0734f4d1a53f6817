import type { GpuContext } from '../context.ts';
import type { Tensor } from '../tensor.ts';
import { expectDType, expectSameShape, groupsFor } from './check.ts';
import { rowRange, rowSegments } from './segments.ts';

export type UnaryOp = 'silu' | 'gelu_tanh' | 'relu' | 'tanh_clamp3' | 'clamp01';

const OP_CODE: Record<UnaryOp, number> = { silu: 0, gelu_tanh: 1, relu: 2, tanh_clamp3: 3, clamp01: 4 };

/** out = op(x), elementwise; `out` defaults to a new tensor of x's shape. */
export function unary(ctx: GpuContext, op: UnaryOp, x: Tensor, out?: Tensor): Tensor {
  expectDType(op, 'x', x, 'f32');
  const y = out ?? ctx.empty(x.shape, 'f32', op);
  expectDType(op, 'out', y, 'f32');
  expectSameShape(op, 'x', x, 'out', y);
  // Elementwise: split into runs of elements when a tensor is over the binding limit.
  const n = x.size;
  if (n === 0) return y;
  for (const s of rowSegments(ctx, op, n, [x, y].map((tensor) => ({ tensor, rowBytes: 4 })))) {
    ctx.dispatch(
      { shader: 'unary', constants: { OP: OP_CODE[op] } },
      { bindings: { x: rowRange(x, 4, s, n), out: rowRange(y, 4, s, n) }, uniforms: { count: s.count }, workgroups: groupsFor(s.count), label: op },
    );
  }
  return y;
}
