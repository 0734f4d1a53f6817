// Writes a Hugging Face `text_encoder/` folder with umT5-XXL's exact shapes (24 layers, d_model 4096,
// 64 heads of 64, d_ff 10240, vocabulary 256,384: 5.7 B parameters, 11.4 GB at f16) and random weights,
// streamed to disk chunk by chunk so it never sits in memory, to measure the streamed encoder at full
// size. The values only have realistic magnitudes: each tensor is cut from a pool of random f16 words
// of its standard deviation at random offsets (fast; the embeddings mean nothing).
//
//   npx tsx bench/umt5-shaped-model.ts --out /tmp/umt5-xxl [--layers N] [--dtype f16|bf16]
//   /usr/bin/time -v npx webdit encode --text-encoder /tmp/umt5-xxl --input-ids '[…40 ids…]' \
//     --negative-input-ids '[…]' --out /tmp/embeds.safetensors

import { closeSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { floatToBf16, floatToHalf } from '../src/gpu/context.ts';
import { expectedTensors } from '../src/model/umt5/keys.ts';
import type { Umt5Config } from '../src/model/umt5/config.ts';

const args = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? args[at + 1] : undefined;
};
const out = option('out');
const dtype = option('dtype') ?? 'f16';
if (!out || (dtype !== 'f16' && dtype !== 'bf16')) {
  console.error('usage: npx tsx bench/umt5-shaped-model.ts --out DIR [--layers N] [--dtype f16|bf16]');
  process.exit(2);
}
const config: Umt5Config = {
  dModel: 4096,
  dKv: 64,
  dFf: 10240,
  numLayers: Number(option('layers') ?? 24),
  numHeads: 64,
  numBuckets: 32,
  maxDistance: 128,
  vocabSize: 256384,
  eps: 1e-6,
};

let state = 0x2545f491;
const uniform = (): number => {
  state ^= state << 13;
  state ^= state >>> 17;
  state ^= state << 5;
  return (state >>> 0) / 4294967296;
};
const toWord = dtype === 'f16' ? floatToHalf : floatToBf16;
const POOL = 1 << 22; // 4 Mi words: 8 MiB per standard deviation
const pools = new Map<string, Uint16Array>();
/** Random words uniform in mean ± std·√3, made once per (mean, std). */
function pool(mean: number, std: number): Uint16Array {
  const key = `${mean}/${std}`;
  let p = pools.get(key);
  if (!p) {
    p = new Uint16Array(POOL);
    const half = std * Math.sqrt(3);
    for (let i = 0; i < POOL; i++) p[i] = toWord(mean + half * (2 * uniform() - 1));
    pools.set(key, p);
  }
  return p;
}

// The init of wan/modules/t5.py (normal, these standard deviations), as uniform values.
function distribution(name: string, shape: number[]): [number, number] {
  if (name.endsWith('layer_norm.weight')) return [1, 0.1];
  if (name === 'shared.weight') return [0, 1];
  if (name.includes('relative_attention_bias')) return [0, (2 * config.numBuckets * config.numHeads) ** -0.5];
  return [0, shape[1] ** -0.5];
}

const tensors = [...expectedTensors(config)];
const header: Record<string, unknown> = {};
let offset = 0;
for (const [name, shape] of tensors) {
  const bytes = shape.reduce((a, b) => a * b, 1) * 2;
  header[name] = { dtype: dtype.toUpperCase(), shape, data_offsets: [offset, offset + bytes] };
  offset += bytes;
}
let json = JSON.stringify(header);
json += ' '.repeat((8 - (json.length % 8)) % 8);
mkdirSync(out, { recursive: true });
const file = openSync(join(out, 'model.safetensors'), 'w');
const prefix = new Uint8Array(8);
new DataView(prefix.buffer).setBigUint64(0, BigInt(json.length), true);
writeSync(file, prefix);
writeSync(file, new TextEncoder().encode(json));
const CHUNK = 1 << 22; // words per write
const chunk = new Uint16Array(CHUNK);
const started = Date.now();
let written = 0;
for (const [name, shape] of tensors) {
  const [mean, std] = distribution(name, shape);
  const source = pool(mean, std);
  let left = shape.reduce((a, b) => a * b, 1);
  while (left > 0) {
    const n = Math.min(left, CHUNK);
    for (let at = 0; at < n; ) {
      const start = Math.floor(uniform() * (POOL - 4096));
      const take = Math.min(n - at, POOL - start, 65536 + Math.floor(uniform() * 65536));
      chunk.set(source.subarray(start, start + take), at);
      at += take;
    }
    writeSync(file, new Uint8Array(chunk.buffer, 0, n * 2));
    left -= n;
    written += n * 2;
  }
  if (name.endsWith('wo.weight')) process.stderr.write(`\r${(written / 1e9).toFixed(2)} GB`);
}
closeSync(file);
writeFileSync(
  join(out, 'config.json'),
  JSON.stringify(
    {
      architectures: ['UMT5EncoderModel'],
      model_type: 'umt5',
      d_model: config.dModel,
      d_kv: config.dKv,
      d_ff: config.dFf,
      num_layers: config.numLayers,
      num_heads: config.numHeads,
      relative_attention_num_buckets: config.numBuckets,
      relative_attention_max_distance: config.maxDistance,
      feed_forward_proj: 'gated-gelu',
      vocab_size: config.vocabSize,
      layer_norm_epsilon: config.eps,
      torch_dtype: dtype === 'f16' ? 'float16' : 'bfloat16',
    },
    null,
    2,
  ),
);
console.error(`\nwrote ${join(out, 'model.safetensors')}: ${(offset / 1e9).toFixed(2)} GB of ${dtype} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
