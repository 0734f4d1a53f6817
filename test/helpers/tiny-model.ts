// A random tiny pixel-space Wan model, written as a model folder in a temp dir: for pipeline and cache
// tests that need a whole generation in seconds on SwiftShader.
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expectedTensors, parseWanConfig } from '../../src/model/config.ts';
import { encodeSafetensors } from '../../src/weights/safetensors.ts';
import { rng } from './reference.ts';

export const TINY_CONFIG = {
  _class_name: 'WanTransformer3DModel',
  patch_size: [1, 2, 2],
  num_attention_heads: 2,
  attention_head_dim: 12,
  in_channels: 3,
  out_channels: 3,
  text_dim: 8,
  freq_dim: 32,
  ffn_dim: 48,
  num_layers: 3,
  cross_attn_norm: true,
  qk_norm: 'rms_norm_across_heads',
  eps: 1e-6,
  image_dim: null,
  added_kv_proj_dim: null,
  rope_max_seq_len: 1024,
};

export const TINY_VOCAB = ['<pad>', '<unk>', 'a', 'red', 'blue', 'circle', 'square', 'moving', 'left', 'right'];

function gaussian(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

/** Writes the folder and returns its path. `index` adds model_index.json fields; `inChannels` overrides
 * the transformer's (a "position"-conditioned model takes 3 more than it makes). */
export function writeTinyModel(seed = 1, options: { inChannels?: number; index?: Record<string, unknown> } = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'webdit-tiny-'));
  const config = { ...TINY_CONFIG, in_channels: options.inChannels ?? TINY_CONFIG.in_channels };
  const cfg = parseWanConfig(config);
  const rand = rng(seed);
  const tensors: Parameters<typeof encodeSafetensors>[0] = {};
  for (const [name, shape] of expectedTensors(cfg)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const fanIn = shape.length >= 2 ? shape.slice(1).reduce((a, b) => a * b, 1) : 1;
    const std = name.endsWith('.bias') ? 0.02 : name.includes('norm') ? 0 : name.includes('scale_shift_table') ? 0.1 : 1 / Math.sqrt(fanIn);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = name.includes('norm') && name.endsWith('.weight') ? 1 + 0.1 * gaussian(rand) : std * gaussian(rand);
    tensors[name] = { dtype: 'F32', shape, data };
  }
  mkdirSync(join(dir, 'transformer'));
  writeFileSync(join(dir, 'transformer/config.json'), JSON.stringify(config));
  writeFileSync(join(dir, 'transformer/diffusion_pytorch_model.safetensors'), encodeSafetensors(tensors));
  mkdirSync(join(dir, 'scheduler'));
  writeFileSync(
    join(dir, 'scheduler/scheduler_config.json'),
    JSON.stringify({ _class_name: 'UniPCMultistepScheduler', prediction_type: 'flow_prediction', use_flow_sigmas: true, flow_shift: 3, solver_order: 2, num_train_timesteps: 1000 }),
  );
  mkdirSync(join(dir, 'text_encoder'));
  writeFileSync(join(dir, 'text_encoder/vocab.json'), JSON.stringify(TINY_VOCAB));
  const textLen = 6;
  const tok = new Float32Array(TINY_VOCAB.length * 8).map(() => gaussian(rand));
  const pos = new Float32Array(textLen * 8).map(() => 0.3 * gaussian(rand));
  writeFileSync(
    join(dir, 'text_encoder/model.safetensors'),
    encodeSafetensors({
      'token_embedding.weight': { dtype: 'F32', shape: [TINY_VOCAB.length, 8], data: tok },
      'position_embedding.weight': { dtype: 'F32', shape: [textLen, 8], data: pos },
    }),
  );
  writeFileSync(
    join(dir, 'model_index.json'),
    JSON.stringify({ name: 'tiny random', decoder: 'identity', text_len: textLen, frames: 4, height: 8, width: 8, steps: 6, guidance: 4, ...options.index }),
  );
  return dir;
}
