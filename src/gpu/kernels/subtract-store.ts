import type { GpuContext } from '../context.ts';
import type { Tensor } from '../tensor.ts';
import { expectDType, expectSameShape, groupsFor } from './check.ts';
import { rowRange, rowSegments } from './segments.ts';

/**
 * a − b straight into `out` (a cached residual): f16 as `castToHalfChecked` stores it, raising
 * `flags[flagIndex]` (u32) on the GPU for a difference that is not finite or beyond the f16 range; f32
 * as the plain difference (flags untouched). One dispatch, and no f32 difference tensor in between.
 */
export function subtractInto(ctx: GpuContext, a: Tensor, b: Tensor, out: Tensor, flags: Tensor, flagIndex: number): Tensor {
  const op = 'subtractInto';
  expectDType(op, 'a', a, 'f32');
  expectDType(op, 'b', b, 'f32');
  expectDType(op, 'out', out, 'f16', 'f32');
  expectDType(op, 'flags', flags, 'u32');
  expectSameShape(op, 'a', a, 'b', b);
  expectSameShape(op, 'a', a, 'out', out);
  if (!Number.isInteger(flagIndex) || flagIndex < 0 || flagIndex >= flags.size) throw new Error(`${op}: flag ${flagIndex} outside 0..${flags.size - 1}`);
  if (out.buffer === a.buffer || out.buffer === b.buffer || flags.buffer === out.buffer) throw new Error(`${op}: out must not alias a, b or flags`);
  const half = out.dtype === 'f16';
  const outBytes = half ? 2 : 4;
  const n = a.size;
  const splits = [{ tensor: a, rowBytes: 4 }, { tensor: b, rowBytes: 4 }, { tensor: out, rowBytes: outBytes }];
  for (const s of rowSegments(ctx, op, n, splits, [flags])) {
    ctx.dispatch(
      { shader: 'subtract_store', constants: { HALF: half ? 1 : 0 } },
      {
        bindings: { a: rowRange(a, 4, s, n), b: rowRange(b, 4, s, n), out: rowRange(out, outBytes, s, n), flags },
        uniforms: { count: s.count, flagIndex },
        workgroups: groupsFor(half ? Math.ceil(s.count / 2) : s.count),
        label: half ? 'subtract → f16 checked' : 'subtract',
      },
    );
  }
  return out;
}
