// Writes a model folder with Wan2.1's transformer at a real size (the 1.3B or 14B layout) and random bf16
// weights, in pixel space (3 channels in and out, identity decoder, so no VAE is needed), plus random
// prompt embeddings. It is for timing the engine at Wan's widths on a real GPU: its videos mean nothing,
// and since random weights make features change fast from step to step, a cache reuses only when forced
// (bwcache:threshold=2, static).
//
//   npx tsx bench/wan-shaped-model.ts --out DIR [--size 1.3b|14b] [--layers N] [--channels 3|16]
//   npx webdit bench --model DIR --embeds DIR/embeds.safetensors --negative-embeds DIR/embeds.safetensors \
//     --frames 3 --height 48 --width 64 --seeds 0 --policies none,bwcache:threshold=2,static --no-profile
//
// (3 frames of 48×64 are 2,304 tokens at patch 1×2×2.) Weights are written one shard per block, so the
// 1.3B model (2.8 GB) never sits in memory whole.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WAN21_T2V_CONFIGS, expectedTensors, parseWanConfig } from '../src/model/config.ts';
import { encodeSafetensors, type EncodableTensor } from '../src/weights/safetensors.ts';

const args = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? args[at + 1] : undefined;
};
const out = option('out');
const size = (option('size') ?? '1.3b') as keyof typeof WAN21_T2V_CONFIGS;
if (!out || !(size in WAN21_T2V_CONFIGS)) {
  console.error('usage: npx tsx bench/wan-shaped-model.ts --out DIR [--size 1.3b|14b] [--layers N]');
  process.exit(2);
}
const layers = Number(option('layers') ?? WAN21_T2V_CONFIGS[size].num_layers);

// 3 (pixel space, the default) or 16 (Wan's latent channels, for a folder with a VAE: bench/wan-folder-scale.ts).
const channels = Number(option('channels') ?? 3);
const config = { ...WAN21_T2V_CONFIGS[size], in_channels: channels, out_channels: channels, num_layers: layers };

// xorshift32: uniform values with the variance each tensor would get from a normal initialisation.
let state = 0x9e3779b9;
const uniform = (): number => {
  state ^= state << 13;
  state ^= state >>> 17;
  state ^= state << 5;
  return (state >>> 0) / 4294967296;
};
const randomTensor = (name: string, shape: number[]): EncodableTensor => {
  const count = shape.reduce((a, b) => a * b, 1);
  const fanIn = shape.length >= 2 ? shape.slice(1).reduce((a, b) => a * b, 1) : 1;
  const isNormWeight = name.includes('norm') && name.endsWith('.weight');
  const std = isNormWeight ? 0.1 : name.endsWith('.bias') ? 0.02 : name.includes('scale_shift_table') ? 0.1 : 1 / Math.sqrt(fanIn);
  const halfWidth = std * Math.sqrt(3);
  const data = new Float32Array(count);
  for (let i = 0; i < count; i++) data[i] = (isNormWeight ? 1 : 0) + halfWidth * (2 * uniform() - 1);
  return { dtype: 'BF16', shape, data };
};

const shards = new Map<string, Record<string, EncodableTensor>>();
for (const [name, shape] of expectedTensors(parseWanConfig(config))) {
  const block = /^blocks\.(\d+)\./.exec(name)?.[1];
  const shard = `diffusion_pytorch_model-${block === undefined ? 'rest' : `block${block.padStart(3, '0')}`}.safetensors`;
  if (!shards.has(shard)) shards.set(shard, {});
  shards.get(shard)![name] = randomTensor(name, shape);
}

const transformer = join(out, 'transformer');
mkdirSync(transformer, { recursive: true });
const weightMap: Record<string, string> = {};
let parameters = 0;
for (const [shard, tensors] of shards) {
  writeFileSync(join(transformer, shard), encodeSafetensors(tensors));
  for (const [name, t] of Object.entries(tensors)) {
    weightMap[name] = shard;
    parameters += t.data.length;
  }
  shards.set(shard, {}); // let the block's arrays go before the next is made
}
writeFileSync(join(transformer, 'diffusion_pytorch_model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
writeFileSync(join(transformer, 'config.json'), JSON.stringify(config, null, 2));
mkdirSync(join(out, 'scheduler'), { recursive: true });
writeFileSync(
  join(out, 'scheduler/scheduler_config.json'),
  JSON.stringify({ _class_name: 'UniPCMultistepScheduler', prediction_type: 'flow_prediction', use_flow_sigmas: true, flow_shift: 3, solver_order: 2, num_train_timesteps: 1000 }),
);
writeFileSync(
  join(out, 'model_index.json'),
  JSON.stringify(
    { _class_name: `wan2.1-${size}-shaped-random`, decoder: 'identity', text_len: 512, frames: 3, height: 48, width: 64, default_steps: 20, guidance: 5.0, shift: 3.0 },
    null,
    2,
  ),
);

// Prompt embeddings as umT5 leaves them: a few token rows, zeros after the prompt's end.
const embeddings = (rows: number): EncodableTensor => {
  const data = new Float32Array(512 * 4096);
  for (let i = 0; i < rows * 4096; i++) data[i] = 0.35 * (2 * uniform() - 1);
  return { dtype: 'F32', shape: [1, 512, 4096], data };
};
writeFileSync(join(out, 'embeds.safetensors'), encodeSafetensors({ prompt_embeds: embeddings(24), negative_prompt_embeds: embeddings(8) }));
console.log(JSON.stringify({ out, size, layers, parameters, shards: shards.size }));
