import type { GpuContext } from '../context.ts';
import type { Tensor } from '../tensor.ts';
import { expectDType, expectSameShape, groupsFor } from './check.ts';
import { rowRange, rowSegments } from './segments.ts';

/** out = a + b, elementwise, same shapes (b f32, or f16 read in place); `out` defaults to a new f32
 * tensor and must alias neither input. */
export function add(ctx: GpuContext, a: Tensor, b: Tensor, out?: Tensor): Tensor {
  const op = 'add';
  expectDType(op, 'a', a, 'f32');
  expectDType(op, 'b', b, 'f32', 'f16');
  expectSameShape(op, 'a', a, 'b', b);
  if (out) {
    expectDType(op, 'out', out, 'f32');
    expectSameShape(op, 'a', a, 'out', out);
    // WebGPU forbids binding one buffer as both read-only and writable storage in a dispatch.
    if (out.buffer === a.buffer || out.buffer === b.buffer) throw new Error(`${op}: out must not alias a or b`);
  }
  const y = out ?? ctx.empty(a.shape, 'f32', op);
  if (a.size === 0) return y;
  // Elementwise: split into runs of elements when a tensor is over the binding limit.
  const bBytes = b.dtype === 'f16' ? 2 : 4;
  const n = a.size;
  for (const s of rowSegments(ctx, op, n, [{ tensor: a, rowBytes: 4 }, { tensor: b, rowBytes: bBytes }, { tensor: y, rowBytes: 4 }])) {
    ctx.dispatch(
      { shader: 'add', constants: { B_F16: b.dtype === 'f16' ? 1 : 0 } },
      {
        bindings: { a: rowRange(a, 4, s, n), b: rowRange(b, bBytes, s, n), out: rowRange(y, 4, s, n) },
        uniforms: { count: s.count },
        workgroups: groupsFor(s.count),
        label: op,
      },
    );
  }
  return y;
}
