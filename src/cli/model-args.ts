// Shared by the commands that generate: the model folder (default: the shipped toy model), its
// decoder, and the prompt (text through the model's own encoder, or precomputed embeddings).

import { readFile, stat } from 'node:fs/promises';
import { UsageError, type Options } from './args.ts';
import type { GpuContext } from '../gpu/context.ts';
import { directoryFolder, shippedModelDir } from '../weights/node-folder.ts';
import { fileSource } from '../weights/node-source.ts';
import { openSafetensors, readTensor } from '../weights/safetensors.ts';
import { loadBundle, type BundleLoadOptions, type ModelBundle } from '../pipeline/bundle.ts';
import { unknownWordsWarning, type PromptEmbedding } from '../model/text-encoder.ts';
import { loadWanVaeFile, loadWanVaeFolder } from '../decoder/wan-vae-load.ts';
import type { WanVaeDecoder } from '../decoder/wan-vae.ts';
import { loadUmt5Tokenizer, type Umt5Tokenizer } from '../model/text/tokenizer.ts';
import { loadBundleFromParts } from '../pipeline/parts.ts';
import { arrayBufferSource } from '../weights/source.ts';

export const SHIPPED_MODEL_DIR = shippedModelDir();

export async function loadBundleFromArgs(
  ctx: GpuContext,
  modelDir: string | undefined,
  decoderPath: string | undefined,
  vaePath?: string,
  fit?: BundleLoadOptions['fit'],
): Promise<ModelBundle> {
  const dir = modelDir ?? SHIPPED_MODEL_DIR;
  if (decoderPath !== undefined && vaePath !== undefined) throw new UsageError('give --decoder (TAEHV) or --vae (the Wan VAE), not both');
  const decoder = decoderPath ? await fileSource(decoderPath) : undefined;
  const videoDecoder = vaePath ? await loadWanVaeFromPath(ctx, vaePath) : undefined;
  try {
    return await loadBundle(ctx, directoryFolder(dir), { decoder, videoDecoder, fit });
  } catch (e) {
    videoDecoder?.dispose();
    throw e;
  }
}

/** Single files given instead of --model (`generate --transformer F --text-encoder F --tokenizer F --vae F`). */
export interface PartPaths {
  transformer?: string;
  transformerConfig?: string;
  textEncoder?: string;
  tokenizer?: string;
}

/** True when any single-file part is given. */
export function givesParts(paths: PartPaths): boolean {
  return paths.transformer !== undefined || paths.textEncoder !== undefined || paths.tokenizer !== undefined || paths.transformerConfig !== undefined;
}

/** A Wan2.1 bundle from single files; --tokenizer may be spiece.model or a folder holding it. */
export async function loadPartsFromArgs(ctx: GpuContext, paths: PartPaths, decoderPath: string | undefined, vaePath: string | undefined): Promise<ModelBundle> {
  if (decoderPath !== undefined && vaePath !== undefined) throw new UsageError('give --decoder (TAEHV) or --vae (the Wan VAE), not both');
  const open = async (path: string | undefined) => (path === undefined ? undefined : fileSource(path));
  let tokenizer;
  if (paths.tokenizer !== undefined) {
    const info = await stat(paths.tokenizer).catch(() => undefined);
    if (!info) throw new UsageError(`--tokenizer ${paths.tokenizer}: no such file or folder`);
    tokenizer = info.isDirectory() ? arrayBufferSource(await readFile(`${paths.tokenizer}/spiece.model`).catch(() => {
      throw new UsageError(`--tokenizer ${paths.tokenizer}: the folder has no spiece.model`);
    }), `${paths.tokenizer}/spiece.model`) : await fileSource(paths.tokenizer);
  }
  let transformerConfig: unknown;
  if (paths.transformerConfig !== undefined) {
    try {
      transformerConfig = JSON.parse(await readFile(paths.transformerConfig, 'utf8'));
    } catch (e) {
      throw new UsageError(`--transformer-config ${paths.transformerConfig}: ${(e as Error).message}`);
    }
  }
  return loadBundleFromParts(ctx, {
    transformer: await open(paths.transformer),
    textEncoder: await open(paths.textEncoder),
    tokenizer,
    vae: await open(vaePath),
    taehv: await open(decoderPath),
    transformerConfig,
  });
}

/** The Wan VAE decoder from a safetensors file (original or diffusers names) or a diffusers folder. */
export async function loadWanVaeFromPath(ctx: GpuContext, path: string): Promise<WanVaeDecoder> {
  const isDir = (await stat(path)).isDirectory();
  return isDir ? loadWanVaeFolder(ctx, directoryFolder(path)) : loadWanVaeFile(ctx, await fileSource(path));
}

