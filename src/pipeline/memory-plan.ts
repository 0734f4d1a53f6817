// The memory plan of a whole Wan2.1 generation, per stage, before anything allocates: the stages run
// one after another (encode → sample → decode), the transformer's and the VAE's weights stay on the
// GPU for all three (the bundle loads them; with releaseTransformer the transformer's are freed for
// decoding), umT5 is streamed (one layer half at a time) and released.
// Built from the three parts' own plans (model/plan.ts, model/umt5/plan.ts, decoder/wan-vae-plan.ts).

import { subFolder, type ModelFolder } from '../weights/folder.ts';
import { openCheckpoint } from '../weights/checkpoint.ts';
import { expectedTensors, parseWanConfig, WAN21_T2V_CONFIGS, type WanConfig } from '../model/config.ts';
import { bucketBytes } from '../gpu/context.ts';
import { readWanConfig } from '../model/load.ts';
import { planMemory } from '../model/plan.ts';
import { parseUmt5Config, type Umt5Config } from '../model/umt5/config.ts';
import { planUmt5Memory } from '../model/umt5/plan.ts';
import { decoderTensorShapes, parseWanVaeConfig, WAN21_VAE_CONFIG, type WanVaeConfig } from '../decoder/wan-vae-config.ts';
import { planWanVaeDecode } from '../decoder/wan-vae-plan.ts';

export interface VideoSize {
  frames: number;
  height: number;
  width: number;
}

export interface Preset extends VideoSize {
  name: string;
}

/** Sizes that make sense in a browser, largest first (multiples of 16 pixels, 4k+1 frames). */
export const PRESETS: readonly Preset[] = [
  { name: '480p', width: 832, height: 480, frames: 81 },
  { name: '480p-short', width: 832, height: 480, frames: 33 },
  { name: 'preview', width: 480, height: 272, frames: 33 },
  { name: 'small', width: 320, height: 192, frames: 17 },
  { name: 'thumbnail', width: 192, height: 112, frames: 9 },
];

export type WeightDType = 'f32' | 'f16' | 'bf16';

/** What the plan needs to know of a Wan2.1 folder: the parts' configs and stored weight types. */
export interface WanFolderConfigs {
  transformer: WanConfig;
  transformerDType: WeightDType;
  textEncoder: Umt5Config;
  textEncoderDType: WeightDType;
  vae: WanVaeConfig;
  vaeDType: WeightDType;
}

/** umT5-XXL, Wan2.1's text encoder (google/umt5-xxl's config). */
const UMT5_XXL: Umt5Config = { dModel: 4096, dKv: 64, dFf: 10240, numLayers: 24, numHeads: 64, numBuckets: 32, maxDistance: 128, vocabSize: 256384, eps: 1e-6 };

/** The released Wan2.1 text-to-video folders (Wan-AI/Wan2.1-T2V-*-Diffusers: bf16 transformer and umT5, f32 VAE), to plan before downloading. */
export const WAN21_FOLDER_CONFIGS: Record<'1.3b' | '14b', WanFolderConfigs> = {
  '1.3b': { transformer: parseWanConfig(WAN21_T2V_CONFIGS['1.3b']), transformerDType: 'bf16', textEncoder: UMT5_XXL, textEncoderDType: 'bf16', vae: WAN21_VAE_CONFIG, vaeDType: 'f32' },
  '14b': { transformer: parseWanConfig(WAN21_T2V_CONFIGS['14b']), transformerDType: 'bf16', textEncoder: UMT5_XXL, textEncoderDType: 'bf16', vae: WAN21_VAE_CONFIG, vaeDType: 'f32' },
};

export interface StagePlan {
  /** The most GPU memory the stage holds at once, the resident weights of the other parts included. */
  gpuBytes: number;
  /** Host buffers the stage needs beside the runtime (weights read in chunks, read-backs). */
  hostBytes: number;
  /** Where the GPU bytes go. */
  parts: Record<string, number>;
}

export interface GenerationPlan {
  video: VideoSize;
  stages: { encode: StagePlan; sample: StagePlan; decode: StagePlan };
  peakGpuBytes: number;
  peakHostBytes: number;
  /** The largest tensor the transformer or the VAE binds at once (the VAE splits into spatial pieces). */
  largestTensorBytes: number;
  /** Per stage, the largest single GPU buffer (in its pool size class) and what it holds: each must fit the adapter's maxBufferSize. */
  largestBuffers: Record<'encode' | 'sample' | 'decode', { bytes: number; what: string }>;
}

