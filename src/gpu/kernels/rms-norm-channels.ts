import type { GpuContext } from '../context.ts';
import { formatShape, type Tensor } from '../tensor.ts';
import { expectDType, expectShape, groupsFor } from './check.ts';

export interface RmsNormChannelsOptions {
  /** SiLU after the norm (Wan's RMS_norm → SiLU pairs). */
  silu?: boolean;
  out?: Tensor;
  label?: string;
}

/**
 * RMS norm across the channels of each pixel, as the Wan VAE's RMS_norm: x [N, C, ...spatial] f32,
 * gamma [C] f32 → x / max(‖x[n, :, p]‖₂, 1e-12) · √C · gamma (then SiLU if asked), x's shape.
 */
export function rmsNormChannels(ctx: GpuContext, x: Tensor, gamma: Tensor, options: RmsNormChannelsOptions = {}): Tensor {
  const op = options.label ?? 'rmsNormChannels';
  expectDType(op, 'x', x, 'f32');
  if (x.shape.length < 2) throw new Error(`${op}: x must be [N, C, ...], got ${formatShape(x.shape)}`);
  const [N, C, ...spatial] = x.shape;
  const P = spatial.reduce((a, b) => a * b, 1);
  expectDType(op, 'gamma', gamma, 'f32');
  expectShape(op, 'gamma', gamma, [C]);
  if (options.out) {
    expectDType(op, 'out', options.out, 'f32');
    expectShape(op, 'out', options.out, x.shape);
    if (options.out.buffer === x.buffer) throw new Error(`${op}: out must not share a buffer with x`);
  }
  const y = options.out ?? ctx.empty(x.shape, 'f32', op);
  const count = N * P;
  if (count > 0 && C > 0) {
    ctx.dispatch(
      { shader: 'rms_norm_channels', constants: { ACTIVATION: options.silu ? 1 : 0 } },
      { bindings: { x, gamma, out: y }, uniforms: { N, C, P }, workgroups: groupsFor(count), label: op },
    );
  }
  return y;
}
