// The decoder of a pixel-space model: its samples are already RGB frames, in [−1, 1].

import type { GpuContext } from '../gpu/context.ts';
import type { Tensor } from '../gpu/tensor.ts';
import { conv2d } from '../gpu/kernels/conv2d.ts';
import { expectDType, expectRank } from '../gpu/kernels/check.ts';
import type { DecodeOptions, VideoDecoder } from './decoder.ts';

/** frames = clamp((latents + 1) / 2, 0, 1); latents [T, 3, H, W] → frames [T, 3, H, W]. */
export class IdentityDecoder implements VideoDecoder {
  readonly temporalScale = 1;
  readonly spatialScale = 1;
  readonly latentChannels: number;
  private scale: { weight: Tensor; bias: Tensor } | undefined;

  constructor(channels = 3) {
    if (channels !== 3) throw new Error(`a pixel-space model must produce 3 channels (RGB) to be shown as frames, this one produces ${channels}`);
    this.latentChannels = channels;
  }

  async decode(ctx: GpuContext, latents: Tensor, options: DecodeOptions = {}): Promise<Tensor> {
    options.signal?.throwIfAborted();
    expectDType('IdentityDecoder', 'latents', latents, 'f32');
    expectRank('IdentityDecoder', 'latents', latents, 4);
    if (latents.shape[1] !== this.latentChannels) {
      throw new Error(`IdentityDecoder: latents must be [T, ${this.latentChannels}, H, W], got [${latents.shape.join(', ')}]`);
    }
    // (x + 1)/2 per channel is a 1×1 convolution by ½·I with bias ½; its clamp epilogue does the rest.
    // (½·x + ½ rounds once, exactly as (x + 1)/2 does: halving is exact.)
    if (!this.scale || this.scale.weight.ctx !== ctx) {
      this.dispose();
      const c = this.latentChannels;
      const weight = new Float32Array(c * c);
      for (let i = 0; i < c; i++) weight[i * c + i] = 0.5;
      this.scale = { weight: ctx.upload(weight, [c, c, 1, 1], 'f32', 'identity decoder ½·I'), bias: ctx.upload(new Float32Array(c).fill(0.5), [c], 'f32', 'identity decoder ½') };
    }
    return conv2d(ctx, latents, this.scale.weight, { padding: 0, bias: this.scale.bias, activation: 'clamp01', label: 'identity decoder' });
  }

  dispose(): void {
    this.scale?.weight.release();
    this.scale?.bias.release();
    this.scale = undefined;
  }
}
