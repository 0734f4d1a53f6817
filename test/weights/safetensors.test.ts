import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { floatToBf16, floatToHalf, halfToFloat, bf16ToF32 } from '../../src/gpu/context.ts';
import {
  SafetensorsError,
  encodeSafetensors,
  openSafetensors,
  readTensor,
  widenToFloat32,
} from '../../src/weights/safetensors.ts';
import { arrayBufferSource } from '../../src/weights/source.ts';
import { fileSource } from '../../src/weights/node-source.ts';
import { randomArray, rng, runSeed } from '../helpers/reference.ts';

const goldenWan = fileURLToPath(new URL('../golden/wan/', import.meta.url));

/** A file from a header given as text, `dataBytes` zero bytes of data, and optionally a forged header length. */
function rawFile(header: string, dataBytes = 0, headerLength?: bigint): Uint8Array {
  const json = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + json.byteLength + dataBytes);
  new DataView(out.buffer).setBigUint64(0, headerLength ?? BigInt(json.byteLength), true);
  out.set(json, 8);
  return out;
}

function open(bytes: Uint8Array, name = 'bad.safetensors') {
  return openSafetensors(arrayBufferSource(bytes, name));
}

describe(`safetensors (seed ${runSeed})`, () => {
  it('round-trips F32, F16 and BF16 tensors and metadata', async () => {
    const rand = rng(runSeed);
    const a = randomArray(24, rand, 3);
    const b = randomArray(7, rand, 100);
    const c = randomArray(9, rand, 1e3);
    const rawHalf = Uint16Array.from([0x3c00, 0xc000, 0x7bff]);
    const bytes = encodeSafetensors(
      {
        a: { dtype: 'F32', shape: [2, 3, 4], data: a },
        b: { dtype: 'F16', shape: [7], data: b },
        c: { dtype: 'BF16', shape: [3, 3], data: c },
        raw: { dtype: 'F16', shape: [3], data: rawHalf },
        scalar: { dtype: 'F32', shape: [], data: Float32Array.of(5) },
        empty: { dtype: 'BF16', shape: [0, 4], data: new Float32Array(0) },
      },
      { format: 'pt', note: 'round trip' },
    );
    expect((new DataView(bytes.buffer).getUint32(0, true) + 8) % 8).toBe(0);

    const file = await openSafetensors(arrayBufferSource(bytes, 'round-trip'));
    expect(file.metadata).toEqual({ format: 'pt', note: 'round trip' });
    expect([...file.tensors.keys()]).toEqual(['a', 'b', 'c', 'raw', 'scalar', 'empty']);
    expect(file.tensors.get('b')).toMatchObject({ dtype: 'F16', shape: [7] });
    const infoA = file.tensors.get('a')!;
    expect(infoA.end - infoA.begin).toBe(96);

    expect(Array.from(await readTensor(file, 'a'))).toEqual(Array.from(a));
    expect(Array.from(await readTensor(file, 'b'))).toEqual(Array.from(b, (v) => halfToFloat(floatToHalf(v))));
    const bf16 = bf16ToF32(Uint16Array.from(c, floatToBf16));
    expect(Array.from(await readTensor(file, 'c'))).toEqual(Array.from(bf16));
    expect(Array.from(await readTensor(file, 'raw'))).toEqual([1, -2, 65504]);
    expect(Array.from(await readTensor(file, 'scalar'))).toEqual([5]);
    expect((await readTensor(file, 'empty')).length).toBe(0);
    await expect(readTensor(file, 'nope')).rejects.toThrow(/round-trip: no tensor named "nope"/);
  });

  it('widens f16 specials and unaligned bytes', () => {
    const halves = Uint16Array.from([0x0001, 0x7c00, 0xfc00, 0x8000, 0x3555]);
    const bytes = new Uint8Array(11);
    bytes.set(new Uint8Array(halves.buffer), 1);
    const out = widenToFloat32(bytes.subarray(1), 'F16');
    expect(Array.from(out)).toEqual(Array.from(halves, halfToFloat));
    expect(() => widenToFloat32(new Uint8Array(6), 'F32')).toThrow(/not a whole number of F32/);
  });

  describe('refuses malformed files with a precise message', () => {
    const good = (extra: Record<string, unknown> = {}) =>
      JSON.stringify({ w: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] }, ...extra });

    const cases: [string, Uint8Array, RegExp][] = [
      ['a truncated file', new Uint8Array([1, 2, 3, 4, 5]), /bad\.safetensors: 5 bytes, too short/],
      ['header length 0', rawFile('', 16, 0n), /bad\.safetensors: header length is 0/],
      ['header length 2^40', rawFile(good(), 16, 2n ** 40n), /header length 1099511627776 bytes is over the 104857600-byte limit/],
      ['a header past the end', rawFile(good(), 0, 5000n), /header of 5000 bytes runs past the end of the file/],
      ['invalid JSON', rawFile('{"w": {"dtype": "F32",', 16), /bad\.safetensors: header is not valid JSON/],
      ['invalid UTF-8', (() => { const f = rawFile('{"w":1}  ', 0); f[10] = 0xff; return f; })(), /header is not valid UTF-8/],
      ['a header that is an array', rawFile('[1, 2]'), /header is not a JSON object/],
      ['an entry without data_offsets', rawFile(JSON.stringify({ w: { dtype: 'F32', shape: [1] } }), 4), /tensor "w": header entry is not \{dtype, shape, data_offsets\}/],
      ['an unknown dtype', rawFile(JSON.stringify({ w: { dtype: 'Q4', shape: [4], data_offsets: [0, 2] } }), 2), /tensor "w": unknown dtype "Q4"; supported: F32, F16, BF16/],
      ['an unsupported dtype', rawFile(JSON.stringify({ w: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }), 8), /tensor "w": unsupported dtype "I64"; supported: F32, F16, BF16/],
      ['a negative dimension', rawFile(JSON.stringify({ w: { dtype: 'F32', shape: [2, -1], data_offsets: [0, 0] } })), /tensor "w": shape must be a list of non-negative integers, got \[2,-1\]/],
      ['a fractional dimension', rawFile(JSON.stringify({ w: { dtype: 'F32', shape: [1.5], data_offsets: [0, 6] } }), 6), /tensor "w": shape must be/],
      ['begin after end', rawFile(JSON.stringify({ w: { dtype: 'F32', shape: [1], data_offsets: [8, 4] } }), 8), /tensor "w": data_offsets must be \[begin, end\] integers with begin ≤ end, got \[8,4\]/],
      ['three offsets', rawFile(JSON.stringify({ w: { dtype: 'F32', shape: [1], data_offsets: [0, 4, 8] } }), 8), /tensor "w": data_offsets must be/],
      ['an offset past the end', rawFile(good(), 12), /tensor "w": data_offsets \[0, 16\] run past the end of the file \(12 data bytes after the header\)/],
      ['a wrong byte size', rawFile(JSON.stringify({ w: { dtype: 'F16', shape: [3], data_offsets: [0, 8] } }), 8), /tensor "w": 8 bytes for shape \[3\] F16, which needs 6/],
      [
        'overlapping tensors',
        rawFile(good({ v: { dtype: 'F32', shape: [2], data_offsets: [12, 20] } }), 20),
        /bad\.safetensors: tensors "w" \(bytes \d+-\d+\) and "v" \(bytes \d+-\d+\) overlap/,
      ],
      ['non-string metadata', rawFile(good({ __metadata__: { epoch: 3 } }), 16), /__metadata__ value "epoch" is 3, not a string/],
      ['metadata that is a list', rawFile(good({ __metadata__: ['a'] }), 16), /__metadata__ must be an object of strings/],
    ];
    for (const [what, bytes, message] of cases) {
      it(what, async () => {
        const error = await open(bytes).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(SafetensorsError);
        expect((error as Error).message).toMatch(message);
      });
    }

    it('a huge header length fails at once, reading only the first 8 bytes', async () => {
      const reads: number[] = [];
      const inner = arrayBufferSource(rawFile(good(), 16, 2n ** 40n), 'huge');
      const source = { ...inner, read: (o: number, n: number) => (reads.push(n), inner.read(o, n)) };
      await expect(openSafetensors(source)).rejects.toThrow(/huge: header length/);
      expect(reads).toEqual([8]);
    });

    it('random garbage never crashes or hangs, only refuses', async () => {
      const rand = rng(runSeed + 1);
      for (let trial = 0; trial < 200; trial++) {
        const bytes = rawFile(good(), 16);
        const flips = 1 + Math.floor(rand() * 4);
        for (let i = 0; i < flips; i++) bytes[Math.floor(rand() * bytes.length)] = Math.floor(rand() * 256);
        const result = await open(bytes).then(
          (f) => f,
          (e: unknown) => e,
        );
        if (result instanceof Error) expect(result).toBeInstanceOf(SafetensorsError);
      }
    });
  });

  describe('golden checkpoints', () => {
    const cases = readdirSync(goldenWan);
    it('includes tiny, head128 and tiny_bf16', () => {
      expect(cases).toEqual(expect.arrayContaining(['tiny', 'head128', 'tiny_bf16']));
    });
    for (const name of cases) {
      it(`${name}: both key forms open and list their tensors`, async () => {
        const diffusers = await openSafetensors(await fileSource(`${goldenWan}${name}/diffusion_pytorch_model.safetensors`));
        const original = await openSafetensors(await fileSource(`${goldenWan}${name}/transformer.original.safetensors`));
        const expectedDtype = name.endsWith('bf16') ? 'BF16' : 'F32';
        for (const file of [diffusers, original]) {
          expect(file.tensors.size).toBeGreaterThan(10);
          for (const info of file.tensors.values()) expect(info.dtype).toBe(expectedDtype);
          const patch = file.tensors.get('patch_embedding.weight')!;
          expect(patch.shape.length).toBe(5);
          const values = await readTensor(file, 'patch_embedding.weight');
          expect(values.length).toBe(patch.shape.reduce((a, b) => a * b, 1));
          expect(values.every(Number.isFinite)).toBe(true);
        }
        // Same weights under two naming schemes: same count, same total bytes.
        expect(original.tensors.size).toBe(diffusers.tensors.size);
        const bytes = (f: typeof diffusers) => [...f.tensors.values()].reduce((s, t) => s + t.end - t.begin, 0);
        expect(bytes(original)).toBe(bytes(diffusers));
        expect(diffusers.tensors.has('condition_embedder.text_embedder.linear_1.weight')).toBe(true);
        expect(original.tensors.has('text_embedding.0.weight')).toBe(true);
      });
    }
  });
});