/** Reads a prompt embedding file: `prompt_embeds` (diffusers' name) or its only tensor, [1, L, D] or [L, D]. */
export async function readEmbeddingFile(path: string, preferred: string[], textDim: number): Promise<PromptEmbedding> {
  const file = await openSafetensors(await fileSource(path));
  const name = preferred.find((n) => file.tensors.has(n)) ?? (file.tensors.size === 1 ? [...file.tensors.keys()][0] : undefined);
  if (!name) throw new Error(`${path}: expected a tensor named ${preferred.join(' or ')}; it has ${[...file.tensors.keys()].join(', ')}`);
  const shape = file.tensors.get(name)!.shape;
  const dims = shape.length === 3 && shape[0] === 1 ? shape.slice(1) : shape;
  if (dims.length !== 2) throw new Error(`${path}: ${name} must be [1, L, D] or [L, D], got [${shape.join(', ')}]`);
  if (dims[1] !== textDim) throw new Error(`${path}: ${name} has width ${dims[1]}, the model's text_dim is ${textDim}`);
  return { data: await readTensor(file, name), rows: dims[0] };
}

async function readOptionalEmbedding(path: string, name: string, textDim: number): Promise<PromptEmbedding | undefined> {
  const file = await openSafetensors(await fileSource(path));
  return file.tensors.has(name) ? readEmbeddingFile(path, [name], textDim) : undefined;
}

export interface PromptArgs {
  /** Text (encoded by the generate entry) or embeddings read from a file. */
  prompt: string | PromptEmbedding;
  negative: string | PromptEmbedding | undefined;
}

/** --prompt TEXT (needs the model's text encoder) or --embeds FILE, and the optional negative. */
export async function promptFromArgs(
  bundle: ModelBundle,
  text: string | undefined,
  embedsPath: string | undefined,
  negativeText: string | undefined,
  negativePath: string | undefined,
): Promise<PromptArgs> {
  const textDim = bundle.model.config.textDim;
  if (text !== undefined && embedsPath !== undefined) throw new UsageError('give --prompt or --embeds, not both');
  let prompt: string | PromptEmbedding;
  let fileNegative: PromptEmbedding | undefined;
  if (embedsPath !== undefined) {
    prompt = await readEmbeddingFile(embedsPath, ['prompt_embeds', 'encoder_hidden_states'], textDim);
    // `webdit encode` writes the negative beside the prompt: used unless another negative is given.
    if (negativePath === undefined && negativeText === undefined) fileNegative = await readOptionalEmbedding(embedsPath, 'negative_prompt_embeds', textDim);
  } else if (bundle.promptEncoder) prompt = text ?? '';
  else {
    if (!bundle.textEncoder) throw new UsageError(`${bundle.name} has no text encoder in webdit: give --embeds FILE (precomputed prompt_embeds)`);
    prompt = text ?? '';
    const warning = unknownWordsWarning(bundle.textEncoder, prompt);
    if (warning) console.error(warning);
  }
  let negative: string | PromptEmbedding | undefined = fileNegative;
  if (negativePath !== undefined) negative = await readEmbeddingFile(negativePath, ['negative_prompt_embeds', 'prompt_embeds', 'encoder_hidden_states'], textDim);
  else if (negativeText !== undefined) {
    if (!bundle.textEncoder && !bundle.promptEncoder) throw new UsageError('--negative-prompt needs a model with a text encoder; give --negative-embeds FILE');
    negative = negativeText;
  }
  return { prompt, negative };
}

/** Video size and sampling settings given on the command line; the generate entry fills the rest from the model. */
export function samplingFromArgs(options: Options) {
  return {
    frames: options.integer('frames'),
    height: options.integer('height'),
    width: options.integer('width'),
    steps: options.integer('steps'),
    guidance: options.number('guidance'),
  };
}

/** A umT5 tokenizer from a tokenizer folder, a diffusers model folder with tokenizer/, or a spiece.model file. */
export async function loadTokenizerFromPath(path: string, maxLength = 512): Promise<Umt5Tokenizer> {
  const info = await stat(path).catch(() => undefined);
  if (!info) throw new Error(`${path}: no such file or folder`);
  const source = info.isDirectory() ? directoryFolder(path) : new Uint8Array(await readFile(path));
  return loadUmt5Tokenizer(source, { maxLength });
}
