// The streamed umT5 encoder against wan/modules/t5.py's T5Encoder (test/golden/t5): two prompts of
// different lengths, run upstream as a padded batch with a mask, run here packed without padding.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { testContext } from '../helpers/gpu.ts';
import { relativeError } from '../helpers/reference.ts';
import { directoryFolder } from '../../src/weights/node-folder.ts';
import { fileSource } from '../../src/weights/node-source.ts';
import { arrayBufferSource } from '../../src/weights/source.ts';
import { encodeSafetensors, openSafetensors, readTensor } from '../../src/weights/safetensors.ts';
import { loadUmt5Encoder } from '../../src/model/umt5/load.ts';
import { relativePositionBucket } from '../../src/model/umt5/buckets.ts';
import { parseUmt5Config } from '../../src/model/umt5/config.ts';
import { umt5GoldenCase } from '../helpers/umt5-golden.ts';

const GOLDEN = join(__dirname, '../golden/t5');


describe('umT5 encoder against wan/modules/t5.py', () => {
  for (const name of ['tiny', 'odd', 'tiny_bf16']) {
    for (const keys of ['hf', 'wan'] as const) {
      it(`${name}, ${keys === 'hf' ? 'Hugging Face names (text_encoder folder)' : "Wan's original names (one file, config inferred)"}`, async () => {
        const ctx = await testContext();
        const { dir, sequences, expected } = await umt5GoldenCase(name);
        const encoder = await loadUmt5Encoder(
          ctx,
          keys === 'hf' ? { folder: directoryFolder(join(dir, 'hf')) } : { file: await fileSource(join(dir, 'wan.safetensors')) },
        );
        const live = ctx.liveTensors;
        const layersSeen: number[] = [];
        const out = await encoder.encode(sequences, { onLayer: (l) => layersSeen.push(l) });
        expect(layersSeen).toEqual([...Array(encoder.config.numLayers).keys()]);
        expect(ctx.liveTensors).toBe(live);
        for (let s = 0; s < sequences.length; s++) {
          expect(out[s].length).toBe(expected[s].length);
          expect(relativeError(out[s], expected[s]), `sequence ${s} (${sequences[s].length} tokens)`).toBeLessThan(1e-4);
        }
        // One sequence alone gives the same rows as in the pair (the packing masks the other one out).
        const [alone] = await encoder.encode([sequences[1]]);
        expect(relativeError(alone, expected[1])).toBeLessThan(1e-4);
        expect(encoder.lastStats!.tokens).toBe(sequences[1].length);
      });
    }
  }

  it("reads only the prompt's embedding rows", async () => {
    const ctx = await testContext();
    const { dir, sequences } = await umt5GoldenCase('odd');
    const encoder = await loadUmt5Encoder(ctx, { folder: directoryFolder(join(dir, 'hf')) });
    const ids = [3, 3, 7];
    await encoder.encode([ids]);
    const { dModel, vocabSize, numLayers } = encoder.config;
    const total = (await openSafetensors(await fileSource(join(dir, 'wan.safetensors')))).source.size;
    const embeddingBytes = vocabSize * dModel * 4;
    // Two distinct rows, never the whole table; the layers and final norm whole.
    expect(encoder.lastStats!.bytesRead).toBeLessThan(total - embeddingBytes);
    expect(encoder.lastStats!.bytesRead).toBeGreaterThan(numLayers * 4 * dModel * 4);
    expect(sequences.length).toBe(2);
  });

  it('matches t5.py bucket for bucket over offsets −600…600', () => {
    const golden = JSON.parse(readFileSync(join(GOLDEN, 'buckets.json'), 'utf8')) as { num_buckets: number; max_distance: number; first_offset: number; buckets: number[] };
    const ours = golden.buckets.map((_, i) => relativePositionBucket(golden.first_offset + i, golden.num_buckets, golden.max_distance));
    expect(ours).toEqual(golden.buckets);
  });

  it('refuses bad ids, configs and checkpoints with clear errors', async () => {
    const ctx = await testContext();
    const { dir } = await umt5GoldenCase('tiny');
    const encoder = await loadUmt5Encoder(ctx, { folder: directoryFolder(join(dir, 'hf')) });
    await expect(encoder.encode([[1, 97]])).rejects.toThrow(/token id 97, outside the vocabulary \[0, 97\)/);
    await expect(encoder.encode([[1], []])).rejects.toThrow(/sequence 1 has no tokens/);
    await expect(encoder.encode([[1.5]])).rejects.toThrow(/token id 1.5/);
    expect(() => parseUmt5Config({ d_model: 8, d_kv: 2, d_ff: 4, num_layers: 1, num_heads: 4, relative_attention_num_buckets: 32, vocab_size: 9, feed_forward_proj: 'relu' }, 'cfg')).toThrow(
      /feed_forward_proj "relu"/,
    );
    expect(() => parseUmt5Config({ d_model: 8 }, 'cfg')).toThrow(/"d_kv" must be a positive integer/);
    const bad = encodeSafetensors({ 'shared.weight': { dtype: 'F32', shape: [4, 2], data: new Float32Array(8) } });
    await expect(loadUmt5Encoder(ctx, { file: arrayBufferSource(bad, 'bad.safetensors') })).rejects.toThrow(/no encoder layers found/);
    const config = encoder.config;
    await expect(loadUmt5Encoder(ctx, { file: await fileSource(join(dir, 'wan.safetensors')), config: { ...config, dFf: 47 } })).rejects.toThrow(
      /wrong shapes: blocks\.0\.ffn\.gate\.0\.weight is \[48, 32\], expected \[47, 32\]/,
    );
  });
});
