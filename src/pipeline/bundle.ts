// A model bundle: everything a generation needs, loaded from one diffusers-style folder
//   model_index.json                 (optional; webdit's defaults, text length, decoder)
//   transformer/config.json + weights (one safetensors file or shards)
//   scheduler/scheduler_config.json
//   text_encoder/                    (webdit's word encoder, or umT5: config.json + weights)
//   tokenizer/spiece.model, vae/     (Wan2.1's diffusers layout: umT5's tokenizer, the Wan VAE)
// The decoder is the identity for a pixel-space model, the folder's Wan VAE, or a TAEHV file given by
// the caller. A Wan2.1 folder's parts are checked against each other before any weight is read.

import type { GpuContext } from '../gpu/context.ts';
import { subFolder, type ModelFolder } from '../weights/folder.ts';
import { adapterShortfalls, checkAdapterFits } from './adapter-fit.ts';
import { readWanFolderConfigs, type CachePlan, type VideoSize } from './memory-plan.ts';
import type { ByteSource } from '../weights/source.ts';
import { loadWanTransformer, loadWanWeights } from '../model/load.ts';
import type { WanTransformer } from '../model/transformer.ts';
import { WordTextEncoder } from '../model/text-encoder.ts';
import type { VideoDecoder } from '../decoder/decoder.ts';
import { IdentityDecoder } from '../decoder/identity.ts';
import { TaehvDecoder } from '../decoder/taehv.ts';
import { POLICY_DEFAULTS, type CacheConfig } from '../cache/policies.ts';
import { checkModelFolder } from './preflight.ts';
import { checkConditionChannels, parseCondition, type ModelCondition } from '../model/condition.ts';
import { parseWanConfig, type WanConfig } from '../model/config.ts';
import { parseWanVaeConfig, type WanVaeConfig } from '../decoder/wan-vae-config.ts';
import { loadWanVaeFolder } from '../decoder/wan-vae-load.ts';
import { Umt5PromptEncoder, WAN_NEGATIVE_PROMPT } from './wan-text.ts';

export interface BundleDefaults {
  frames: number;
  height: number;
  width: number;
  steps: number;
  guidance: number;
}

/** Wan2.1's pipeline defaults (diffusers WanPipeline). */
export const WAN_DEFAULTS: BundleDefaults = { frames: 81, height: 480, width: 832, steps: 50, guidance: 5 };

export interface ModelBundle {
  name: string;
  model: WanTransformer;
  decoder: VideoDecoder;
  scheduler: object;
  textEncoder: WordTextEncoder | undefined;
  /** umT5 (Wan2.1 folders): text prompts are encoded by it, streamed, before sampling. */
  promptEncoder: Umt5PromptEncoder | undefined;
  textLen: number;
  /** Clean channels the transformer takes beside the noisy latents (model_index.json "condition"). */
  condition: ModelCondition | undefined;
  defaults: BundleDefaults;
  /** The unconditional branch's prompt text (model_index.json "negative_prompt"), if the model names one. */
  negativePrompt: string | undefined;
  /** TeaCache polynomial fitted on this model by `webdit calibrate` (teacache.json), if any. */
  teacacheCoefficients: number[] | undefined;
  /** Requests release the transformer's weights for decoding unless they say otherwise (set by loadBundle's fit 'auto'). */
  releaseTransformer?: boolean;
  /** Reads the transformer's weights again after `model.releaseWeights()` (a request's `releaseTransformer`); absent: they cannot be. */
  reloadTransformerWeights?: (signal?: AbortSignal) => Promise<void>;
  dispose(): void;
}

export const TEACACHE_CALIBRATION_FILE = 'teacache.json';

/** A cache config with the model's own calibration filled in where the spec left the default. */
export function withModelCalibration(config: CacheConfig, bundle: Pick<ModelBundle, 'teacacheCoefficients'>): CacheConfig {
  if (config.policy !== 'teacache' || !bundle.teacacheCoefficients) return config;
  const isDefault = JSON.stringify(config.coefficients) === JSON.stringify(POLICY_DEFAULTS.teacache.coefficients);
  return isDefault ? { ...config, coefficients: bundle.teacacheCoefficients } : config;
}

export interface BundleLoadOptions {
  /** A TAEHV decoder file, for latent-space models whose folder names no decoder of its own. */
  decoder?: ByteSource;
  /** A decoder already loaded (e.g. the Wan VAE); the bundle takes ownership. Wins over `decoder`. */
  videoDecoder?: VideoDecoder;
  weights?: 'keep' | 'f32';
  onProgress?: (loadedBytes: number, totalBytes: number) => void;
  signal?: AbortSignal;
  /**
   * The size to be generated (and a GPU memory budget): a Wan2.1 folder with its VAE is then checked
   * against the adapter's limits before any weight is read (see adapter-fit.ts); one it cannot run is
   * refused with an AdapterTooSmallError naming what is short and the largest preset that fits.
   */
  fit?: {
    video: Partial<VideoSize>;
    memoryBytes?: number;
    cache?: CachePlan;
    /** Plan decoding without the transformer's weights; 'auto': only where keeping them does not fit and releasing does (the bundle's requests then release them). */
    releaseTransformer?: boolean | 'auto';
  };
}

