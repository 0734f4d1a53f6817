import type { GpuContext } from '../context.ts';
import type { Tensor } from '../tensor.ts';
import { expectDType, groupsFor } from './check.ts';
import { rowRange, rowSegments } from './segments.ts';

/**
 * [A, B, ...rest] → [B, A, ...rest] (f32). Over the binding limit, in tiles: x's rows (along A) and
 * out's rows (along B) in segments, every element moved by the same code as in one dispatch.
 */
export function swapOuter(ctx: GpuContext, x: Tensor): Tensor {
  expectDType('swapOuter', 'x', x, 'f32');
  if (x.shape.length < 2) throw new Error(`swapOuter: x must have rank ≥ 2, got [${x.shape.join(', ')}]`);
  const [a, b, ...rest] = x.shape;
  const r = rest.reduce((p, d) => p * d, 1);
  const out = ctx.empty([b, a, ...rest], 'f32', 'swapOuter');
  if (x.size === 0) return out;
  const [xRowBytes, outRowBytes] = [b * r * 4, a * r * 4];
  for (const as of rowSegments(ctx, 'swapOuter', a, [{ tensor: x, rowBytes: xRowBytes }])) {
    for (const bs of rowSegments(ctx, 'swapOuter', b, [{ tensor: out, rowBytes: outRowBytes }])) {
      ctx.dispatch(
        { shader: 'swap_outer' },
        {
          bindings: { x: rowRange(x, xRowBytes, as, a), out: rowRange(out, outRowBytes, bs, b) },
          uniforms: { A: a, B: b, R: r, aStart: as.start, aCount: as.count, bStart: bs.start, bCount: bs.count },
          workgroups: groupsFor(as.count * bs.count * r),
          label: 'swapOuter',
        },
      );
    }
  }
  return out;
}
