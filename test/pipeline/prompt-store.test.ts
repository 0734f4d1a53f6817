// The per-prompt embedding store on the tiny Wan2.1 folder: a repeated prompt skips umT5 (counted) and
// gives the same frames; the key follows the encoder's weights, not its location; only the rows the
// text fills are kept; a bounded store drops the least recently used entry; a malformed entry is
// encoded again, never used.
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { testContext } from '../helpers/gpu.ts';
import type { GpuContext } from '../../src/gpu/context.ts';
import { directoryFolder } from '../../src/weights/node-folder.ts';
import { openSafetensors } from '../../src/weights/safetensors.ts';
import { arrayBufferSource } from '../../src/weights/source.ts';
import { fileSource } from '../../src/weights/node-source.ts';
import { Umt5PromptEncoder } from '../../src/pipeline/wan-text.ts';
import { loadBundle, type ModelBundle } from '../../src/pipeline/bundle.ts';
import { generateVideo, type GenerateStage } from '../../src/pipeline/generate-video.ts';
import { fingerprintRanges } from '../../src/weights/fingerprint.ts';
import { MemoryPromptStore, paddedEmbedding, storedBytes, type StoredPromptPair } from '../../src/pipeline/prompt-store.ts';

const MODEL = join(__dirname, '../golden/wan_pipeline/model');
const SIZE = { frames: 1, height: 16, width: 16, steps: 2, seed: 4 };

