// The last stage of generation: latents (as the sampler leaves them) to RGB frames in [0, 1].

import type { GpuContext } from '../gpu/context.ts';
import type { Tensor } from '../gpu/tensor.ts';

export interface DecodeOptions {
  /** Checked between stages; an abort releases every intermediate before rethrowing. */
  signal?: AbortSignal;
}

export interface VideoDecoder {
  /** Output frames per latent frame (the first latent frame gives one frame: F = s·(T − 1) + 1). */
  readonly temporalScale: number;
  /** Output pixels per latent pixel, in each direction. */
  readonly spatialScale: number;
  readonly latentChannels: number;
  /**
   * latents [T, latentChannels, h, w] f32 (not consumed: the caller still owns them) →
   * frames [temporalScale·(T − 1) + 1, 3, spatialScale·h, spatialScale·w] f32 in [0, 1], owned by the caller.
   */
  decode(ctx: GpuContext, latents: Tensor, options?: DecodeOptions): Promise<Tensor>;
  /** Releases the decoder's weights. */
  dispose(): void;
}
