// A Wan2.1 transformer's config from a single file's tensor shapes. The shapes give every size but
// the number of attention heads (q, k, v are [dim, dim] whatever the split), so a file is matched
// against the released sizes (1.3B: width 1536, 12 heads; 14B: width 5120, 40 heads) and anything
// else is refused with what its shapes say: such a file needs its config.json.

import type { Checkpoint } from '../weights/checkpoint.ts';
import { parseWanConfig, WAN21_T2V_CONFIGS, type WanConfig } from './config.ts';
import { diffusersNameMap } from './keys.ts';

/** What a checkpoint's shapes fix (everything in WanConfig but the head split and the constants). */
interface ShapeFacts {
  dim: number;
  inChannels: number;
  outChannels: number;
  patchSize: [number, number, number];
  textDim: number;
  freqDim: number;
  ffnDim: number;
  numLayers: number;
  crossAttnNorm: boolean;
}

function describe(f: ShapeFacts): string {
  return `width ${f.dim}, ${f.numLayers} blocks, FFN ${f.ffnDim}, in/out channels ${f.inChannels}/${f.outChannels}, text_dim ${f.textDim}, freq_dim ${f.freqDim}, patch [${f.patchSize.join(', ')}]`;
}

function factsOf(config: WanConfig): ShapeFacts {
  const { dim, inChannels, outChannels, patchSize, textDim, freqDim, ffnDim, numLayers, crossAttnNorm } = config;
  return { dim, inChannels, outChannels, patchSize, textDim, freqDim, ffnDim, numLayers, crossAttnNorm };
}

/** The sizes the shapes of `names` (diffusers names → shapes) imply. */
function shapeFacts(shapes: Map<string, number[]>, where: string): ShapeFacts {
  const shape = (name: string, rank: number) => {
    const s = shapes.get(name);
    if (!s) throw new Error(`${where} is not a Wan2.1 transformer: it has no ${name} (original name ${originalHint(name)})`);
    if (s.length !== rank) throw new Error(`${where}: ${name} is [${s.join(', ')}], expected ${rank} dimensions`);
    return s;
  };
  const [dim, inChannels, pt, ph, pw] = shape('patch_embedding.weight', 5);
  const [, textDim] = shape('condition_embedder.text_embedder.linear_1.weight', 2);
  const [, freqDim] = shape('condition_embedder.time_embedder.linear_1.weight', 2);
  const [projOut] = shape('proj_out.weight', 2);
  const patch = pt * ph * pw;
  if (projOut % patch !== 0) throw new Error(`${where}: the head has ${projOut} outputs, not a multiple of the patch's ${patch} values`);
  let numLayers = 0;
  while (shapes.has(`blocks.${numLayers}.attn1.to_q.weight`)) numLayers++;
  if (numLayers === 0) throw new Error(`${where} is not a Wan2.1 transformer: no blocks (blocks.0.self_attn.q.weight)`);
  const [ffnDim] = shape('blocks.0.ffn.net.0.proj.weight', 2);
  return { dim, inChannels, outChannels: projOut / patch, patchSize: [pt, ph, pw], textDim, freqDim, ffnDim, numLayers, crossAttnNorm: shapes.has('blocks.0.norm2.weight') };
}

const ORIGINAL_HINTS: Record<string, string> = {
  'patch_embedding.weight': 'patch_embedding.weight',
  'condition_embedder.text_embedder.linear_1.weight': 'text_embedding.0.weight',
  'condition_embedder.time_embedder.linear_1.weight': 'time_embedding.0.weight',
  'proj_out.weight': 'head.head.weight',
  'blocks.0.ffn.net.0.proj.weight': 'blocks.0.ffn.0.weight',
};

function originalHint(name: string): string {
  return ORIGINAL_HINTS[name] ?? name;
}

/**
 * The released Wan2.1 text-to-video config whose sizes a checkpoint's shapes match (original or
 * diffusers key names); throws naming the sizes found when none does.
 */
export function inferWanConfig(checkpoint: Checkpoint, where: string): WanConfig {
  const shapes = new Map<string, number[]>();
  for (const [diffusers, name] of diffusersNameMap(checkpoint.tensors.keys())) shapes.set(diffusers, checkpoint.tensors.get(name)!.info.shape);
  const facts = shapeFacts(shapes, where);
  const found = JSON.stringify(facts);
  for (const json of Object.values(WAN21_T2V_CONFIGS)) {
    const config = parseWanConfig(json);
    if (JSON.stringify(factsOf(config)) === found) return config;
  }
  const known = Object.entries(WAN21_T2V_CONFIGS)
    .map(([size, json]) => `${size}: ${describe(factsOf(parseWanConfig(json)))}`)
    .join('; ');
  throw new Error(
    `${where}: a transformer of ${describe(facts)} is not a released Wan2.1 text-to-video size (${known}); ` +
      'its number of attention heads cannot be read from the shapes: give its config.json (diffusers WanTransformer3DModel)',
  );
}
