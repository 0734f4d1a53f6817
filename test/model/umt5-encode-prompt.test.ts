// `webdit encode --prompt`: the prompt goes through the umT5 tokenizer (Wan's cleaning, SentencePiece) and then
// the encoder, giving exactly the file that `--input-ids` with the tokenizer's ids gives.
import { mkdtemp, readFile, rm, writeFile, mkdir, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { Options, parseArgs } from '../../src/cli/args.ts';
import encode from '../../src/cli/commands/encode.ts';
import { loadTokenizerFromPath } from '../../src/cli/commands/tokenize.ts';
import { expectedTensors } from '../../src/model/umt5/keys.ts';
import { encodeSafetensors, type EncodableTensor } from '../../src/weights/safetensors.ts';

const TOKENIZER = join(__dirname, '../golden/tokenizer');
const run = (args: string[]) => encode.run(new Options(parseArgs(args), 'encode'));

/** A diffusers-layout folder: tokenizer/ (the golden spiece.model, 3,000 pieces) and a random 2-layer text_encoder/ over that vocabulary. */
async function tinyModel(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'webdit-encode-prompt-'));
  await mkdir(join(dir, 'tokenizer'));
  await copyFile(join(TOKENIZER, 'spiece.model'), join(dir, 'tokenizer/spiece.model'));
  await mkdir(join(dir, 'text_encoder'));
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
  return dir;
}

describe('webdit encode --prompt', () => {
  it('tokenizes as Wan does and writes exactly what --input-ids with those ids writes', async () => {
    const dir = await tinyModel();
    vi.spyOn(console, 'error').mockImplementation(() => {});
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const prompt = 'A red fox &amp; its   shadow run across snow — 雪の上を走る狐 🦊';
      const negative = 'blurry, static';
      await run(['--model', dir, '--prompt', prompt, '--negative-prompt', negative, '--out', join(dir, 'a.safetensors')]);
      const tokenizer = await loadTokenizerFromPath(join(dir, 'tokenizer'));
      const ids = tokenizer.encode(prompt);
      expect(ids.length).toBeGreaterThan(10);
      expect(ids.at(-1)).toBe(tokenizer.eosId);
      await run(['--model', dir, '--input-ids', JSON.stringify(ids), '--negative-input-ids', JSON.stringify(tokenizer.encode(negative)), '--out', join(dir, 'b.safetensors')]);
      const [a, b] = await Promise.all([readFile(join(dir, 'a.safetensors')), readFile(join(dir, 'b.safetensors'))]);
      expect(a.equals(b)).toBe(true);
      // A different prompt gives a different file (the prompt is really used).
      await run(['--model', dir, '--prompt', 'a blue whale', '--out', join(dir, 'c.safetensors')]);
      expect((await readFile(join(dir, 'c.safetensors'))).equals(a)).toBe(false);
    } finally {
      vi.restoreAllMocks();
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('says what is missing or mixed up', async () => {
    await expect(run(['--text-encoder', '/nowhere', '--prompt', 'x', '--out', '/tmp/x.safetensors'])).rejects.toThrow(/--prompt needs a tokenizer/);
    await expect(run(['--model', '/nowhere', '--out', '/tmp/x.safetensors'])).rejects.toThrow(/give --prompt TEXT or --input-ids/);
    await expect(run(['--model', '/nowhere', '--prompt', 'x', '--input-ids', '[1]', '--out', '/tmp/x.safetensors'])).rejects.toThrow(/one of them/);
    await expect(run(['--model', '/nowhere', '--prompt', 'x', '--negative-input-ids', '[1]', '--out', '/tmp/x.safetensors'])).rejects.toThrow(/--negative-prompt TEXT/);
    await expect(run(['--model', '/nowhere', '--prompt', 'x', '--out', '/tmp/x.safetensors'])).rejects.toThrow(/nowhere\/tokenizer: no such file or folder/);
  });
});
