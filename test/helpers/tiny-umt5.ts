// A tiny diffusers-layout text stack for tests: tokenizer/ (the golden SentencePiece model, 3,000 pieces) and a
// random 2-layer umT5 text_encoder/ over that vocabulary, so real prompts tokenize to ids the encoder takes.
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expectedTensors } from '../../src/model/umt5/keys.ts';
import { encodeSafetensors, type EncodableTensor } from '../../src/weights/safetensors.ts';

const TOKENIZER = join(import.meta.dirname, '../golden/tokenizer');

/** Writes tokenizer/ and text_encoder/ into `dir` (which must exist). */
export async function writeTinyUmt5Model(dir: string): Promise<void> {
  await mkdir(join(dir, 'tokenizer'), { recursive: true });
  await copyFile(join(TOKENIZER, 'spiece.model'), join(dir, 'tokenizer/spiece.model'));
  await mkdir(join(dir, 'text_encoder'), { recursive: true });
  const config = { dModel: 16, dKv: 4, dFf: 24, numLayers: 2, numHeads: 4, numBuckets: 32, maxDistance: 128, vocabSize: 3000, eps: 1e-6 };
  let seed = 12345;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5) * 0.5;
  const tensors: Record<string, EncodableTensor> = {};
  for (const [name, shape] of expectedTensors(config)) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = name.endsWith('layer_norm.weight') ? 1 + random() : random();
    tensors[name] = { dtype: 'F32', shape, data };
  }
  await writeFile(join(dir, 'text_encoder/model.safetensors'), encodeSafetensors(tensors));
  await writeFile(
    join(dir, 'text_encoder/config.json'),
    JSON.stringify({ model_type: 'umt5', d_model: 16, d_kv: 4, d_ff: 24, num_layers: 2, num_heads: 4, relative_attention_num_buckets: 32,
      relative_attention_max_distance: 128, feed_forward_proj: 'gated-gelu', vocab_size: 3000, layer_norm_epsilon: 1e-6 }),
  );
}
