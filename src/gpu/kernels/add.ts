import type { GpuContext } from '../context.ts';
import type { Tensor } from '../tensor.ts';
import { activationFlags, expectDType, expectSameShape, groupsFor } from './check.ts';

/**
 * out = a + b, elementwise, same shapes, summed in f32 (b f32, or f16 read in place); `out` defaults to
 * a new tensor of a's dtype and must alias neither input. a and out are f32, or both f16 where the
 * device has `shader-f16` (the sum rounded once: relative error ≤ 2⁻¹¹ per element).
 */
export function add(ctx: GpuContext, a: Tensor, b: Tensor, out?: Tensor): Tensor {
  const op = 'add';
  activationFlags(ctx, op, out ? { a, out } : { a });
  expectDType(op, 'b', b, 'f32', 'f16');
  expectSameShape(op, 'a', a, 'b', b);
  if (out) {
    expectSameShape(op, 'a', a, 'out', out);
    // WebGPU forbids binding one buffer as both read-only and writable storage in a dispatch.
    if (out.buffer === a.buffer || out.buffer === b.buffer) throw new Error(`${op}: out must not alias a or b`);
  }
  const y = out ?? ctx.empty(a.shape, a.dtype, op);
  if (a.size === 0) return y;
  ctx.dispatch(
    { shader: 'add', flags: activationFlags(ctx, op, { a, out: y }), constants: { B_F16: b.dtype === 'f16' ? 1 : 0 } },
    { bindings: { a, b, out: y }, uniforms: { count: a.size }, workgroups: groupsFor(a.size), label: op },
  );
  return y;
}
