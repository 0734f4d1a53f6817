import type { GpuContext } from '../context.ts';
import type { Tensor } from '../tensor.ts';
import { activationFlags, expectDType, expectSameShape, groupsFor } from './check.ts';
import { rowRange, rowSegments } from './segments.ts';

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
  // Elementwise: split into runs of elements when a tensor is over the binding limit.
  const flags = activationFlags(ctx, op, { a, out: y });
  const aBytes = a.dtype === 'f16' ? 2 : 4;
  const bBytes = b.dtype === 'f16' ? 2 : 4;
  const n = a.size;
  for (const s of rowSegments(ctx, op, n, [{ tensor: a, rowBytes: aBytes }, { tensor: b, rowBytes: bBytes }, { tensor: y, rowBytes: aBytes }])) {
    ctx.dispatch(
      { shader: 'add', flags, constants: { B_F16: b.dtype === 'f16' ? 1 : 0 } },
      {
        bindings: { a: rowRange(a, aBytes, s, n), b: rowRange(b, bBytes, s, n), out: rowRange(y, aBytes, s, n) },
        uniforms: { count: s.count },
        workgroups: groupsFor(s.count),
        label: op,
      },
    );
  }
  return y;
}