describe('prompt embedding store', () => {
  let ctx: GpuContext;
  let bundle: ModelBundle;
  let dir: string;
  const bundles: ModelBundle[] = [];
  beforeAll(async () => {
    ctx = await testContext();
    bundle = await loadBundle(ctx, directoryFolder(MODEL));
    dir = await mkdtemp(join(tmpdir(), 'webdit-prompt-store-'));
  });
  afterAll(async () => {
    bundle?.dispose();
    for (const b of bundles) b.dispose();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  afterEach(() => {
    vi.restoreAllMocks();
  });

  async function copyOfModel(name: string): Promise<string> {
    const copy = join(dir, name);
    await cp(MODEL, copy, { recursive: true });
    return copy;
  }

  it('a repeated prompt skips the encoder and gives identical frames; another encoder misses', async () => {
    const store = new MemoryPromptStore();
    const encode = vi.spyOn(bundle.promptEncoder!, 'encode');
    const stages: GenerateStage[] = [];
    const request = { prompt: 'a cat in the snow', ...SIZE, promptStore: store, onStage: (s: GenerateStage) => stages.push(s) };
    const first = await generateVideo(ctx, bundle, request);
    expect(encode).toHaveBeenCalledTimes(1);
    const layers = bundle.promptEncoder!.config.numLayers;
    const layerStages = Array.from({ length: layers }, (_, i) => ({ stage: 'encode-layer', layer: i + 1, layers }));
    expect(stages.slice(0, 1 + layers)).toEqual([{ stage: 'encode', fromStore: false }, ...layerStages]);
    expect(stages[1 + layers]).toMatchObject({ stage: 'release', liveBytes: expect.any(Number), seconds: expect.any(Number) });
    expect(stages.slice(2 + layers)).toEqual([{ stage: 'sample' }, { stage: 'decode' }]);
    expect(store.size).toBe(1);
    // Only the rows the texts fill are kept (tokens + EOS), not 512 zero-padded rows.
    const tokens = bundle.promptEncoder!.tokenizer.encode('a cat in the snow').length;
    const negativeTokens = bundle.promptEncoder!.tokenizer.encode(bundle.negativePrompt!).length;
    expect(store.storedBytes).toBe((tokens + negativeTokens) * 32 * 4);

    stages.length = 0;
    const second = await generateVideo(ctx, bundle, request);
    expect(encode).toHaveBeenCalledTimes(1);
    expect(stages).toEqual([{ stage: 'encode', fromStore: true }, { stage: 'sample' }, { stage: 'decode' }]);
    expect(second.frames).toEqual(first.frames);
    expect(new Set(first.frames).size).toBeGreaterThan(50);

    // Another negative prompt, or another text length, is another entry.
    await generateVideo(ctx, bundle, { ...request, negativePrompt: 'blurry' });
    expect(encode).toHaveBeenCalledTimes(2);
    expect(store.size).toBe(2);

    // The same weights in another folder: the key is the encoder's fingerprint, not its path.
    const same = await loadBundle(ctx, directoryFolder(await copyOfModel('same')));
    bundles.push(same);
    const sameEncode = vi.spyOn(same.promptEncoder!, 'encode');
    const fromCopy = await generateVideo(ctx, same, request);
    expect(sameEncode).not.toHaveBeenCalled();
    expect(fromCopy.frames).toEqual(first.frames);

    // One weight tensor changed (same config, same file size): a different fingerprint, so a miss.
    const changedDir = await copyOfModel('changed');
    const weightsPath = join(changedDir, 'text_encoder/model.safetensors');
    const bytes = new Uint8Array(await readFile(weightsPath));
    const file = await openSafetensors(arrayBufferSource(bytes));
    const info = file.tensors.get('encoder.block.0.layer.0.SelfAttention.o.weight')!;
    expect(info.dtype).toBe('F32');
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    for (let at = info.begin; at < info.end; at += 4) view.setFloat32(at, 1.5 * view.getFloat32(at, true), true);
    await writeFile(weightsPath, bytes);
    const changed = await loadBundle(ctx, directoryFolder(changedDir));
    bundles.push(changed);
    expect(await changed.promptEncoder!.fingerprint()).not.toBe(await bundle.promptEncoder!.fingerprint());
    expect(await same.promptEncoder!.fingerprint()).toBe(await bundle.promptEncoder!.fingerprint());
    const changedEncode = vi.spyOn(changed.promptEncoder!, 'encode');
    const fromChanged = await generateVideo(ctx, changed, request);
    expect(changedEncode).toHaveBeenCalledTimes(1);
    expect(fromChanged.frames).not.toEqual(first.frames);
    expect(store.size).toBe(3);
  }, 60_000);

  it('the fingerprint follows the tokenizer too, and is the same from a single file as from the folder', async () => {
    const encoderFile = await fileSource(join(MODEL, 'text_encoder/model.safetensors'));
    const spiece = new Uint8Array(await readFile(join(MODEL, 'tokenizer/spiece.model')));
    const otherSpiece = new Uint8Array(await readFile(join(__dirname, '../golden/tokenizer/spiece.model')));
    expect(otherSpiece).not.toEqual(spiece);
    const fromFiles = await Umt5PromptEncoder.fromFiles(spiece, encoderFile);
    const otherTokenizer = await Umt5PromptEncoder.fromFiles(otherSpiece, encoderFile);
    expect(await fromFiles.fingerprint()).toBe(await bundle.promptEncoder!.fingerprint());
    expect(await otherTokenizer.fingerprint()).not.toBe(await fromFiles.fingerprint());
  });

  it('a malformed stored entry is encoded again, not used', async () => {
    const store = new MemoryPromptStore();
    const request = { prompt: 'a dog', ...SIZE, guidance: 1, promptStore: store };
    const good = await generateVideo(ctx, bundle, request);
    const encode = vi.spyOn(bundle.promptEncoder!, 'encode');
    const [key] = [...(store as unknown as { entries: Map<string, StoredPromptPair> }).entries.keys()];
    const entry = (await store.get(key))!;
    entry.prompt.data[3] = NaN;
    const again = await generateVideo(ctx, bundle, request);
    expect(encode).toHaveBeenCalledTimes(1);
    expect(again.frames).toEqual(good.frames);
  }, 30_000);

  it('keeps at most maxBytes, dropping the least recently used entry', async () => {
    const entry = (rows: number): StoredPromptPair => ({ prompt: { rows, width: 4, data: new Float32Array(rows * 4).fill(1) } });
    const store = new MemoryPromptStore(3 * 64);
    await store.put('a', entry(4)); // 64 bytes each
    await store.put('b', entry(4));
    await store.put('c', entry(4));
    await store.get('a'); // a is now the most recent
    await store.put('d', entry(4));
    expect(await store.get('b')).toBeUndefined();
    expect(await store.get('a')).toBeDefined();
    expect(store.storedBytes).toBe(3 * 64);
    await store.put('huge', entry(64)); // larger than the whole store: not kept, nothing dropped
    expect(store.size).toBe(3);
    expect(storedBytes(entry(4))).toBe(64);
  });

  it('pads a stored entry back to the text length, and refuses one that cannot be the encoder output', () => {
    const stored = { rows: 2, width: 3, data: new Float32Array([1, 2, 3, 4, 5, 6]) };
    const padded = paddedEmbedding(stored, 3, 4)!;
    expect(padded.rows).toBe(4);
    expect(Array.from(padded.data)).toEqual([1, 2, 3, 4, 5, 6, 0, 0, 0, 0, 0, 0]);
    expect(paddedEmbedding(stored, 4, 4)).toBeUndefined(); // another width
    expect(paddedEmbedding(stored, 3, 1)).toBeUndefined(); // more rows than the text length
    expect(paddedEmbedding({ ...stored, rows: 3 }, 3, 4)).toBeUndefined(); // values missing
    expect(paddedEmbedding(undefined, 3, 4)).toBeUndefined();
  });

  it('fingerprints a large checkpoint by 16 samples spread from its first to its last tensor byte', () => {
    const MiB = 1024 * 1024;
    expect(fingerprintRanges(100, 100 + MiB)).toEqual([[100, MiB]]); // small: every byte
    const ranges = fingerprintRanges(8, 8 + 11_000 * MiB);
    expect(ranges).toHaveLength(16);
    expect(ranges[0][0]).toBe(8);
    expect(ranges[15][0] + ranges[15][1]).toBe(8 + 11_000 * MiB);
    expect(ranges.every(([, length]) => length === 64 * 1024)).toBe(true);
  });
});
