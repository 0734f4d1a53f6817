import type { GpuContext } from '../context.ts';
import type { Tensor } from '../tensor.ts';
import { expectDType, expectSameShape, groupsFor } from './check.ts';

export type UnaryOp = 'silu' | 'gelu_tanh' | 'relu' | 'tanh_clamp3' | 'clamp01';

const OP_CODE: Record<UnaryOp, number> = { silu: 0, gelu_tanh: 1, relu: 2, tanh_clamp3: 3, clamp01: 4 };

/** out = op(x), elementwise; `out` defaults to a new tensor of x's shape. */
export function unary(ctx: GpuContext, op: UnaryOp, x: Tensor, out?: Tensor): Tensor {
  expectDType(op, 'x', x, 'f32');
  const y = out ?? ctx.empty(x.shape, 'f32', op);
  expectDType(op, 'out', y, 'f32');
  expectSameShape(op, 'x', x, 'out', y);
  ctx.dispatch(
    { shader: 'unary', constants: { OP: OP_CODE[op] } },
    { bindings: { x, out: y }, uniforms: { count: x.size }, workgroups: groupsFor(x.size), label: op },
  );
  return y;
}
