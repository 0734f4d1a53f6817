import type { GpuContext } from '../context.ts';
import type { Tensor } from '../tensor.ts';
import { activationFlags, expectSameShape, groupsFor } from './check.ts';

export type UnaryOp = 'silu' | 'gelu_tanh' | 'relu' | 'tanh_clamp3' | 'clamp01';

const OP_CODE: Record<UnaryOp, number> = { silu: 0, gelu_tanh: 1, relu: 2, tanh_clamp3: 3, clamp01: 4 };

/**
 * out = op(x), elementwise, computed in f32; `out` defaults to a new tensor of x's shape and dtype.
 * x and out are f32, or both f16 where the device has `shader-f16` (each result rounded once: relative
 * error ≤ 2⁻¹¹ per element against float64 on the f16 inputs).
 */
export function unary(ctx: GpuContext, op: UnaryOp, x: Tensor, out?: Tensor): Tensor {
  activationFlags(ctx, op, out ? { x, out } : { x });
  const y = out ?? ctx.empty(x.shape, x.dtype, op);
  expectSameShape(op, 'x', x, 'out', y);
  ctx.dispatch(
    { shader: 'unary', flags: activationFlags(ctx, op, { x, out: y }), constants: { OP: OP_CODE[op] } },
    { bindings: { x, out: y }, uniforms: { count: x.size }, workgroups: groupsFor(x.size), label: op },
  );
  return y;
}
