import type { GpuContext } from '../context.ts';
import { formatShape, type Tensor } from '../tensor.ts';
import { expectDType, expectRank, expectShape } from './check.ts';

export type ConvActivation = 'none' | 'relu' | 'clamp01';

/**
 * Input channels appended after x's, as torch.cat([x, second], 1) but read in place:
 * - `{ tensor }`: a second tensor [N, C2, H, W];
 * - `{ previousFrame: true, first? }`: x itself one frame earlier (TAEHV's block memory), so frame n reads
 *   x's frame n − 1 and frame 0 reads `first` [1, C1, H, W] (the frame before this chunk), or zeros.
 */
export type ConvConcat = { tensor: Tensor } | { previousFrame: true; first?: Tensor };

export interface Conv2dOptions {
  /** [Cout] f32. */
  bias?: Tensor;
  padding: 0 | 1;
  /** Applied last, after bias and residual. */
  activation?: ConvActivation;
  /** [N, Cout, Ho, Wo] f32, added before the activation (a skip connection). */
  residual?: Tensor;
  concat?: ConvConcat;
  out?: Tensor;
  label?: string;
}

const ACTIVATION_CODE: Record<ConvActivation, number> = { none: 0, relu: 1, clamp01: 2 };
/** The weight dtypes conv2d.wgsl (and causal_conv3d.wgsl, which shares its tiles) reads. */
export const WEIGHT_FORMAT_CODE = { f32: 0, f16: 1, bf16: 2 } as const;

/** Two tile shapes (see conv2d.wgsl): 64 channels × 64 pixels, or 8 × 256 when there are few output channels. */
export function tileFor(cout: number): { CO_GROUPS: number; PX_GROUPS: number; KT: number; tileCo: number; tilePx: number } {
  if (cout <= 8) return { CO_GROUPS: 1, PX_GROUPS: 32, KT: 4, tileCo: 8, tilePx: 256 };
  return { CO_GROUPS: 8, PX_GROUPS: 8, KT: 16, tileCo: 64, tilePx: 64 };
}

/**
 * 2-D convolution, stride 1, 1×1 or 3×3 kernel: x [N, C1, H, W] f32, weight [Cout, C1 + C2, k, k] in
 * f32, f16 or bf16 (accumulated in f32) → [N, Cout, H + 2·padding − k + 1, W + 2·padding − k + 1].
 * out = activation(conv(cat[x, concat]) + bias + residual).
 */
export function conv2d(ctx: GpuContext, x: Tensor, weight: Tensor, options: Conv2dOptions): Tensor {
  const op = options.label ?? 'conv2d';
  expectDType(op, 'x', x, 'f32');
  expectRank(op, 'x', x, 4);
  expectDType(op, 'weight', weight, 'f32', 'f16', 'bf16');
  expectRank(op, 'weight', weight, 4);
  const [N, C1, H, W] = x.shape;
  const [Cout, Cin, kh, kw] = weight.shape;
  if (kh !== kw || (kh !== 1 && kh !== 3)) throw new Error(`${op}: weight ${formatShape(weight.shape)} must be a 1×1 or 3×3 kernel`);
  const padding = options.padding;
  if (padding !== 0 && padding !== 1) throw new Error(`${op}: padding must be 0 or 1, got ${String(padding)}`);
  const Ho = H + 2 * padding - kh + 1;
  const Wo = W + 2 * padding - kw + 1;
  if (N < 1 || C1 < 1 || Cout < 1 || Ho < 1 || Wo < 1) {
    throw new Error(`${op}: x ${formatShape(x.shape)} with weight ${formatShape(weight.shape)} and padding ${padding} gives no output`);
  }

  let concatCode = 0;
  let C2 = 0;
  let extra: Tensor | undefined;
  const concat = options.concat;
  if (concat && 'tensor' in concat) {
    extra = concat.tensor;
    expectDType(op, 'concat', extra, 'f32');
    expectRank(op, 'concat', extra, 4);
    C2 = extra.shape[1];
    expectShape(op, 'concat', extra, [N, C2, H, W]);
    concatCode = 1;
  } else if (concat) {
    C2 = C1;
    if (concat.first) {
      extra = concat.first;
      expectDType(op, 'concat.first', extra, 'f32');
      expectShape(op, 'concat.first', extra, [1, C1, H, W]);
      concatCode = 3;
    } else concatCode = 2;
  }
  if (Cin !== C1 + C2) {
    throw new Error(`${op}: weight ${formatShape(weight.shape)} expects ${Cin} input channels, x${C2 ? ' and concat' : ''} give ${C1 + C2}`);
  }
  const outShape = [N, Cout, Ho, Wo];
  if (options.bias) {
    expectDType(op, 'bias', options.bias, 'f32');
    expectShape(op, 'bias', options.bias, [Cout]);
  }
  if (options.residual) {
    expectDType(op, 'residual', options.residual, 'f32');
    expectShape(op, 'residual', options.residual, outShape);
  }
  if (options.out) {
    expectDType(op, 'out', options.out, 'f32');
    expectShape(op, 'out', options.out, outShape);
    for (const [name, t] of [['x', x], ['residual', options.residual], ['concat', extra]] as const) {
      if (t && t.buffer === options.out.buffer) throw new Error(`${op}: out must not share a buffer with ${name}`);
    }
  }

  const tile = tileFor(Cout);
  const tilesCo = Math.ceil(Cout / tile.tileCo);
  const pixels = N * Ho * Wo;
  const tilesPx = Math.ceil(pixels / tile.tilePx);
  const y = options.out ?? ctx.empty(outShape, 'f32', op);
  ctx.dispatch(
    {
      shader: 'conv2d',
      constants: {
        KSIZE: kh,
        WEIGHT_FORMAT: WEIGHT_FORMAT_CODE[weight.dtype as keyof typeof WEIGHT_FORMAT_CODE],
        HAS_BIAS: options.bias ? 1 : 0,
        HAS_RESIDUAL: options.residual ? 1 : 0,
        ACTIVATION: ACTIVATION_CODE[options.activation ?? 'none'],
        CONCAT: concatCode,
        CO_GROUPS: tile.CO_GROUPS,
        PX_GROUPS: tile.PX_GROUPS,
        KT: tile.KT,
      },
    },
    {
      // Unused bindings are bound to x: the shader never reads them (HAS_BIAS, HAS_RESIDUAL, CONCAT say so).
      bindings: { x, weight, bias: options.bias ?? x, residual: options.residual ?? x, extra: extra ?? x, out: y },
      uniforms: {
        C1,
        C2,
        H,
        W,
        Cout,
        Ho,
        Wo,
        pad: padding,
        K: Cin * kh * kw,
        pixels,
        tiles_co: tilesCo,
        tiles_px: tilesPx,
      },
      workgroups: tilesCo * tilesPx,
      label: op,
    },
  );
  return y;
}
