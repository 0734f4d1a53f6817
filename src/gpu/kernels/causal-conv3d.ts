import type { GpuContext } from '../context.ts';
import { formatShape, type Tensor } from '../tensor.ts';
import { expectDType, expectRank, expectShape } from './check.ts';
import { tileFor, WEIGHT_FORMAT_CODE } from './conv2d.ts'; // the tile shapes of conv2d.wgsl, which this kernel shares

/** 'none', or 'wan-frames': the VAE's clamp to [−1, 1] mapped to [0, 1], (clamp(v, −1, 1) + 1)/2. */
export type CausalConvActivation = 'none' | 'wan-frames';

export interface CausalConv3dOptions {
  /**
   * The last kt − 1 input frames of the previous chunk, [kt − 1, Cin, H, W] f32 or f16, oldest first;
   * without it they are zeros (the causal padding of the first chunk). Ignored for 1-frame kernels.
   */
  past?: Tensor;
  /** [Cout] f32. */
  bias?: Tensor;
  /** Spatial zero padding. */
  padding: 0 | 1;
  /** [N, Cout, Ho, Wo] f32, added after the bias, before the activation. */
  residual?: Tensor;
  activation?: CausalConvActivation;
  out?: Tensor;
  label?: string;
}

const ACTIVATION_CODE: Record<CausalConvActivation, number> = { none: 0, 'wan-frames': 1 };

/**
 * Causal 3-D convolution of a chunk of frames, as Wan's CausalConv3d with its feature cache:
 * x [N, Cin, H, W] f32 (N consecutive frames), weight [Cout, Cin, kt, k, k] (kt ∈ {1, 3}, k ∈ {1, 3};
 * f32, f16 or bf16, accumulated in f32) → [N, Cout, H + 2·padding − k + 1, W + 2·padding − k + 1].
 * Output frame n sees input frames n − kt + 1 … n, reaching into `past` (or zeros) before frame 0.
 * A 2-D convolution is the case kt = 1.
 */
export function causalConv3d(ctx: GpuContext, x: Tensor, weight: Tensor, options: CausalConv3dOptions): Tensor {
  const op = options.label ?? 'causalConv3d';
  expectDType(op, 'x', x, 'f32');
  expectRank(op, 'x', x, 4);
  expectDType(op, 'weight', weight, 'f32', 'f16', 'bf16');
  expectRank(op, 'weight', weight, 5);
  const [N, Cin, H, W] = x.shape;
  const [Cout, wCin, kt, kh, kw] = weight.shape;
  if (kh !== kw || (kh !== 1 && kh !== 3)) throw new Error(`${op}: weight ${formatShape(weight.shape)} must have a 1×1 or 3×3 spatial kernel`);
  if (kt !== 1 && kt !== 3) throw new Error(`${op}: weight ${formatShape(weight.shape)} must span 1 or 3 frames`);
  if (wCin !== Cin) throw new Error(`${op}: weight ${formatShape(weight.shape)} expects ${wCin} input channels, x ${formatShape(x.shape)} has ${Cin}`);
  const padding = options.padding;
  if (padding !== 0 && padding !== 1) throw new Error(`${op}: padding must be 0 or 1, got ${String(padding)}`);
  const Ho = H + 2 * padding - kh + 1;
  const Wo = W + 2 * padding - kw + 1;
  if (N < 1 || Cin < 1 || Cout < 1 || Ho < 1 || Wo < 1) {
    throw new Error(`${op}: x ${formatShape(x.shape)} with weight ${formatShape(weight.shape)} and padding ${padding} gives no output`);
  }
  const past = kt > 1 ? options.past : undefined;
  if (past) {
    expectDType(op, 'past', past, 'f32', 'f16');
    expectShape(op, 'past', past, [kt - 1, Cin, H, W]);
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
  const activation = options.activation ?? 'none';
  if (!Object.hasOwn(ACTIVATION_CODE, activation)) throw new Error(`${op}: unknown activation "${activation}"`);
  if (options.out) {
    expectDType(op, 'out', options.out, 'f32');
    expectShape(op, 'out', options.out, outShape);
    for (const [name, t] of [['x', x], ['past', past], ['residual', options.residual]] as const) {
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
      shader: 'causal_conv3d',
      constants: {
        WEIGHT_FORMAT: WEIGHT_FORMAT_CODE[weight.dtype as keyof typeof WEIGHT_FORMAT_CODE],
        PAST_FORMAT: past?.dtype === 'f16' ? 1 : 0,
        CO_GROUPS: tile.CO_GROUPS,
        PX_GROUPS: tile.PX_GROUPS,
        KT: tile.KT,
      },
    },
    {
      // Unused bindings are bound to x: the shader never reads them (has_past, has_bias, has_residual say so).
      bindings: { x, past: past ?? x, weight, bias: options.bias ?? x, residual: options.residual ?? x, out: y },
      uniforms: {
        Cin,
        H,
        W,
        Cout,
        Ho,
        Wo,
        pad: padding,
        K: Cin * kt * kh * kw,
        pixels,
        tiles_co: tilesCo,
        tiles_px: tilesPx,
        has_past: past ? 1 : 0,
        time_taps: kt,
        ksize: kh,
        has_bias: options.bias ? 1 : 0,
        has_residual: options.residual ? 1 : 0,
        activation: ACTIVATION_CODE[activation],
      },
      workgroups: tilesCo * tilesPx,
      label: op,
    },
  );
  return y;
}