export { subFolder };

async function readJson(folder: ModelFolder, path: string): Promise<Record<string, unknown> | undefined> {
  const text = await folder.readText(path);
  if (text === undefined) return undefined;
  try {
    const json = JSON.parse(text) as unknown;
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error('not a JSON object');
    return json as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${folder.name}/${path}: invalid JSON (${(e as Error).message})`);
  }
}

function numberField(index: Record<string, unknown>, name: string, fallback: number): number {
  const v = index[name];
  return typeof v === 'number' && Number.isFinite(v) ? v : fallback;
}

/** The folder with its text files read once (the layout check and the loaders read the same small JSON files). */
function readingTextOnce(folder: ModelFolder): ModelFolder {
  const texts = new Map<string, Promise<string | undefined>>();
  return {
    name: folder.name,
    open: (path) => folder.open(path),
    readText: (path) => {
      let text = texts.get(path);
      if (!text) texts.set(path, (text = folder.readText(path)));
      return text;
    },
  };
}

/** The file that shows each diffusers part is there. */
const PART_FILES: Record<string, string> = {
  tokenizer: 'tokenizer/spiece.model',
  text_encoder: 'text_encoder/config.json',
  transformer: 'transformer/config.json',
  vae: 'vae/config.json',
  scheduler: 'scheduler/scheduler_config.json',
};

async function hasFile(folder: ModelFolder, path: string): Promise<boolean> {
  return (await folder.open(path)) !== undefined;
}

/** A Wan2.1 diffusers folder (umT5 text encoder): every part present, and the parts' widths agreeing. */
async function checkWanParts(folder: ModelFolder, index: Record<string, unknown>, hasOwnDecoder: boolean): Promise<{ transformer: WanConfig; vae?: WanVaeConfig }> {
  const parts = Object.keys(PART_FILES).filter((p) => p !== 'vae' || !hasOwnDecoder);
  const missing: string[] = [];
  for (const part of parts) if (!(await hasFile(folder, PART_FILES[part]))) missing.push(`${part}/ (no ${PART_FILES[part]})`);
  if (missing.length) {
    const listed = Object.keys(index).filter((k) => Array.isArray(index[k]));
    throw new Error(`${folder.name}: a Wan2.1 folder needs tokenizer/, text_encoder/, transformer/, vae/ and scheduler/; missing ${missing.join(', ')}` +
      (listed.length ? ` (model_index.json lists ${listed.join(', ')})` : ''));
  }
  const transformer = parseWanConfig(await readJson(folder, 'transformer/config.json'), `${folder.name}/transformer/config.json`);
  const textConfig = await readJson(folder, 'text_encoder/config.json');
  checkTextWidth(folder.name, `text_encoder/config.json d_model ${JSON.stringify(textConfig?.d_model)}`, textConfig?.d_model, transformer);
  if (hasOwnDecoder) return { transformer };
  const vae = parseWanVaeConfig((await folder.readText('vae/config.json'))!, `${folder.name}/vae/config.json`);
  checkLatentChannels(folder.name, vae.zDim, transformer);
  return { transformer, vae };
}

/** Throws unless the text encoder's width (`what` says where it was read) is the transformer's text_dim. */
export function checkTextWidth(where: string, what: string, dModel: unknown, transformer: WanConfig): void {
  if (dModel !== transformer.textDim) {
    throw new Error(`${where}: the text encoder's width (${what}) is not the transformer's text_dim ${transformer.textDim}: the two parts are from different models`);
  }
}

/** Throws unless the VAE's z_dim is the transformer's latent channels. */
export function checkLatentChannels(where: string, zDim: number, transformer: WanConfig): void {
  if (zDim !== transformer.outChannels || zDim > transformer.inChannels) {
    throw new Error(`${where}: the VAE's z_dim ${zDim} is not the transformer's latent channels (in_channels ${transformer.inChannels}, out_channels ${transformer.outChannels}): the two parts are from different models`);
  }
}

export async function loadBundle(ctx: GpuContext, modelFolder: ModelFolder, options: BundleLoadOptions = {}): Promise<ModelBundle> {
  const folder = readingTextOnce(modelFolder);
  await checkModelFolder(folder);
  const index = (await readJson(folder, 'model_index.json')) ?? {};
  // A Wan2.1 folder: diffusers' WanPipeline index, or a text_encoder/ that is not webdit's word encoder.
  const listsUmt5 = Array.isArray(index.text_encoder) && index.text_encoder[1] === 'UMT5EncoderModel';
  const umt5 =
    index._class_name === 'WanPipeline' || listsUmt5 || ((await hasFile(folder, 'text_encoder/config.json')) && !(await hasFile(folder, 'text_encoder/vocab.json')));
  const hasOwnDecoder = options.videoDecoder !== undefined || options.decoder !== undefined;
  const wan = umt5 ? await checkWanParts(folder, index, hasOwnDecoder) : undefined;
  let releaseTransformer = false;
  /** The transformer weights being read again (after a run released them), shared by overlapping runs. */
  let reloading: Promise<void> | undefined;
  if (wan?.vae && options.fit) {
    const { video, memoryBytes, cache } = options.fit;
    const size = {
      frames: video.frames ?? numberField(index, 'frames', WAN_DEFAULTS.frames),
      height: video.height ?? numberField(index, 'height', WAN_DEFAULTS.height),
      width: video.width ?? numberField(index, 'width', WAN_DEFAULTS.width),
    };
    const configs = await readWanFolderConfigs(folder);
    const capacity = { limits: ctx.limits, memoryBytes };
    const fitsWith = (release: boolean) => adapterShortfalls(configs, size, capacity, { cache, releaseTransformer: release }).shortfalls.length === 0;
    // 'auto': released where keeping them does not fit (if releasing does not fit either, the refusal gives its smaller need).
    const release = options.fit.releaseTransformer === 'auto' ? !fitsWith(false) : options.fit.releaseTransformer === true;
    checkAdapterFits(configs, size, capacity, { cache, releaseTransformer: release });
    releaseTransformer = release;
  }
  const scheduler = await readJson(folder, 'scheduler/scheduler_config.json');
  if (!scheduler) throw new Error(`${folder.name}: no scheduler/scheduler_config.json`);
  const hasTextEncoder = (await folder.readText('text_encoder/vocab.json')) !== undefined;
  const textEncoder = hasTextEncoder ? await WordTextEncoder.load(subFolder(folder, 'text_encoder')) : undefined;
  const promptEncoder = umt5 ? await Umt5PromptEncoder.load(subFolder(folder, 'tokenizer'), subFolder(folder, 'text_encoder')) : undefined;

  const transformerFolder = subFolder(folder, 'transformer');
  const model = await loadWanTransformer(ctx, transformerFolder, {
    weights: options.weights,
    onProgress: options.onProgress,
    signal: options.signal,
  });
  let decoder: VideoDecoder;
  let condition: ModelCondition | undefined;
  try {
    condition = parseCondition(index.condition, `${folder.name}/model_index.json`);
    checkConditionChannels(model.config, condition, folder.name);
    if (options.videoDecoder) decoder = options.videoDecoder;
    else if (wan?.vae && !options.decoder) decoder = await loadWanVaeFolder(ctx, subFolder(folder, 'vae'), { signal: options.signal });
    else if (index.decoder === 'identity') decoder = new IdentityDecoder(model.config.outChannels);
    else {
      const source = options.decoder ?? (typeof index.decoder === 'string' ? await folder.open(index.decoder) : undefined);
      if (!source) {
        throw new Error(`${folder.name}: a latent-space model needs a decoder: give a TAEHV file (taew2_1.safetensors) or the Wan VAE`);
      }
      decoder = await TaehvDecoder.load(ctx, source);
    }
  } catch (e) {
    model.dispose();
    throw e;
  }
  const defaults: BundleDefaults = {
    frames: numberField(index, 'frames', WAN_DEFAULTS.frames),
    height: numberField(index, 'height', WAN_DEFAULTS.height),
    width: numberField(index, 'width', WAN_DEFAULTS.width),
    steps: numberField(index, 'steps', numberField(index, 'default_steps', WAN_DEFAULTS.steps)),
    guidance: numberField(index, 'guidance', WAN_DEFAULTS.guidance),
  };
  const textLen = numberField(index, 'text_len', textEncoder?.textLen ?? 512);
  const calibration = await readJson(folder, TEACACHE_CALIBRATION_FILE);
  const coefficients = calibration?.coefficients;
  const teacacheCoefficients =
    Array.isArray(coefficients) && coefficients.length > 0 && coefficients.every((c) => typeof c === 'number' && Number.isFinite(c)) ? (coefficients as number[]) : undefined;
  return {
    name: typeof index.name === 'string' ? index.name : folder.name,
    model,
    decoder,
    scheduler,
    textEncoder,
    promptEncoder,
    textLen,
    condition,
    defaults,
    negativePrompt: typeof index.negative_prompt === 'string' ? index.negative_prompt : promptEncoder ? WAN_NEGATIVE_PROMPT : undefined,
    teacacheCoefficients,
    releaseTransformer,
    reloadTransformerWeights(signal?: AbortSignal) {
      if (model.weightsResident) return Promise.resolve();
      // Runs that overlap share one read, so the weights are never loaded twice.
      reloading ??= loadWanWeights(ctx, transformerFolder, model.config, { weights: options.weights, signal })
        .then((weights) => model.restoreWeights(weights))
        .finally(() => (reloading = undefined));
      return reloading;
    },
    dispose() {
      model.dispose();
      decoder.dispose();
    },
  };
}
