import type { GpuContext } from '../context.ts';
import type { Tensor } from '../tensor.ts';
import { expectDType, groupsFor } from './check.ts';

/** [A, B, ...rest] → [B, A, ...rest] (f32). */
export function swapOuter(ctx: GpuContext, x: Tensor): Tensor {
  expectDType('swapOuter', 'x', x, 'f32');
  if (x.shape.length < 2) throw new Error(`swapOuter: x must have rank ≥ 2, got [${x.shape.join(', ')}]`);
  const [a, b, ...rest] = x.shape;
  const r = rest.reduce((p, d) => p * d, 1);
  const out = ctx.empty([b, a, ...rest], 'f32', 'swapOuter');
  ctx.dispatch({ shader: 'swap_outer' }, { bindings: { x, out }, uniforms: { A: a, B: b, R: r }, workgroups: groupsFor(x.size), label: 'swapOuter' });
  return out;
}
