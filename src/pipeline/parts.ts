// Wan2.1 from the single files people download instead of a diffusers folder: the transformer as one
// .safetensors (original key names, e.g. wan2.1_t2v_1.3B_fp16.safetensors, or diffusers'), umT5 as one
// file (fp16, bf16 or fp8), the Wan VAE file (wan_2.1_vae.safetensors), the tokenizer's spiece.model,
// and optionally a TAEHV decoder. Configs come from the shapes (the transformer's matched against the
// released sizes); the scheduler is Wan2.1's. The parts are checked against each other, with the same
// messages as a folder's, before the transformer's weights are read.

import type { GpuContext } from '../gpu/context.ts';
import type { ByteSource } from '../weights/source.ts';
import { openCheckpointFile } from '../weights/checkpoint.ts';
import { inferWanConfig } from '../model/config-infer.ts';
import { parseWanConfig, type WanConfig } from '../model/config.ts';
import { loadWanCheckpoint } from '../model/load.ts';
import type { VideoDecoder } from '../decoder/decoder.ts';
import { TaehvDecoder } from '../decoder/taehv.ts';
import { loadWanVaeFile, refusePickle } from '../decoder/wan-vae-load.ts';
import { checkLatentChannels, checkTextWidth, WAN_DEFAULTS, type ModelBundle } from './bundle.ts';
import { Umt5PromptEncoder, WAN_NEGATIVE_PROMPT } from './wan-text.ts';
import { WAN_TEXT_LENGTH } from '../model/umt5/prompt-embeds.ts';

/** Wan2.1's sampler (the scheduler_config.json of diffusers' Wan2.1-T2V folders: UniPC, flow shift 3). */
export const WAN21_SCHEDULER_CONFIG = {
  _class_name: 'UniPCMultistepScheduler',
  num_train_timesteps: 1000,
  solver_order: 2,
  prediction_type: 'flow_prediction',
  thresholding: false,
  predict_x0: true,
  solver_type: 'bh2',
  lower_order_final: true,
  use_karras_sigmas: false,
  use_exponential_sigmas: false,
  use_beta_sigmas: false,
  use_flow_sigmas: true,
  flow_shift: 3.0,
  timestep_spacing: 'linspace',
  steps_offset: 0,
  final_sigmas_type: 'zero',
};

export interface WanPartFiles {
  /** The Wan2.1 transformer, one .safetensors (original or diffusers key names). */
  transformer?: ByteSource;
  /** umT5-XXL, one .safetensors (Hugging Face or Wan's names; f32, bf16, fp16 or fp8). */
  textEncoder?: ByteSource;
  /** umT5's SentencePiece model (spiece.model). */
  tokenizer?: ByteSource;
  /** The Wan VAE, one .safetensors (original or diffusers key names). */
  vae?: ByteSource;
  /** A TAEHV decoder (taew2_1.safetensors): decodes instead of the VAE, much faster, lower quality. */
  taehv?: ByteSource;
  /** The transformer's config.json (parsed), for a file whose shapes are not a released size. */
  transformerConfig?: unknown;
  /** A diffusers scheduler config; default Wan2.1's (WAN21_SCHEDULER_CONFIG). */
  scheduler?: object;
}

export interface PartsLoadOptions {
  weights?: 'keep' | 'f32';
  onProgress?: (loadedBytes: number, totalBytes: number) => void;
  signal?: AbortSignal;
}

const WHERE = 'Wan2.1 from single files';

/** The parts a bundle cannot do without, named as a person picks them. */
function missingParts(parts: WanPartFiles): string[] {
  const missing: string[] = [];
  if (!parts.transformer) missing.push('the transformer (.safetensors)');
  if (!parts.textEncoder) missing.push('the text encoder (umT5 .safetensors)');
  if (!parts.tokenizer) missing.push('the tokenizer (spiece.model)');
  if (!parts.vae && !parts.taehv) missing.push('a decoder (the Wan VAE .safetensors, or a TAEHV file)');
  return missing;
}

async function readTokenizer(source: ByteSource, signal?: AbortSignal): Promise<Uint8Array> {
  const bytes = await source.read(0, source.size, signal);
  if (bytes[0] === 0x7b /* { */) {
    throw new Error(`${source.name} is JSON (tokenizer.json?), which webdit does not read: give umT5's SentencePiece model, spiece.model (google/umt5-xxl, or tokenizer/ of a Wan2.1 diffusers folder)`);
  }
  return bytes;
}

/** A model bundle from single files; throws naming a missing part, or parts of different models, before reading the transformer's weights. */
export async function loadBundleFromParts(ctx: GpuContext, parts: WanPartFiles, options: PartsLoadOptions = {}): Promise<ModelBundle> {
  const missing = missingParts(parts);
  if (missing.length) {
    throw new Error(`${WHERE} needs the transformer, the text encoder (umT5), the tokenizer (spiece.model) and a decoder (the Wan VAE, or a TAEHV file); missing ${missing.join(', ')}`);
  }
  const transformerFile = parts.transformer!;
  for (const source of [transformerFile, parts.textEncoder!, parts.vae, parts.taehv]) if (source) await refusePickle(source);
  const checkpoint = await openCheckpointFile(transformerFile);
  const config: WanConfig =
    parts.transformerConfig === undefined ? inferWanConfig(checkpoint, transformerFile.name) : parseWanConfig(parts.transformerConfig, `${transformerFile.name}'s config`);
  const promptEncoder = await Umt5PromptEncoder.fromFiles(await readTokenizer(parts.tokenizer!, options.signal), parts.textEncoder!);
  checkTextWidth(WHERE, `${parts.textEncoder!.name}: d_model ${promptEncoder.config.dModel}`, promptEncoder.config.dModel, config);

  // The decoder first: it is the smaller load, and its latent channels are checked before the transformer's weights are read.
  const decoder: VideoDecoder = parts.taehv ? await TaehvDecoder.load(ctx, parts.taehv) : await loadWanVaeFile(ctx, parts.vae!, { signal: options.signal });
  let model;
  try {
    if (parts.taehv) {
      if (decoder.latentChannels !== config.outChannels) {
        throw new Error(`${WHERE}: the TAEHV decoder takes ${decoder.latentChannels} latent channels, the transformer makes ${config.outChannels}: the two parts are from different models`);
      }
    } else checkLatentChannels(WHERE, decoder.latentChannels, config);
    model = await loadWanCheckpoint(ctx, config, checkpoint, transformerFile.name, options);
  } catch (e) {
    decoder.dispose();
    throw e;
  }
  const loaded = model;
  return {
    name: transformerFile.name.replace(/^.*[/\\]/, '').replace(/\.safetensors$/i, ''),
    model: loaded,
    decoder,
    scheduler: parts.scheduler ?? WAN21_SCHEDULER_CONFIG,
    textEncoder: undefined,
    promptEncoder,
    textLen: WAN_TEXT_LENGTH,
    condition: undefined,
    defaults: { ...WAN_DEFAULTS },
    negativePrompt: WAN_NEGATIVE_PROMPT,
    teacacheCoefficients: undefined,
    dispose() {
      loaded.dispose();
      decoder.dispose();
    },
  };
}
