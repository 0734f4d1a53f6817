// Opens a umT5 encoder checkpoint: a Hugging Face `text_encoder/` folder (config.json, model.safetensors
// or shards with model.safetensors.index.json) or one safetensors file (HF or Wan's original names; its
// config inferred from the shapes). Only headers are read here; the encoder streams the weights.

import type { GpuContext } from '../../gpu/context.ts';
import type { ModelFolder } from '../../weights/folder.ts';
import type { ByteSource } from '../../weights/source.ts';
import { openCheckpoint, openCheckpointFile, type Checkpoint } from '../../weights/checkpoint.ts';
import { parseUmt5Config, UMT5_DEFAULT_EPS, UMT5_DEFAULT_MAX_DISTANCE, type Umt5Config } from './config.ts';
import { canonicalNameMap, EMBEDDING, expectedTensors, layerNames } from './keys.ts';
import { isQuantizationCompanion } from '../../weights/linear-weight.ts';
import { readQuantizationMetadata } from '../../weights/quantize.ts';
import { Umt5Encoder } from './encoder.ts';

const MAX_LISTED = 12;
function list(names: string[]): string {
  const shown = names.slice(0, MAX_LISTED).join(', ');
  return names.length > MAX_LISTED ? `${shown}, … (${names.length} in all)` : shown;
}

/** The config a checkpoint's shapes imply (max distance and eps at Wan's values, which t5.py fixes). */
export function inferUmt5Config(checkpoint: Checkpoint, where: string): Umt5Config {
  const names = canonicalNameMap(checkpoint.tensors.keys());
  const shape = (canonical: string) => {
    const name = names.get(canonical);
    const info = name === undefined ? undefined : checkpoint.tensors.get(name)?.info;
    if (!info) throw new Error(`${where}: no "${canonical}" to infer the umT5 config from (give a config.json)`);
    return info.shape;
  };
  let numLayers = 0;
  while (names.has(layerNames(numLayers).q)) numLayers++;
  if (numLayers === 0) throw new Error(`${where}: no encoder layers found (neither Hugging Face UMT5 nor Wan T5 key names)`);
  const [vocabSize, dModel] = shape(EMBEDDING);
  const [numBuckets, numHeads] = shape(layerNames(0).positionBias);
  const [inner] = shape(layerNames(0).q);
  const [dFf] = shape(layerNames(0).wi0);
  if (inner % numHeads !== 0) throw new Error(`${where}: q has ${inner} rows, not a multiple of ${numHeads} heads`);
  return { dModel, dKv: inner / numHeads, dFf, numLayers, numHeads, numBuckets, maxDistance: UMT5_DEFAULT_MAX_DISTANCE, vocabSize, eps: UMT5_DEFAULT_EPS };
}

/** Canonical name → checkpoint name, after checking that the checkpoint holds exactly the config's tensors. */
export function matchUmt5Checkpoint(config: Umt5Config, checkpoint: Checkpoint, where: string): Map<string, string> {
  const names = canonicalNameMap(checkpoint.tensors.keys());
  const expected = expectedTensors(config);
  const missing: string[] = [];
  const wrong: string[] = [];
  for (const [canonical, want] of expected) {
    const name = names.get(canonical);
    if (name === undefined) {
      missing.push(canonical);
      continue;
    }
    const { info, file } = checkpoint.tensors.get(name)!;
    // webdit's int4 files pack two codes a byte: [N, K/2] U8 holds an [N, K] weight.
    const int4 = info.dtype === 'U8' && readQuantizationMetadata(file)?.format === 'int4';
    const got = int4 ? [info.shape[0], 2 * info.shape[1]] : info.shape;
    if (got.length !== want.length || got.some((d, i) => d !== want[i])) wrong.push(`${name} is [${got.join(', ')}], expected [${want.join(', ')}]`);
  }
  // Scales beside quantized weights are part of those weights, not unknown tensors.
  const unexpected = [...names].filter(([c, n]) => !expected.has(c) && !isQuantizationCompanion(n)).map(([, n]) => n);
  const problems: string[] = [];
  if (missing.length) problems.push(`missing tensors: ${list(missing)}`);
  if (unexpected.length) problems.push(`unexpected tensors: ${list(unexpected)}`);
  if (wrong.length) problems.push(`wrong shapes: ${list(wrong)}`);
  if (problems.length) throw new Error(`${where} is not a umT5 encoder of its config: ${problems.join('; ')}`);
  return names;
}

export type Umt5Location = { folder: ModelFolder } | { file: ByteSource; config?: Umt5Config };

/** A folder's config.json and checkpoint (`model` base name), or one file. Reads headers only. */
export async function loadUmt5Encoder(ctx: GpuContext, location: Umt5Location): Promise<Umt5Encoder> {
  let checkpoint: Checkpoint;
  let config: Umt5Config;
  let where: string;
  if ('folder' in location) {
    const { folder } = location;
    where = folder.name;
    checkpoint = await openCheckpoint(folder, 'model');
    const text = await folder.readText('config.json');
    if (text === undefined) config = inferUmt5Config(checkpoint, where);
    else {
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (e) {
        throw new Error(`${where}/config.json: invalid JSON (${(e as Error).message})`);
      }
      config = parseUmt5Config(json, `${where}/config.json`);
    }
  } else {
    where = location.file.name;
    checkpoint = await openCheckpointFile(location.file);
    config = location.config ?? inferUmt5Config(checkpoint, where);
  }
  return new Umt5Encoder(ctx, config, checkpoint, matchUmt5Checkpoint(config, checkpoint, where));
}
