// A generation as the demo shows it, stage by stage: umT5 encodes the prompt and its negative (its
// weights streamed layer by layer) or the browser's prompt store spares it, the encoder is released,
// the transformer samples (per step), the decoder (the bundle's Wan VAE or a TAEHV preview decoder)
// makes the frames.

import type { GpuContext } from '../gpu/context.ts';
import type { VideoDecoder } from '../decoder/decoder.ts';
import type { ModelBundle } from '../pipeline/bundle.ts';
import type { GenerateProgress } from '../pipeline/generate.ts';
import { generateVideo, type GenerateRequest, type GenerateStage, type VideoResult } from '../pipeline/generate-video.ts';

export type RunStage = Exclude<GenerateStage, { stage: 'sample' }> | ({ stage: 'sample' } & GenerateProgress);

export interface StagedRequest extends Omit<GenerateRequest, 'onProgress' | 'onStage'> {
  onStage(stage: RunStage): void;
  /** Decodes with this decoder instead of the bundle's (a TAEHV preview for a Wan2.1 folder). */
  decoder?: VideoDecoder;
}

export interface StagedResult extends VideoResult {
  /** umT5's time (0 when the prompt came as embeddings or from the prompt store). */
  encodeSeconds: number;
}

/** The bundle with another decoder (the transformer and the text stage are shared). */
function withDecoder(bundle: ModelBundle, decoder: VideoDecoder | undefined): ModelBundle {
  return decoder ? { ...bundle, decoder } : bundle;
}

export async function generateStaged(ctx: GpuContext, bundle: ModelBundle, request: StagedRequest): Promise<StagedResult> {
  const { onStage, decoder, ...rest } = request;
  let encodeSeconds = 0;
  const result = await generateVideo(ctx, withDecoder(bundle, decoder), {
    ...rest,
    onStage: (stage) => {
      if (stage.stage === 'release') encodeSeconds = stage.seconds;
      // Sampling shows per step (onProgress); the decoder's start comes with the last step's report.
      if (stage.stage !== 'sample') onStage(stage);
    },
    onProgress: (p) => onStage({ stage: 'sample', ...p }),
  });
  return { ...result, encodeSeconds };
}
