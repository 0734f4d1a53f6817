// webdit's int8/int4 format: the quantizer's rounding, the `webdit quantize` command end to end on a
// small random checkpoint, and loadLinearWeight for every format a Linear weight can come in (plain,
// fp8 with and without scales, int8/int4) feeding the matmul.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { testContext } from '../helpers/gpu.ts';
import { randomArray, relativeError, rng, runSeed } from '../helpers/reference.ts';
import { floatToBf16, halfToFloat } from '../../src/gpu/context.ts';
import { QuantizedWeight, dequantize, fp8E4M3Table } from '../../src/gpu/quantized.ts';
import { matmul, type LinearWeight } from '../../src/gpu/kernels/matmul.ts';
import { main } from '../../src/cli/main.ts';
import { openCheckpointFile } from '../../src/weights/checkpoint.ts';
import { isQuantizationCompanion, loadLinearWeight } from '../../src/weights/linear-weight.ts';
import { QUANTIZATION_METADATA_KEY, quantizeCheckpoint, quantizeRows, type QuantizeReport } from '../../src/weights/quantize.ts';
import { encodeSafetensors, openSafetensors, readTensor, type EncodableTensor } from '../../src/weights/safetensors.ts';
import { arrayBufferSource, type ByteSource } from '../../src/weights/source.ts';

/** f16 scale bits as numbers. */
const widen = (bits: Uint16Array): number[] => Array.from(bits, halfToFloat);

/** Every value of w within half a step of its dequantized value, and each group's scale max|w| / qmax. */
function expectFaithful(w: Float32Array, rows: number, K: number, format: 'int8' | 'int4', groupSize: number): void {
  const { codes, scales } = quantizeRows(w, rows, K, format, groupSize);
  const s = widen(scales);
  const back = dequantize(format, codes, s, rows, K, groupSize);
  const groups = Math.ceil(K / groupSize);
  const qmax = format === 'int8' ? 127 : 7;
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < groups; g++) {
      let amax = 0;
      for (let k = g * groupSize; k < Math.min(K, (g + 1) * groupSize); k++) amax = Math.max(amax, Math.abs(w[r * K + k]));
      const scale = s[r * groups + g];
      expect(Math.abs(scale - amax / qmax)).toBeLessThanOrEqual((amax / qmax) * 2 ** -11);
      for (let k = g * groupSize; k < Math.min(K, (g + 1) * groupSize); k++) {
        // Half a step, plus the clamp when the f16-rounded scale came out below max|w| / qmax.
        expect(Math.abs(back[r * K + k] - w[r * K + k])).toBeLessThanOrEqual(scale / 2 + amax * 2 ** -11 + 1e-12);
      }
    }
  }
}

function randomTensor(shape: number[], rand: () => number, dtype: 'F32' | 'BF16' | 'F16' = 'F32', scale = 0.1): EncodableTensor {
  return { dtype, shape, data: randomArray(shape.reduce((a, b) => a * b, 1), rand, scale) };
}

/** A source that records the largest read, to show the quantizer streams. */
function recordingSource(bytes: Uint8Array): { source: ByteSource; largestRead: () => number } {
  const inner = arrayBufferSource(bytes, 'encoder.safetensors');
  let largest = 0;
  return {
    source: {
      name: inner.name,
      size: inner.size,
      read(offset, length, signal) {
        largest = Math.max(largest, length);
        return inner.read(offset, length, signal);
      },
    },
    largestRead: () => largest,
  };
}

/** A small text encoder: Linear weights (F32, BF16, odd K), an embedding, the relative position bias, a norm. */
function tinyEncoder(rand: () => number): Record<string, EncodableTensor> {
  return {
    'shared.weight': randomTensor([11, 24], rand),
    'encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight': randomTensor([32, 4], rand),
    'encoder.block.0.layer.0.SelfAttention.q.weight': randomTensor([24, 24], rand),
    'encoder.block.0.layer.0.SelfAttention.o.weight': randomTensor([24, 24], rand, 'BF16'),
    'encoder.block.0.layer.0.layer_norm.weight': randomTensor([24], rand),
    'encoder.block.0.layer.1.DenseReluDense.wi_0.weight': randomTensor([40, 24], rand),
    'encoder.block.0.layer.1.DenseReluDense.wo.weight': randomTensor([24, 40], rand, 'F16'),
    'odd.weight': randomTensor([5, 9], rand),
  };
}

async function quantizeInMemory(input: Uint8Array, format: 'int8' | 'int4', groupSize: number, chunkBytes?: number): Promise<{ out: Uint8Array; report: QuantizeReport }> {
  const out = new Uint8Array(input.byteLength * 2);
  let end = 0;
  const report = await quantizeCheckpoint(
    await openCheckpointFile(arrayBufferSource(input)),
    {
      async write(bytes, position) {
        out.set(bytes, position);
        end = Math.max(end, position + bytes.byteLength);
      },
    },
    { format, groupSize, chunkBytes },
  );
  expect(end).toBe(report.outputBytes);
  return { out: out.slice(0, end), report };
}