export type CachePlan = 'none' | 'stack' | 'blocks';

export interface PlanOptions {
  /** Tokens of the prompt and the negative prompt; default: both text_len (the worst case). */
  promptTokens?: number;
  negativeTokens?: number;
  textLen?: number;
  /** BWCache/TeaCache keep one stack residual per branch ('stack'), per-block reuse every block's features ('blocks'). */
  cache?: CachePlan;
  /** The adapter's maxStorageBufferBindingSize (the VAE's spatial pieces depend on it). */
  maxBindingBytes?: number;
  /** The transformer's weights are freed before decoding (a request's `releaseTransformer`). */
  releaseTransformer?: boolean;
}

const dtypeOf = (dtype: string): WeightDType => (dtype === 'F32' ? 'f32' : dtype === 'BF16' ? 'bf16' : 'f16');

async function readJson(folder: ModelFolder, path: string): Promise<unknown> {
  const text = await folder.readText(path);
  if (text === undefined) throw new Error(`${folder.name}: no ${path}`);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${folder.name}/${path}: invalid JSON (${(e as Error).message})`);
  }
}

/** The stored type of a checkpoint's matrices (reads safetensors headers only). */
async function matrixDType(folder: ModelFolder, baseName: string): Promise<WeightDType> {
  const checkpoint = await openCheckpoint(folder, baseName);
  const matrix = [...checkpoint.tensors.values()].find((t) => t.info.shape.length >= 2);
  return dtypeOf(matrix?.info.dtype ?? 'F32');
}

/** Configs and weight types of a Wan2.1 diffusers folder, from its JSON files and safetensors headers. */
export async function readWanFolderConfigs(folder: ModelFolder): Promise<WanFolderConfigs> {
  const transformer = await readWanConfig(subFolder(folder, 'transformer'));
  const textEncoder = parseUmt5Config(await readJson(folder, 'text_encoder/config.json'), `${folder.name}/text_encoder/config.json`);
  const vaeText = await folder.readText('vae/config.json');
  if (vaeText === undefined) throw new Error(`${folder.name}: no vae/config.json`);
  const vae = parseWanVaeConfig(vaeText, `${folder.name}/vae/config.json`);
  return {
    transformer,
    transformerDType: await matrixDType(subFolder(folder, 'transformer'), 'diffusion_pytorch_model'),
    textEncoder,
    textEncoderDType: await matrixDType(subFolder(folder, 'text_encoder'), 'model'),
    vae,
    vaeDType: await matrixDType(subFolder(folder, 'vae'), 'diffusion_pytorch_model'),
  };
}

/** Per-stage GPU and host memory of one generation at this size. Throws for a size the model cannot take. */
export function planGeneration(configs: WanFolderConfigs, video: VideoSize, options: PlanOptions = {}): GenerationPlan {
  const textLen = options.textLen ?? 512;
  const maxBindingBytes = options.maxBindingBytes ?? 2 ** 31;
  const sampling = planMemory(configs.transformer, video, { weightDType: configs.transformerDType === 'f32' ? 'f32' : 'f16', textLen });
  const [, T, h, w] = sampling.latents;
  const vae = planWanVaeDecode(configs.vae, T, h, w, maxBindingBytes, configs.vaeDType === 'f32' ? 4 : 2);
  const lengths = [options.promptTokens ?? textLen, options.negativeTokens ?? textLen].filter((n) => n > 0);
  const text = planUmt5Memory(configs.textEncoder, { lengths, weightDType: configs.textEncoderDType, textLength: textLen });

  // As the GPU pool holds them: each tensor in its size class (up to 1/8 more than its bytes).
  let transformerWeights = 0;
  let largestTransformerWeight = 0;
  for (const [name, shape] of expectedTensors(configs.transformer)) {
    const matrix = name.endsWith('.weight') && shape.length >= 2 && configs.transformerDType !== 'f32';
    const bytes = bucketBytes(shape.reduce((a, b) => a * b, 1) * (matrix ? 2 : 4));
    transformerWeights += bytes;
    largestTransformerWeight = Math.max(largestTransformerWeight, bytes);
  }
  let vaeWeights = 0;
  for (const shape of decoderTensorShapes(configs.vae).values()) vaeWeights += bucketBytes(shape.reduce((a, b) => a * b, 1) * (configs.vaeDType === 'f32' ? 4 : 2));
  const latentBytes = sampling.bytes.sampler / 5; // one latent tensor (the sampler holds five)
  const embeddings = lengths.length * textLen * configs.textEncoder.dModel * 4;
  const cache = options.cache === 'blocks' ? sampling.bytes.blockFeatureCache : options.cache === 'stack' ? sampling.bytes.stackResidualCache : 0;
  const stage = (parts: Record<string, number>, hostBytes: number): StagePlan => ({
    gpuBytes: Object.values(parts).reduce((a, b) => a + b, 0),
    hostBytes,
    parts,
  });
  const stages = {
    encode: stage({ transformerWeights, vaeWeights, textEncoderStreamed: text.bytes.gpuPeak }, text.bytes.hostPeak),
    sample: stage(
      { transformerWeights, vaeWeights, activations: sampling.bytes.peakActivations, sampler: sampling.bytes.sampler, cache },
      embeddings + 2 * latentBytes,
    ),
    // The VAE plan counts its weights, carried frames, one chunk and the output frames; the latents are read back first.
    decode: stage(
      { ...(options.releaseTransformer ? {} : { transformerWeights }), vae: vae.peakBytes - vae.weightBytes + vaeWeights, latents: latentBytes },
      vae.framesBytes + latentBytes,
    ),
  };
  const textWeightBytes = configs.textEncoderDType === 'f32' ? 4 : 2;
  const largest = (...candidates: [number, string][]) => {
    const [bytes, what] = candidates.reduce((a, b) => (b[0] > a[0] ? b : a));
    return { bytes, what };
  };
  const resident: [number, string] = [largestTransformerWeight, 'a transformer weight'];
  const residentAtDecode: [number, string] = options.releaseTransformer ? [0, ''] : resident;
  const largestBuffers = {
    encode: largest(resident, [bucketBytes(configs.textEncoder.dFf * configs.textEncoder.dModel * textWeightBytes), 'an umT5 FFN weight']),
    sample: largest(resident, [bucketBytes(sampling.largestTensorBytes), 'the transformer\'s largest activation (the FFN hidden layer)']),
    decode: largest(residentAtDecode, [bucketBytes(vae.pieces.largestTensorBytes), 'the Wan VAE\'s largest tensor of a spatial piece'], [bucketBytes(vae.framesBytes), 'the decoded frames (f32)']),
  };
  return {
    video,
    stages,
    peakGpuBytes: Math.max(...Object.values(stages).map((s) => s.gpuBytes)),
    peakHostBytes: Math.max(...Object.values(stages).map((s) => s.hostBytes)),
    largestTensorBytes: Math.max(sampling.largestTensorBytes, vae.pieces.largestTensorBytes),
    largestBuffers,
  };
}

/** The largest preset whose plan fits in `budgetBytes` of GPU memory, or undefined. */
export function largestFittingPreset(configs: WanFolderConfigs, budgetBytes: number, options: PlanOptions = {}): Preset | undefined {
  return PRESETS.find((p) => planGeneration(configs, p, options).peakGpuBytes <= budgetBytes);
}

/** Throws, naming the largest preset that fits, when this size's plan needs more GPU memory than the budget. */
export function refuseIfTooLarge(configs: WanFolderConfigs, plan: GenerationPlan, budgetBytes: number, options: PlanOptions = {}): void {
  if (plan.peakGpuBytes <= budgetBytes) return;
  const { frames, height, width } = plan.video;
  const stage = (Object.entries(plan.stages) as [string, StagePlan][]).reduce((a, b) => (b[1].gpuBytes > a[1].gpuBytes ? b : a))[0];
  const preset = largestFittingPreset(configs, budgetBytes, options);
  const mib = (b: number) => `${Math.ceil(b / 2 ** 20)} MiB`;
  throw new Error(
    `${width}×${height}×${frames} needs ${mib(plan.peakGpuBytes)} of GPU memory at its largest stage (${stage}), more than the ${mib(budgetBytes)} available: ` +
      (preset ? `the largest preset that fits is ${preset.name} (${preset.width}×${preset.height}×${preset.frames})` : 'no preset fits: even the smallest needs more'),
  );
}
