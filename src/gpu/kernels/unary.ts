import type { GpuContext } from '../context.ts';
import type { Tensor } from '../tensor.ts';
import { activationFlags, expectSameShape, groupsFor } from './check.ts';
import { rowRange, rowSegments } from './segments.ts';

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
  // Elementwise: split into runs of elements when a tensor is over the binding limit.
  const flags = activationFlags(ctx, op, { x, out: y });
  const bytes = x.dtype === 'f16' ? 2 : 4;
  const n = x.size;
  if (n === 0) return y;
  for (const s of rowSegments(ctx, op, n, [x, y].map((tensor) => ({ tensor, rowBytes: bytes })))) {
    ctx.dispatch(
      { shader: 'unary', flags, constants: { OP: OP_CODE[op] } },
      { bindings: { x: rowRange(x, bytes, s, n), out: rowRange(y, bytes, s, n) }, uniforms: { count: s.count }, workgroups: groupsFor(s.count), label: op },
    );
  }
  return y;
}
