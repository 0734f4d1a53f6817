import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bf16ToF32, floatToBf16, floatToHalf, halfToFloat } from '../../src/gpu/context.ts';
import {
  loadTensors,
  openCheckpoint,
  openCheckpointFile,
  uploadTensor,
  type Checkpoint,
} from '../../src/weights/checkpoint.ts';
import { encodeSafetensors, openSafetensors, readTensor, type EncodableTensor } from '../../src/weights/safetensors.ts';
import { arrayBufferSource, type ByteSource } from '../../src/weights/source.ts';
import { fileMapFolder } from '../../src/weights/folder.ts';
import { directoryFolder } from '../../src/weights/node-folder.ts';
import { fileSource } from '../../src/weights/node-source.ts';
import { testContext } from '../helpers/gpu.ts';
import { randomArray, rng, runSeed } from '../helpers/reference.ts';

const rand = rng(runSeed);

/** The value a stored element reads back as. */
function stored(t: EncodableTensor): number[] {
  if (t.dtype === 'F32') return Array.from(t.data);
  if (t.data instanceof Uint16Array) return Array.from(t.data, t.dtype === 'F16' ? halfToFloat : (h) => bf16ToF32(Uint16Array.of(h))[0]);
  return t.dtype === 'F16' ? Array.from(t.data, (v) => halfToFloat(floatToHalf(v))) : Array.from(bf16ToF32(Uint16Array.from(t.data, floatToBf16)));
}

function tensor(dtype: EncodableTensor['dtype'], shape: number[], scale = 1): EncodableTensor {
  return { dtype, shape, data: randomArray(shape.reduce((a, b) => a * b, 1), rand, scale) };
}

interface ReadRecord {
  offset: number;
  length: number;
}

/** Wraps a source to record every read and the most reads ever in flight at once. */
function recording(inner: ByteSource, hooks: { beforeRead?: (n: number) => void } = {}) {
  const reads: ReadRecord[] = [];
  let inFlight = 0;
  const stats = { reads, maxInFlight: 0 };
  const source: ByteSource = {
    name: inner.name,
    size: inner.size,
    async read(offset, length, signal) {
      hooks.beforeRead?.(reads.length);
      reads.push({ offset, length });
      inFlight++;
      stats.maxInFlight = Math.max(stats.maxInFlight, inFlight);
      try {
        // A macrotask, so overlapping reads (if the loader issued any) would really overlap.
        await new Promise((r) => setTimeout(r, 0));
        return await inner.read(offset, length, signal);
      } finally {
        inFlight--;
      }
    },
  };
  return { source, stats };
}

