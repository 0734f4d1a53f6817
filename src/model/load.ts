// Loads a Wan2.1 transformer from a model folder: config.json plus weights in one safetensors file or
// shards, under diffusers or original key names. Refuses a checkpoint whose tensors are missing,
// unexpected or wrongly shaped, listing them all.

import type { GpuContext } from '../gpu/context.ts';
import type { Tensor } from '../gpu/tensor.ts';
import type { ModelFolder } from '../weights/folder.ts';
import { loadTensors, openCheckpoint, openCheckpointFile, type Checkpoint } from '../weights/checkpoint.ts';
import type { TensorInfo } from '../weights/safetensors.ts';
import { expectedTensors, parseWanConfig, type WanConfig } from './config.ts';
import { diffusersNameMap } from './keys.ts';
import { WanTransformer, type WanWeights } from './transformer.ts';

export interface WanLoadOptions {
  /** A single-file checkpoint in the folder (e.g. an original-key-name file); default: diffusers' layout. */
  weightsFile?: string;
  /** 'keep': matmul weights stay f16/bf16 packed as stored; 'f32': widen everything. */
  weights?: 'keep' | 'f32';
  onProgress?: (loadedBytes: number, totalBytes: number) => void;
  signal?: AbortSignal;
}

export async function readWanConfig(folder: ModelFolder, path = 'config.json'): Promise<WanConfig> {
  const text = await folder.readText(path);
  if (text === undefined) throw new Error(`${folder.name}: no ${path}`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`${folder.name}/${path}: invalid JSON (${(e as Error).message})`);
  }
  return parseWanConfig(json, `${folder.name}/${path}`);
}

const MAX_LISTED = 20;
function list(names: string[]): string {
  const shown = names.slice(0, MAX_LISTED).join(', ');
  return names.length > MAX_LISTED ? `${shown}, … (${names.length} in all)` : shown;
}

/** Checks names and shapes; returns diffusers name → checkpoint entry. */
export function matchCheckpoint(cfg: WanConfig, checkpoint: Checkpoint, where: string): Map<string, { name: string; info: TensorInfo }> {
  const expected = expectedTensors(cfg);
  const byDiffusersName = diffusersNameMap(checkpoint.tensors.keys());
  const missing: string[] = [];
  const wrongShape: string[] = [];
  const matched = new Map<string, { name: string; info: TensorInfo }>();
  for (const [name, shape] of expected) {
    const source = byDiffusersName.get(name);
    if (!source) {
      missing.push(name);
      continue;
    }
    const info = checkpoint.tensors.get(source)!.info;
    if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
      wrongShape.push(`${source} is [${info.shape.join(', ')}], expected [${shape.join(', ')}]`);
    }
    matched.set(name, { name: source, info });
  }
  const unexpected = [...byDiffusersName.entries()].filter(([d]) => !expected.has(d)).map(([, n]) => n);
  const problems: string[] = [];
  if (missing.length) problems.push(`missing tensors: ${list(missing)}`);
  if (unexpected.length) problems.push(`unexpected tensors: ${list(unexpected)}`);
  if (wrongShape.length) problems.push(`wrong shapes: ${list(wrongShape)}`);
  if (problems.length) throw new Error(`${where} does not match its config.json: ${problems.join('; ')}`);
  return matched;
}

/** Tensors that feed a matmul stay in their stored precision; the small rest is widened to f32. */
function isMatmulWeight(diffusersName: string, info: TensorInfo): boolean {
  return diffusersName.endsWith('.weight') && info.shape.length >= 2;
}

export async function loadWanTransformer(ctx: GpuContext, folder: ModelFolder, options: WanLoadOptions = {}): Promise<WanTransformer> {
  const config = await readWanConfig(folder);
  return new WanTransformer(ctx, config, await loadWanWeights(ctx, folder, config, options));
}

/** The transformer's weights from its folder (to load a model, or to restore released weights). */
export async function loadWanWeights(ctx: GpuContext, folder: ModelFolder, config: WanConfig, options: WanLoadOptions = {}): Promise<WanWeights> {
  let checkpoint: Checkpoint;
  if (options.weightsFile) {
    const source = await folder.open(options.weightsFile);
    if (!source) throw new Error(`${folder.name}: no ${options.weightsFile}`);
    checkpoint = await openCheckpointFile(source);
  } else checkpoint = await openCheckpoint(folder);
  return loadWanCheckpointWeights(ctx, config, checkpoint, folder.name, options);
}

/** A checkpoint already opened (e.g. one single file and the config its shapes imply) to the GPU. */
export async function loadWanCheckpoint(ctx: GpuContext, config: WanConfig, checkpoint: Checkpoint, where: string, options: WanLoadOptions = {}): Promise<WanTransformer> {
  return new WanTransformer(ctx, config, await loadWanCheckpointWeights(ctx, config, checkpoint, where, options));
}

/** An opened checkpoint's tensors on the GPU, under diffusers names, checked against the config. */
export async function loadWanCheckpointWeights(ctx: GpuContext, config: WanConfig, checkpoint: Checkpoint, where: string, options: WanLoadOptions = {}): Promise<WanWeights> {
  const matched = matchCheckpoint(config, checkpoint, where);
  const diffusersName = new Map([...matched].map(([name, m]) => [m.name, name]));
  const widenAll = options.weights === 'f32';
  const loaded = await loadTensors(
    ctx,
    checkpoint,
    [...matched.values()].map((m) => m.name),
    {
      widenToF32: (name, info) => widenAll || !isMatmulWeight(diffusersName.get(name)!, info),
      onProgress: options.onProgress,
      signal: options.signal,
    },
  );
  const weights: WanWeights = new Map<string, Tensor>();
  for (const [name, tensor] of loaded) weights.set(diffusersName.get(name)!, tensor);
  return weights;
}
