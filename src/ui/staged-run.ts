// A generation as the demo shows it, stage by stage: umT5 encodes the prompt and its negative (its
// weights streamed layer by layer), the encoder is released, the transformer samples (per step), the
// decoder (the bundle's Wan VAE or a TAEHV preview decoder) makes the frames. The texts are encoded here
// rather than inside generateVideo so each umT5 layer can be reported; the rest is generateVideo's.

import type { GpuContext } from '../gpu/context.ts';
import type { VideoDecoder } from '../decoder/decoder.ts';
import type { ModelBundle } from '../pipeline/bundle.ts';
import { checkRequest, generateVideo, type GenerateRequest, type VideoResult } from '../pipeline/generate-video.ts';

export type RunStage =
  | { stage: 'encode'; layer: number; layers: number }
  | { stage: 'release'; liveBytes: number; seconds: number }
  | { stage: 'sample'; step: number; steps: number; elapsedMs: number; etaMs: number }
  | { stage: 'decode' };

export interface StagedRequest extends Omit<GenerateRequest, 'onProgress'> {
  onStage(stage: RunStage): void;
  /** Decodes with this decoder instead of the bundle's (a TAEHV preview for a Wan2.1 folder). */
  decoder?: VideoDecoder;
}

export interface StagedResult extends VideoResult {
  /** umT5's time (0 when the prompt came as embeddings). */
  encodeSeconds: number;
}

/** The bundle with another decoder (the transformer and the text stage are shared). */
function withDecoder(bundle: ModelBundle, decoder: VideoDecoder | undefined): ModelBundle {
  return decoder ? { ...bundle, decoder } : bundle;
}

export async function generateStaged(ctx: GpuContext, bundle: ModelBundle, request: StagedRequest): Promise<StagedResult> {
  const { onStage, decoder, ...rest } = request;
  const run = withDecoder(bundle, decoder);
  checkRequest(run, rest, ctx.limits); // everything checkable fails before umT5 reads a weight
  let encoded: GenerateRequest = rest;
  let encodeSeconds = 0;
  const encoder = bundle.promptEncoder;
  if (encoder && typeof rest.prompt === 'string') {
    const guidance = rest.guidance ?? bundle.defaults.guidance;
    const negativeText = rest.negativePrompt ?? bundle.negativePrompt;
    // Without guidance the unconditional branch does not run: its text is not encoded.
    const negative = guidance > 1 && typeof negativeText === 'string' ? negativeText : undefined;
    const layers = encoder.config.numLayers;
    onStage({ stage: 'encode', layer: 0, layers });
    const start = performance.now();
    const pair = await encoder.encode(ctx, rest.prompt, negative, bundle.textLen, {
      signal: rest.signal,
      onLayer: (layer) => onStage({ stage: 'encode', layer: layer + 1, layers }),
    });
    await ctx.sync();
    encodeSeconds = (performance.now() - start) / 1000;
    onStage({ stage: 'release', liveBytes: ctx.liveBytes, seconds: encodeSeconds });
    encoded = { ...rest, prompt: pair.prompt, negativePrompt: pair.negative };
  }
  const result = await generateVideo(ctx, run, {
    ...encoded,
    onProgress: (p) => {
      onStage({ stage: 'sample', ...p });
      if (p.step === p.steps) onStage({ stage: 'decode' });
    },
  });
  return { ...result, encodeSeconds };
}
