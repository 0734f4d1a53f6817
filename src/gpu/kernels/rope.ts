import type { GpuContext } from '../context.ts';
import type { Tensor } from '../tensor.ts';
import { expectDType, expectRank, expectShape, groupsFor } from './check.ts';
import { rowRange, rowSegments } from './segments.ts';

/**
 * Wan's 3-D RoPE on interleaved pairs: for token l and each head, (x[2j], x[2j+1]) is rotated by the
 * angle whose cos and sin are row l, column j of the tables (src/model/rope-tables.ts).
 * x, out: [L, heads·d]; cos, sin: [L, d/2]. `out` must be another tensor than x.
 */
export function rope(ctx: GpuContext, x: Tensor, cos: Tensor, sin: Tensor, heads: number, out?: Tensor): Tensor {
  const op = 'rope';
  expectDType(op, 'x', x, 'f32');
  expectRank(op, 'x', x, 2);
  const [tokens, width] = x.shape;
  if (!Number.isInteger(heads) || heads < 1) throw new Error(`${op}: heads must be a positive integer, got ${heads}`);
  if (width % heads !== 0) throw new Error(`${op}: x width ${width} is not a multiple of ${heads} heads`);
  const headDim = width / heads;
  if (headDim % 2 !== 0) throw new Error(`${op}: head size ${headDim} must be even (values are rotated in pairs)`);
  const halfDim = headDim / 2;
  expectDType(op, 'cos', cos, 'f32');
  expectShape(op, 'cos', cos, [tokens, halfDim]);
  expectDType(op, 'sin', sin, 'f32');
  expectShape(op, 'sin', sin, [tokens, halfDim]);
  if (out) {
    expectDType(op, 'out', out, 'f32');
    expectShape(op, 'out', out, x.shape);
    if (out.buffer === x.buffer) throw new Error(`${op}: out must be another tensor than x (WebGPU cannot bind one buffer as both input and output)`);
  }
  const y = out ?? ctx.empty(x.shape, 'f32', op);
  if (x.size === 0) return y;
  // Along tokens when a tensor is over the binding limit: x, out and the tables are split alike.
  const rowBytes = 4 * width;
  const tableBytes = 4 * halfDim;
  const splits = [{ tensor: x, rowBytes }, { tensor: y, rowBytes }, { tensor: cos, rowBytes: tableBytes }, { tensor: sin, rowBytes: tableBytes }];
  for (const segment of rowSegments(ctx, op, tokens, splits)) {
    const pairs = (segment.count * width) / 2;
    ctx.dispatch(
      { shader: 'rope' },
      {
        bindings: {
          x: rowRange(x, rowBytes, segment, tokens),
          cos: rowRange(cos, tableBytes, segment, tokens),
          sin: rowRange(sin, tableBytes, segment, tokens),
          out: rowRange(y, rowBytes, segment, tokens),
        },
        uniforms: { pairs, pairsPerHead: halfDim, pairsPerToken: heads * halfDim },
        workgroups: groupsFor(pairs),
        label: op,
      },
    );
  }
  return y;
}