describe(`checkpoints (seed ${runSeed})`, () => {
  describe('sharded through an index.json', () => {
    let dir = '';
    const shardA = { 'blocks.0.w': tensor('F32', [4, 3]), 'blocks.0.b': tensor('F32', [3]) };
    const shardB = { 'blocks.1.w': tensor('BF16', [5, 3]), 'head.w': tensor('F16', [7]) };
    const index = (map: Record<string, string>) => JSON.stringify({ metadata: { total_size: 0 }, weight_map: map });
    const weightMap = {
      'blocks.0.w': 'm-00001-of-00002.safetensors',
      'blocks.0.b': 'm-00001-of-00002.safetensors',
      'blocks.1.w': 'm-00002-of-00002.safetensors',
      'head.w': 'm-00002-of-00002.safetensors',
    };
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'webdit-checkpoint-'));
      writeFileSync(join(dir, 'm-00001-of-00002.safetensors'), encodeSafetensors(shardA));
      writeFileSync(join(dir, 'm-00002-of-00002.safetensors'), encodeSafetensors(shardB));
      writeFileSync(join(dir, 'm.safetensors.index.json'), index(weightMap));
      writeFileSync(join(dir, 'dup.safetensors.index.json'), index({ ...weightMap, 'blocks.0.w': 'dup-b.safetensors' }));
      writeFileSync(join(dir, 'dup-b.safetensors'), encodeSafetensors({ 'blocks.0.w': tensor('F32', [2]) }));
      writeFileSync(join(dir, 'lost.safetensors.index.json'), index({ x: 'gone.safetensors' }));
      writeFileSync(join(dir, 'wrong.safetensors.index.json'), index({ ...weightMap, 'head.w': 'm-00001-of-00002.safetensors' }));
      writeFileSync(join(dir, 'escape.safetensors.index.json'), index({ x: '../elsewhere.safetensors' }));
      writeFileSync(join(dir, 'broken.safetensors.index.json'), '{"weight_map": ');
      writeFileSync(join(dir, 'single.safetensors'), encodeSafetensors(shardA));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('maps every tensor to its shard and counts the bytes', async () => {
      const checkpoint = await openCheckpoint(directoryFolder(dir), 'm');
      expect(checkpoint.files).toHaveLength(2);
      expect([...checkpoint.tensors.keys()].sort()).toEqual(Object.keys(weightMap).sort());
      expect(checkpoint.tensors.get('head.w')!.file.source.name).toMatch(/m-00002-of-00002\.safetensors$/);
      expect(checkpoint.totalBytes).toBe(12 * 4 + 3 * 4 + 15 * 2 + 7 * 2);
    });

    it('opens the same shards picked as files (fileMapFolder)', async () => {
      const picked = new Map<string, Blob>([
        ['ckpt/m.safetensors.index.json', new Blob([index(weightMap)])],
        ['ckpt/m-00001-of-00002.safetensors', new Blob([encodeSafetensors(shardA)])],
        ['ckpt/m-00002-of-00002.safetensors', new Blob([encodeSafetensors(shardB)])],
      ]);
      const checkpoint = await openCheckpoint(fileMapFolder(picked, 'ckpt'), 'm');
      expect(checkpoint.tensors.size).toBe(4);
      const { file } = checkpoint.tensors.get('blocks.0.b')!;
      expect(Array.from(await readTensor(file, 'blocks.0.b'))).toEqual(stored(shardA['blocks.0.b']));
    });

    it('opens a single file when there is no index, and says what it looked for when neither exists', async () => {
      const single = await openCheckpoint(directoryFolder(dir), 'single');
      expect(single.files).toHaveLength(1);
      expect(single.tensors.size).toBe(2);
      await expect(openCheckpoint(directoryFolder(dir))).rejects.toThrow(
        `no checkpoint in ${dir}: looked for diffusion_pytorch_model.safetensors.index.json and diffusion_pytorch_model.safetensors`,
      );
    });

    it('refuses a tensor in two shards, a missing shard, a wrong weight_map, an escaping path and broken JSON', async () => {
      const folder = directoryFolder(dir);
      await expect(openCheckpoint(folder, 'dup')).rejects.toThrow(/tensor "blocks\.0\.w" is in two shards: .*dup-b\.safetensors and .*m-00001-of-00002\.safetensors/);
      await expect(openCheckpoint(folder, 'lost')).rejects.toThrow(/lost\.safetensors\.index\.json names shard gone\.safetensors, which is not in/);
      await expect(openCheckpoint(folder, 'wrong')).rejects.toThrow(/puts tensor "head\.w" in m-00001-of-00002\.safetensors, which does not hold it/);
      await expect(openCheckpoint(folder, 'escape')).rejects.toThrow(/not a path inside the folder/);
      await expect(openCheckpoint(folder, 'broken')).rejects.toThrow(/broken\.safetensors\.index\.json is not valid JSON/);
    });

    it('loads a sharded checkpoint to the GPU with dtypes kept, reporting progress', async () => {
      const ctx = await testContext();
      const checkpoint = await openCheckpoint(directoryFolder(dir), 'm');
      const progress: [number, number][] = [];
      const tensors = await loadTensors(ctx, checkpoint, ['head.w', 'blocks.0.w', 'blocks.1.w'], {
        onProgress: (loaded, total) => progress.push([loaded, total]),
      });
      expect([...tensors.keys()]).toEqual(['head.w', 'blocks.0.w', 'blocks.1.w']);
      expect(tensors.get('head.w')!.dtype).toBe('f16');
      expect(tensors.get('blocks.1.w')!.dtype).toBe('bf16');
      expect(tensors.get('blocks.1.w')!.shape).toEqual([5, 3]);
      expect(await ctx.read(tensors.get('blocks.0.w')!)).toEqual(Float32Array.from(stored(shardA['blocks.0.w'])));
      expect(Array.from(await ctx.read(tensors.get('blocks.1.w')!))).toEqual(stored(shardB['blocks.1.w']));
      expect(Array.from(await ctx.read(tensors.get('head.w')!))).toEqual(stored(shardB['head.w']));
      const total = 14 + 48 + 30;
      expect(progress[0]).toEqual([0, total]);
      expect(progress.at(-1)).toEqual([total, total]);
      for (let i = 1; i < progress.length; i++) expect(progress[i][0]).toBeGreaterThanOrEqual(progress[i - 1][0]);
      tensors.forEach((t) => t.release());
      await expect(loadTensors(ctx, checkpoint, ['head.w', 'nope'])).rejects.toThrow(/checkpoint has no tensor "nope"/);
    });
  });

  describe('GPU upload', () => {
    const contents: Record<string, EncodableTensor> = {
      odd_f16: tensor('F16', [3, 5], 4),
      even_f16: tensor('F16', [4, 6], 4),
      packed_bf16: tensor('BF16', [3, 7], 50),
      norm_bf16: tensor('BF16', [9], 2),
      bias_f16: tensor('F16', [11], 2),
      weight_f32: tensor('F32', [5, 5]),
      single_f16: { dtype: 'F16', shape: [1], data: Float32Array.of(-1.5) },
      special_f16: { dtype: 'F16', shape: [5], data: Uint16Array.of(0x7c00, 0xfc00, 0x0001, 0x8000, 0x7bff) },
    };
    let checkpoint: Checkpoint;
    beforeAll(async () => {
      checkpoint = await openCheckpointFile(arrayBufferSource(encodeSafetensors(contents), 'upload.safetensors'));
    });

    for (const chunkBytes of [8, 12, 1 << 20]) {
      it(`uploads packed f16/bf16 (odd counts included), f32, and widened tensors in ${chunkBytes}-byte chunks`, async () => {
        const ctx = await testContext();
        const before = ctx.liveTensors;
        const widen = (name: string) => name.startsWith('norm') || name.startsWith('bias');
        const tensors = await loadTensors(ctx, checkpoint, Object.keys(contents), { chunkBytes, widenToF32: widen });
        for (const [name, t] of tensors) {
          const info = checkpoint.tensors.get(name)!.info;
          const expectedDtype = info.dtype === 'F32' || widen(name) ? 'f32' : info.dtype === 'F16' ? 'f16' : 'bf16';
          expect(t.dtype, name).toBe(expectedDtype);
          expect(t.shape, name).toEqual(info.shape);
          expect(Array.from(await ctx.read(t)), name).toEqual(stored(contents[name]));
        }
        tensors.forEach((t) => t.release());
        expect(ctx.liveTensors).toBe(before);
      });
    }

    it('uploadTensor uploads one tensor and reports its own progress', async () => {
      const ctx = await testContext();
      const { file, info } = checkpoint.tensors.get('odd_f16')!;
      const progress: number[] = [];
      const t = await uploadTensor(ctx, file, info, { chunkBytes: 8, onProgress: (loaded, total) => progress.push(loaded / total) });
      expect(Array.from(await ctx.read(t))).toEqual(stored(contents.odd_f16));
      expect(progress[0]).toBe(0);
      expect(progress.at(-1)).toBe(1);
      expect(progress).toHaveLength(1 + Math.ceil(30 / 8));
      t.release();
      await expect(uploadTensor(ctx, file, info, { chunkBytes: 2 })).rejects.toThrow(/chunkBytes must be at least 4/);
    });

    it('an abort releases every tensor the call uploaded and rethrows the abort', async () => {
      const ctx = await testContext();
      const before = ctx.liveTensors;
      const controller = new AbortController();
      const { source, stats } = recording(arrayBufferSource(encodeSafetensors(contents), 'abortable'), {
        beforeRead: (n) => {
          if (n === 7) controller.abort();
        },
      });
      const aborting = await openCheckpointFile(source);
      const error = await loadTensors(ctx, aborting, Object.keys(contents), { chunkBytes: 8, signal: controller.signal }).catch((e: unknown) => e);
      expect((error as Error).name).toBe('AbortError');
      expect(ctx.liveTensors).toBe(before);
      // It stopped at the abort instead of reading on.
      expect(stats.reads.length).toBeLessThanOrEqual(8);

      await expect(loadTensors(ctx, aborting, ['odd_f16'], { signal: AbortSignal.abort() })).rejects.toThrow(/abort/i);
      expect(ctx.liveTensors).toBe(before);
    });

    it('a failing read releases every tensor the call uploaded and rethrows the error', async () => {
      const ctx = await testContext();
      const before = ctx.liveTensors;
      const { source } = recording(arrayBufferSource(encodeSafetensors(contents), 'flaky'), {
        beforeRead: (n) => {
          if (n === 9) throw new Error('disk unplugged');
        },
      });
      const flaky = await openCheckpointFile(source);
      await expect(loadTensors(ctx, flaky, Object.keys(contents), { chunkBytes: 8 })).rejects.toThrow('disk unplugged');
      expect(ctx.liveTensors).toBe(before);
    });
  });

  it('streams in bounded chunks: no read over chunkBytes, one read in flight, never the whole file', async () => {
    const ctx = await testContext();
    const chunkBytes = 64 * 1024;
    const contents: Record<string, EncodableTensor> = {
      big_f32: tensor('F32', [333, 301]), // 400,932 bytes: about 6 chunks, ragged end
      big_f16: tensor('F16', [517, 331]), // 342,254 bytes: odd element count
      big_bf16: tensor('BF16', [256, 512]), // exactly 4 chunks
      norm: tensor('BF16', [100_001]), // widened to f32 on the host, odd count
      small: tensor('F32', [16]),
    };
    const fileBytes = encodeSafetensors(contents);
    const { source, stats } = recording(arrayBufferSource(fileBytes, 'bounded'));
    const recorded = await openCheckpointFile(source);
    stats.reads.length = 0; // the header reads are not part of the load

    const before = ctx.liveTensors;
    const tensors = await loadTensors(ctx, recorded, Object.keys(contents), { chunkBytes, widenToF32: (name) => name === 'norm' });
    const largest = Math.max(...stats.reads.map((r) => r.length));
    const readBytes = stats.reads.reduce((s, r) => s + r.length, 0);
    console.log(
      `memory bound: ${recorded.totalBytes} bytes of tensors in ${stats.reads.length} reads; largest read ${largest} ` +
        `(chunkBytes ${chunkBytes}, file ${fileBytes.byteLength}); at most ${stats.maxInFlight} read in flight`,
    );
    expect(largest).toBeLessThanOrEqual(chunkBytes);
    expect(stats.maxInFlight).toBe(1);
    expect(readBytes).toBe(recorded.totalBytes); // each byte read once, nothing else
    for (const info of recorded.files[0].tensors.values()) expect(info.end - info.begin).toBeGreaterThan(info.name === 'small' ? 0 : chunkBytes);
    // Reads walk the file forward, tensor after tensor.
    for (let i = 1; i < stats.reads.length; i++) expect(stats.reads[i].offset).toBeGreaterThanOrEqual(stats.reads[i - 1].offset + stats.reads[i - 1].length);

    for (const [name, t] of tensors) expect(Array.from(await ctx.read(t)), name).toEqual(stored(contents[name]));
    expect(tensors.get('norm')!.dtype).toBe('f32');
    tensors.forEach((t) => t.release());
    expect(ctx.liveTensors).toBe(before);
  });

  it('opens the golden BF16 checkpoint and uploads it whole', async () => {
    const ctx = await testContext();
    const path = fileURLToPath(new URL('../golden/wan/tiny_bf16/diffusion_pytorch_model.safetensors', import.meta.url));
    const checkpoint = await openCheckpointFile(await fileSource(path));
    const tensors = await loadTensors(ctx, checkpoint, checkpoint.tensors.keys(), { widenToF32: (name) => name.endsWith('.bias') });
    expect(tensors.size).toBe(checkpoint.tensors.size);
    const file = await openSafetensors(checkpoint.files[0].source);
    for (const name of ['patch_embedding.weight', 'patch_embedding.bias']) {
      expect(Array.from(await ctx.read(tensors.get(name)!))).toEqual(Array.from(await readTensor(file, name)));
    }
    expect(tensors.get('patch_embedding.weight')!.dtype).toBe('bf16');
    expect(tensors.get('patch_embedding.bias')!.dtype).toBe('f32');
    tensors.forEach((t) => t.release());
  });
});
