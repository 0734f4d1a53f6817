// The streamed umT5 encoder on quantized weights: webdit's int8 / int4 files (`webdit quantize`) and a
// ComfyUI-style scaled-fp8 file, against the f32 reference of wan/modules/t5.py (test/golden/t5). Prints
// the embeddings' relative error and cosine similarity per format.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { testContext } from '../helpers/gpu.ts';
import { relativeError } from '../helpers/reference.ts';
import { Options, parseArgs } from '../../src/cli/args.ts';
import quantize from '../../src/cli/commands/quantize.ts';
import { fileSource } from '../../src/weights/node-source.ts';
import { encodeSafetensorsHeader, openSafetensors, readTensor } from '../../src/weights/safetensors.ts';
import { loadUmt5Encoder } from '../../src/model/umt5/load.ts';
import { parseUmt5Config } from '../../src/model/umt5/config.ts';
import { FP8_E4M3_MAX, floatToFp8E4M3 } from '../../src/gpu/quantized.ts';
import { readFileSync } from 'node:fs';
import { openCheckpoint } from '../../src/weights/checkpoint.ts';
import { directoryFolder } from '../../src/weights/node-folder.ts';
import { umt5GoldenCase } from '../helpers/umt5-golden.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});


/** A scaled-fp8 single file as ComfyUI writes them: 2-D Linear weights as F8_E4M3 codes with `<base>.scale_weight`
 * (max|w| / 448), an empty `scaled_fp8` marker; everything else as it was (F32). */
async function writeScaledFp8(folder: string, to: string): Promise<void> {
  const checkpoint = await openCheckpoint(directoryFolder(folder), 'model');
  const header: Record<string, unknown> = {};
  const blobs: Uint8Array[] = [];
  let offset = 0;
  const add = (name: string, dtype: string, shape: number[], bytes: Uint8Array) => {
    header[name] = { dtype, shape, data_offsets: [offset, offset + bytes.byteLength] };
    blobs.push(bytes);
    offset += bytes.byteLength;
  };
  for (const [name, { file, info }] of checkpoint.tensors) {
    const values = await readTensor(file, name);
    const linear = info.shape.length === 2 && !name.includes('relative_attention_bias') && name !== 'shared.weight';
    if (!linear) {
      add(name, 'F32', info.shape, new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
      continue;
    }
    const scale = values.reduce((m, v) => Math.max(m, Math.abs(v)), 0) / FP8_E4M3_MAX;
    add(name, 'F8_E4M3', info.shape, Uint8Array.from(values, (v) => floatToFp8E4M3(v / scale)));
    add(name.replace(/\.weight$/, '.scale_weight'), 'F32', [], new Uint8Array(Float32Array.of(scale).buffer));
  }
  add('scaled_fp8', 'F8_E4M3', [0], new Uint8Array(0));
  await writeFile(to, Buffer.concat([encodeSafetensorsHeader(header), ...blobs]));
}

const cosine = (a: Float32Array, b: Float32Array) => {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) (ab += a[i] * b[i]), (aa += a[i] * a[i]), (bb += b[i] * b[i]);
  return ab / Math.sqrt(aa * bb);
};

describe('umT5 encoder on quantized weights', () => {
  // Bounds a few times above what each format measures here; a broken decode gives errors near 1.
  const bounds = { int8: { rel: 0.03, cos: 0.999 }, int4: { rel: 0.4, cos: 0.9 }, fp8: { rel: 0.1, cos: 0.99 } };

  for (const name of ['tiny', 'odd']) {
    it.each(['int8', 'int4', 'fp8'] as const)(`${name}: %s`, async (format) => {
      const ctx = await testContext();
      const { dir, sequences, expected } = await umt5GoldenCase(name);
      const work = await mkdtemp(join(tmpdir(), 'webdit-umt5-q-'));
      dirs.push(work);
      const out = join(work, `${format}.safetensors`);
      if (format === 'fp8') await writeScaledFp8(join(dir, 'hf'), out);
      else {
        const log = vi.spyOn(console, 'log').mockImplementation(() => {});
        try {
          await quantize.run(new Options(parseArgs(['--text-encoder', join(dir, 'hf'), '--format', format, '--out', out, '--group-size', '8']), 'quantize'));
        } finally {
          log.mockRestore();
        }
      }
      const config = parseUmt5Config(JSON.parse(readFileSync(join(dir, 'hf/config.json'), 'utf8')), 'config.json');
      const encoder = await loadUmt5Encoder(ctx, { file: await fileSource(out), config });
      const got = await encoder.encode(sequences);
      const rel = Math.max(...got.map((g, i) => relativeError(g, expected[i])));
      const cos = Math.min(...got.map((g, i) => cosine(g, expected[i])));
      console.log(`umT5 ${name} ${format}: relative error ${rel.toExponential(2)}, cosine ${cos.toFixed(6)}`);
      expect(got.every((g) => g.every(Number.isFinite))).toBe(true);
      expect(rel).toBeGreaterThan(0); // really quantized
      expect(rel).toBeLessThan(bounds[format].rel);
      expect(cos).toBeGreaterThan(bounds[format].cos);
      expect(ctx.liveBytes).toBe(0);
    }, 60_000);
  }
});
