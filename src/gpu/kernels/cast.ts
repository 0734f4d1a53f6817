import type { GpuContext } from '../context.ts';
import type { Tensor } from '../tensor.ts';
import { expectDType, expectSameShape, groupsFor } from './check.ts';
import { rowRange, rowSegments } from './segments.ts';

/** Converts between f32 and f16 (packed); returns x itself when it already has the dtype. */
export function cast(ctx: GpuContext, x: Tensor, dtype: 'f32' | 'f16', out?: Tensor): Tensor {
  expectDType('cast', 'x', x, 'f32', 'f16');
  if (x.dtype === dtype && !out) return x;
  if (x.dtype === dtype) throw new Error(`cast: x is already ${dtype}; copy it instead`);
  const y = out ?? ctx.empty(x.shape, dtype, `cast ${dtype}`);
  expectDType('cast', 'out', y, dtype);
  expectSameShape('cast', 'x', x, 'out', y);
  const toHalf = dtype === 'f16';
  // Runs of elements when a tensor is over the binding limit (even-length runs: f16 packs two to a word).
  const n = x.size;
  const [xBytes, yBytes] = [x, y].map((t) => (t.dtype === 'f16' ? 2 : 4));
  for (const s of rowSegments(ctx, 'cast', n, [{ tensor: x, rowBytes: xBytes }, { tensor: y, rowBytes: yBytes }])) {
    const invocations = toHalf ? Math.ceil(s.count / 2) : s.count;
    ctx.dispatch(
      { shader: 'cast', constants: { OP: toHalf ? 0 : 1 } },
      {
        bindings: { x: rowRange(x, xBytes, s, n), out: rowRange(y, yBytes, s, n) },
        uniforms: { count: s.count },
        workgroups: groupsFor(invocations),
        label: `cast ${x.dtype}→${dtype}`,
      },
    );
  }
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
  const n = x.size;
  for (const s of rowSegments(ctx, 'castToHalfChecked', n, [{ tensor: x, rowBytes: 4 }, { tensor: out, rowBytes: 2 }], [flags])) {
    ctx.dispatch(
      { shader: 'cast_f16_checked' },
      {
        bindings: { x: rowRange(x, 4, s, n), out: rowRange(out, 2, s, n), flags },
        uniforms: { count: s.count, flagIndex },
        workgroups: groupsFor(Math.ceil(s.count / 2)),
        label: 'cast f32→f16 checked',
      },
    );
  }
  return out;
}
