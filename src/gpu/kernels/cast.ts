import type { GpuContext } from '../context.ts';
import type { Tensor } from '../tensor.ts';
import { expectDType, expectSameShape, groupsFor } from './check.ts';

/** Converts between f32 and f16 (packed); returns x itself when it already has the dtype. */
export function cast(ctx: GpuContext, x: Tensor, dtype: 'f32' | 'f16', out?: Tensor): Tensor {
  expectDType('cast', 'x', x, 'f32', 'f16');
  if (x.dtype === dtype && !out) return x;
  if (x.dtype === dtype) throw new Error(`cast: x is already ${dtype}; copy it instead`);
  const y = out ?? ctx.empty(x.shape, dtype, `cast ${dtype}`);
  expectDType('cast', 'out', y, dtype);
  expectSameShape('cast', 'x', x, 'out', y);
  const toHalf = dtype === 'f16';
  const invocations = toHalf ? Math.ceil(x.size / 2) : x.size;
  ctx.dispatch(
    { shader: 'cast', constants: { OP: toHalf ? 0 : 1 } },
    { bindings: { x, out: y }, uniforms: { count: x.size }, workgroups: groupsFor(invocations), label: `cast ${x.dtype}→${dtype}` },
  );
  return y;
}

/**
 * f32 → f16 into `out`, raising `flags[flagIndex]` (u32) on the GPU when an element is not finite or
 * beyond the f16 range, so a caller can refuse to use what was stored without reading it back.
 */
export function castToHalfChecked(ctx: GpuContext, x: Tensor, out: Tensor, flags: Tensor, flagIndex: number): Tensor {
  expectDType('castToHalfChecked', 'x', x, 'f32');
  expectDType('castToHalfChecked', 'out', out, 'f16');
  expectDType('castToHalfChecked', 'flags', flags, 'u32');
  expectSameShape('castToHalfChecked', 'x', x, 'out', out);
  if (!Number.isInteger(flagIndex) || flagIndex < 0 || flagIndex >= flags.size) throw new Error(`castToHalfChecked: flag ${flagIndex} outside 0..${flags.size - 1}`);
  ctx.dispatch(
    { shader: 'cast_f16_checked' },
    { bindings: { x, out, flags }, uniforms: { count: x.size, flagIndex }, workgroups: groupsFor(Math.ceil(x.size / 2)), label: 'cast f32→f16 checked' },
  );
  return out;
}