async function product(weight: LinearWeight, x: Float32Array, M: number, K: number): Promise<Float32Array> {
  const ctx = await testContext();
  const xt = ctx.upload(x, [M, K]);
  const y = matmul(ctx, xt, weight);
  const out = await ctx.read(y);
  xt.release();
  y.release();
  return out;
}

function reference(x: Float32Array, w: ArrayLike<number>, M: number, N: number, K: number): Float64Array {
  const y = new Float64Array(M * N);
  for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) y[m * N + n] += x[m * K + k] * w[n * K + k];
  return y;
}

describe(`webdit quantize and loadLinearWeight (seed ${runSeed})`, () => {
  it('quantizes each group to within half a step, with scale max|w| / qmax in f16; zero groups stay zero', () => {
    const rand = rng(runSeed);
    for (const format of ['int8', 'int4'] as const) {
      for (const [rows, K, groupSize] of [[3, 64, 64], [5, 70, 16], [1, 8, 8], [2, 130, 128]] as const) {
        const w = randomArray(rows * K, rand, 1 + rand() * 10);
        w[0] = 0; // a zero, and a group spanning values of both signs
        expectFaithful(w, rows, K, format, groupSize);
      }
      const zeros = quantizeRows(new Float32Array(16), 1, 16, format, 8);
      expect([...zeros.codes].every((c) => c === 0) && [...zeros.scales].every((s) => s === 0)).toBe(true);
    }
    // The largest magnitude of a group maps to ±qmax exactly.
    const { codes } = quantizeRows(Float32Array.of(-2, 1, 0.5, 0, 0, 0, 0, 0), 1, 8, 'int8', 8);
    expect((codes[0] << 24) >> 24).toBe(-127);
    expect(() => quantizeRows(Float32Array.of(NaN, 0, 0, 0, 0, 0, 0, 0), 1, 8, 'int8', 8)).toThrow(/non-finite weight NaN at row 0, column 0/);
    expect(() => quantizeRows(new Float32Array(8), 1, 8, 'int8', 12)).toThrow(/power of two ≥ 8, got 12/);
    expect(() => quantizeRows(new Float32Array(9), 1, 9, 'int4', 8)).toThrow(/int4 needs an even K/);
  });

  it('`webdit quantize` writes a valid safetensors file: Linear weights as codes + f16 scales, everything else copied', async () => {
    const rand = rng(runSeed + 1);
    const tensors = tinyEncoder(rand);
    const dir = mkdtempSync(join(tmpdir(), 'quantize-'));
    const inputPath = join(dir, 'encoder.safetensors');
    writeFileSync(inputPath, encodeSafetensors(tensors, { format: 'pt' }));
    const input = await openSafetensors(arrayBufferSource(new Uint8Array(readFileSync(inputPath))));
    for (const format of ['int8', 'int4'] as const) {
      const outPath = join(dir, `${format}.safetensors`);
      expect(await main(['quantize', '--text-encoder', inputPath, '--format', format, '--group-size', '16', '--out', outPath, '--json'])).toBe(0);
      const out = await openSafetensors(arrayBufferSource(new Uint8Array(readFileSync(outPath))));
      expect(out.metadata.format).toBe('pt');
      expect(JSON.parse(out.metadata[QUANTIZATION_METADATA_KEY])).toEqual({ format, scheme: 'symmetric', group_size: 16, scale_dtype: 'F16', version: 1 });
      const quantizedNames = ['SelfAttention.q', 'SelfAttention.o', 'DenseReluDense.wi_0', 'DenseReluDense.wo'];
      for (const [name, t] of Object.entries(tensors)) {
        const info = out.tensors.get(name)!;
        const isLinear = quantizedNames.some((q) => name.includes(q)) || (format === 'int8' && name === 'odd.weight');
        if (!isLinear) {
          // Copied byte for byte, in its stored dtype.
          expect(info.dtype, name).toBe(t.dtype);
          const before = await input.source.read(input.tensors.get(name)!.begin, info.end - info.begin);
          expect(await out.source.read(info.begin, info.end - info.begin), name).toEqual(before);
          expect(out.tensors.has(`${name}_group_scale`)).toBe(false);
          continue;
        }
        const [N, K] = t.shape;
        expect(info.dtype, name).toBe(format === 'int8' ? 'I8' : 'U8');
        expect(info.shape).toEqual(format === 'int8' ? [N, K] : [N, K / 2]);
        const scaleInfo = out.tensors.get(`${name}_group_scale`)!;
        expect(scaleInfo).toMatchObject({ dtype: 'F16', shape: [N, Math.ceil(K / 16)] });
        // The file's codes are what quantizeRows makes of the stored (rounded) values.
        const stored = await readTensor(input, name);
        const expected = quantizeRows(stored, N, K, format, 16);
        expect(await out.source.read(info.begin, info.end - info.begin), name).toEqual(expected.codes);
        expect(await readTensor(out, `${name}_group_scale`)).toEqual(Float32Array.from(widen(expected.scales)));
      }
      // int4 cannot pack an odd K: that weight stays F32.
      expect(out.tensors.get('odd.weight')!.dtype).toBe(format === 'int8' ? 'I8' : 'F32');
    }
    expect(await main(['quantize', '--text-encoder', inputPath, '--format', 'int3', '--out', join(dir, 'x.safetensors')])).toBe(2);
  });

  it('`webdit quantize` reads a folder (model.safetensors) or an index.json with its shards; a failed run leaves no file', async () => {
    const rand = rng(runSeed + 5);
    const dir = mkdtempSync(join(tmpdir(), 'quantize-folder-'));
    const a = { 'a.weight': randomTensor([8, 16], rand) };
    const b = { 'b.weight': randomTensor([9, 16], rand, 'BF16'), 'b.bias': randomTensor([9], rand) };
    writeFileSync(join(dir, 'model.safetensors'), encodeSafetensors({ ...a, ...b }));
    writeFileSync(join(dir, 'model-00001-of-00002.safetensors'), encodeSafetensors(a));
    writeFileSync(join(dir, 'model-00002-of-00002.safetensors'), encodeSafetensors(b));
    const weightMap = { 'a.weight': 'model-00001-of-00002.safetensors', 'b.weight': 'model-00002-of-00002.safetensors', 'b.bias': 'model-00002-of-00002.safetensors' };
    const outputs: Uint8Array[] = [];
    for (const input of [dir, join(dir, 'sharded.safetensors.index.json')]) {
      if (input !== dir) {
        writeFileSync(input, JSON.stringify({ weight_map: weightMap }));
      }
      const out = join(dir, `out-${outputs.length}.safetensors`);
      expect(await main(['quantize', '--text-encoder', input, '--format', 'int8', '--group-size', '8', '--out', out])).toBe(0);
      outputs.push(new Uint8Array(readFileSync(out)));
    }
    // The shards hold the same tensors in the same order: the same file comes out.
    expect(outputs[1]).toEqual(outputs[0]);
    const file = await openSafetensors(arrayBufferSource(outputs[0]));
    expect([...file.tensors.keys()]).toEqual(['a.weight', 'a.weight_group_scale', 'b.weight', 'b.weight_group_scale', 'b.bias']);
    // A non-finite weight fails the run, naming the tensor, and leaves neither the output nor a partial file.
    const bad = join(dir, 'bad.safetensors');
    writeFileSync(bad, encodeSafetensors({ 'w.weight': { dtype: 'F32', shape: [1, 8], data: Float32Array.of(1, Infinity, 0, 0, 0, 0, 0, 0) } }));
    const badOut = join(dir, 'bad-out.safetensors');
    expect(await main(['quantize', '--text-encoder', bad, '--format', 'int4', '--out', badOut])).toBe(1);
    expect(existsSync(badOut) || existsSync(`${badOut}.partial`)).toBe(false);
  });

  it('streams: no read larger than one chunk of rows, and the result does not depend on the chunk size', async () => {
    const rand = rng(runSeed + 2);
    const bytes = encodeSafetensors({ 'a.weight': randomTensor([64, 48], rand), 'b.weight': randomTensor([33, 48], rand, 'BF16') });
    const whole = await quantizeInMemory(bytes, 'int4', 16);
    const { source, largestRead } = recordingSource(bytes);
    const out = new Uint8Array(whole.out.byteLength);
    await quantizeCheckpoint(await openCheckpointFile(source), { write: async (b, p) => out.set(b, p) }, { format: 'int4', groupSize: 16, chunkBytes: 1000 });
    expect(largestRead()).toBeLessThanOrEqual(1000);
    expect(out).toEqual(whole.out);
    expect(whole.report.quantized).toEqual(['a.weight', 'b.weight']);
  });

  it('loadLinearWeight: int8/int4 files to a QuantizedWeight whose matmul equals x · dequantized wᵀ; plain weights as tensors', async () => {
    const ctx = await testContext();
    const rand = rng(runSeed + 3);
    const tensors = tinyEncoder(rand);
    const input = encodeSafetensors(tensors);
    for (const format of ['int8', 'int4'] as const) {
      const { out } = await quantizeInMemory(input, format, 8);
      const checkpoint = await openCheckpointFile(arrayBufferSource(out));
      for (const base of ['encoder.block.0.layer.0.SelfAttention.o', 'encoder.block.0.layer.1.DenseReluDense.wo', 'odd']) {
        const weight = await loadLinearWeight(ctx, checkpoint, base);
        const [N, K] = tensors[`${base}.weight`].shape;
        const x = randomArray(3 * K, rand);
        const info = checkpoint.tensors.get(`${base}.weight`)!.info;
        let w: ArrayLike<number>;
        if (format === 'int4' && base === 'odd') {
          expect(weight instanceof QuantizedWeight).toBe(false); // kept F32
          w = await readTensor(checkpoint.files[0], `${base}.weight`);
        } else {
          expect(weight).toBeInstanceOf(QuantizedWeight);
          expect((weight as QuantizedWeight).format).toBe(format);
          const codes = await checkpoint.files[0].source.read(info.begin, info.end - info.begin);
          w = dequantize(format, codes, await readTensor(checkpoint.files[0], `${base}.weight_group_scale`), N, K, 8);
        }
        expect(relativeError(await product(weight, x, 3, K), reference(x, w, 3, N, K)), `${format} ${base}`).toBeLessThan(1e-5);
        weight.release();
      }
      expect(isQuantizationCompanion('encoder.block.0.layer.0.SelfAttention.o.weight_group_scale')).toBe(true);
    }
  });

  it('loadLinearWeight: fp8 e4m3fn with a ComfyUI scale_weight, a weight_scale, or none (scale 1)', async () => {
    const ctx = await testContext();
    const rand = rng(runSeed + 4);
    const [N, K] = [13, 24];
    const codes = Uint8Array.from({ length: N * K }, () => {
      const b = Math.floor(rand() * 256);
      return (b & 0x7f) === 0x7f ? 0 : b;
    });
    const bytes = encodeSafetensors({
      scaled_fp8: { dtype: 'F8_E4M3', shape: [0], data: new Uint8Array(0) },
      'comfy.weight': { dtype: 'F8_E4M3', shape: [N, K], data: codes },
      'comfy.scale_weight': { dtype: 'F32', shape: [], data: Float32Array.of(0.0123) },
      'hf.weight': { dtype: 'F8_E4M3', shape: [N, K], data: codes },
      'hf.weight_scale': { dtype: 'BF16', shape: [1], data: Uint16Array.of(floatToBf16(3.5)) },
      'plain.weight': { dtype: 'F8_E4M3', shape: [N, K], data: codes },
      'nan.weight': { dtype: 'F8_E4M3', shape: [1, 8], data: Uint8Array.of(0, 1, 2, 0xff, 0, 0, 0, 0) },
      'bad.weight': { dtype: 'F8_E4M3', shape: [1, 8], data: new Uint8Array(8) },
      'bad.scale_weight': { dtype: 'F32', shape: [2], data: Float32Array.of(1, 2) },
      'int.weight': { dtype: 'I8', shape: [1, 8], data: new Uint8Array(8) },
    });
    const checkpoint = await openCheckpointFile(arrayBufferSource(bytes, 'fp8.safetensors'));
    const table = fp8E4M3Table();
    const x = randomArray(2 * K, rand);
    for (const [base, scale] of [['comfy', 0.0123], ['hf', 3.5], ['plain', 1]] as const) {
      const weight = await loadLinearWeight(ctx, checkpoint, base);
      expect(weight).toBeInstanceOf(QuantizedWeight);
      const w = Float64Array.from(codes, (c) => table[c] * Math.fround(scale));
      expect(relativeError(await product(weight, x, 2, K), reference(x, w, 2, N, K)), base).toBeLessThan(1e-5);
      weight.release();
    }
    // Host widening (embedding rows, norms) decodes the stored values.
    expect(await readTensor(checkpoint.files[0], 'plain.weight')).toEqual(Float32Array.from(codes, (c) => table[c]));
    const live = ctx.liveTensors;
    await expect(loadLinearWeight(ctx, checkpoint, 'nan')).rejects.toThrow(/"nan.weight" holds an fp8 NaN \(byte 3\)/);
    await expect(loadLinearWeight(ctx, checkpoint, 'bad')).rejects.toThrow(/one scale per fp8 tensor, got shape \[2\]/);
    await expect(loadLinearWeight(ctx, checkpoint, 'int')).rejects.toThrow(/I8, which webdit reads only as int8 codes of a file quantized by `webdit quantize/);
    await expect(loadLinearWeight(ctx, checkpoint, 'missing')).rejects.toThrow(/no tensor "missing.weight"/);
    expect(ctx.liveTensors, 'a failed load releases what it uploaded').toBe(live);
    expect(isQuantizationCompanion('comfy.scale_weight') && isQuantizationCompanion('scaled_fp8')).toBe(true);
    expect(isQuantizationCompanion('comfy.weight')).toBe(false);
  });
});
