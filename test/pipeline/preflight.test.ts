// The shared up-front checks (pure): sizes with the nearest valid values, option ranges, the memory a run
// needs against the adapter's and JavaScript's limits, the model folder's layout, unknown prompt words.
import { describe, expect, it } from 'vitest';
import { WAN21_T2V_CONFIGS, parseWanConfig } from '../../src/model/config.ts';
import {
  MAX_TYPED_ARRAY_ELEMENTS, checkFootprint, checkModelFolder, checkSamplingOptions, checkVideoSize, runFootprint,
} from '../../src/pipeline/preflight.ts';
import type { ModelFolder } from '../../src/weights/folder.ts';
import { WordTextEncoder, unknownWordsWarning } from '../../src/model/text-encoder.ts';

const WAN = { temporal: 4, multiple: 16 };
const WAN_1_3B = parseWanConfig(WAN21_T2V_CONFIGS['1.3b']);
// A 4 GiB-class adapter (Chromium's default maxBufferSize is 256 MiB–4 GiB).
const LIMITS = { maxBufferSize: 2 ** 31, maxStorageBufferBindingSize: 2 ** 31 };

describe('checkVideoSize', () => {
  it('accepts Wan2.1 sizes and names each bad dimension with the nearest valid values', () => {
    expect(() => checkVideoSize({ frames: 81, height: 480, width: 832 }, WAN)).not.toThrow();
    expect(() => checkVideoSize({ frames: 80, height: 480, width: 832 }, WAN)).toThrow('frames must be 4k+1 for this model, got 80 (nearest: 77 or 81)');
    expect(() => checkVideoSize({ frames: 81, height: 500, width: 830 }, WAN)).toThrow(
      'height must be a multiple of 16 for this model, got 500 (nearest: 496 or 512); width must be a multiple of 16 for this model, got 830 (nearest: 816 or 832)',
    );
    expect(() => checkVideoSize({ frames: 2, height: 8, width: 16 }, WAN)).toThrow(/height must be a multiple of 16 .*\(nearest: 16\)/);
    expect(() => checkVideoSize({ frames: 2, height: 16, width: 16 }, WAN)).toThrow(/got 2 \(nearest: 1 or 5\)/);
    expect(() => checkVideoSize({ frames: 0, height: -16, width: 1.5 }, WAN)).toThrow('frames must be a positive integer, got 0; height must be a positive integer, got -16; width must be a positive integer, got 1.5');
    expect(() => checkVideoSize({ frames: NaN, height: 16, width: 16 }, WAN)).toThrow('frames must be a positive integer, got NaN');
    // A pixel-space model takes any frame count.
    expect(() => checkVideoSize({ frames: 10, height: 32, width: 32 }, { temporal: 1, multiple: 4 })).not.toThrow();
  });
});

describe('checkSamplingOptions', () => {
  it('holds steps to 1…1000, guidance to ≥ 0 and the seed to a safe non-negative integer', () => {
    expect(() => checkSamplingOptions({ steps: 50, guidance: 5, seed: 0 })).not.toThrow();
    expect(() => checkSamplingOptions({ steps: 1000, guidance: 0, seed: Number.MAX_SAFE_INTEGER })).not.toThrow();
    expect(() => checkSamplingOptions({ steps: 1001, guidance: 5, seed: 0 })).toThrow('steps must be an integer from 1 to 1000, got 1001');
    expect(() => checkSamplingOptions({ steps: 2.5, guidance: 5, seed: 0 })).toThrow(/steps must be an integer/);
    expect(() => checkSamplingOptions({ steps: 5, guidance: Infinity, seed: 0 })).toThrow(/guidance must be a number ≥ 0/);
    expect(() => checkSamplingOptions({ steps: 5, guidance: -0.5, seed: 0 })).toThrow(/guidance must be a number ≥ 0 .*got -0.5/);
    expect(() => checkSamplingOptions({ steps: 5, guidance: 5, seed: 2 ** 53 })).toThrow(/seed must be an integer from 0 to 9007199254740991/);
  });
});

describe('checkFootprint', () => {
  it("the issue's 100000 × 4096 × 4096 on Wan2.1 1.3B: the GiB it needs against the adapter's buffer limit", () => {
    const fp = runFootprint(WAN_1_3B, { frames: 100001, height: 4096, width: 4096 }, { temporal: 4, spatial: 8 }, 512);
    expect(() => checkFootprint(fp, LIMITS, 'this video')).toThrow(
      /^this video needs about \d+ GiB of GPU memory, with one buffer of \d+ GiB; your adapter's largest buffer is 2\.00 GiB \(maxBufferSize 2147483648\): use fewer frames or a smaller size$/,
    );
    // Without an adapter (planning only), JavaScript's own typed array limit still refuses it with the numbers.
    expect(fp.largestHostElements).toBeGreaterThan(MAX_TYPED_ARRAY_ELEMENTS);
    expect(() => checkFootprint(fp, undefined, 'this video')).toThrow(/the video alone is \d+ values, over JavaScript's typed array limit of 2\^32 \(4294967296\)/);
  });

  it("passes Wan2.1's default 81 × 480 × 832, and refuses it against a stated memory size", () => {
    const fp = runFootprint(WAN_1_3B, { frames: 81, height: 480, width: 832 }, { temporal: 4, spatial: 8 }, 512);
    expect(() => checkFootprint(fp, LIMITS, '81 frames')).not.toThrow();
    expect(fp.totalBytes).toBeGreaterThan(2 ** 30);
    expect(() => checkFootprint(fp, { ...LIMITS, memoryBytes: 2 ** 30 }, '81 frames')).toThrow(/^81 frames needs about [\d.]+ GiB .*; your adapter has 1\.00 GiB/);
  });
});

function folderOf(files: Record<string, string>, name = 'models/x'): ModelFolder {
  return { name, open: async () => undefined, readText: async (p) => files[p] };
}

describe('checkModelFolder', () => {
  it('says a folder with nothing webdit knows is not a model folder, and lists what a partial one misses', async () => {
    await expect(checkModelFolder(folderOf({}, '/nonexistent'))).rejects.toThrow(
      '/nonexistent is not a model folder: it has none of model_index.json, transformer/config.json, scheduler/scheduler_config.json (is the path right?)',
    );
    await expect(checkModelFolder(folderOf({ 'model_index.json': '{}' }))).rejects.toThrow('models/x: the model folder is missing transformer/config.json, scheduler/scheduler_config.json');
    await expect(checkModelFolder(folderOf({ 'transformer/config.json': '{}' }))).rejects.toThrow('models/x: the model folder is missing scheduler/scheduler_config.json');
    await expect(checkModelFolder(folderOf({ 'transformer/config.json': '{}', 'scheduler/scheduler_config.json': '{}' }))).resolves.toBeUndefined();
  });
});

describe('unknownWordsWarning', () => {
  it('names the words a closed vocabulary lacks and lists the ones it knows', () => {
    const vocab = ['<pad>', '<unk>', 'a', 'red', 'circle'];
    const encoder = new WordTextEncoder(vocab, new Float32Array(vocab.length * 2), new Float32Array(4 * 2), 2, 4);
    expect(unknownWordsWarning(encoder, 'a red circle')).toBeUndefined();
    expect(unknownWordsWarning(encoder, 'a purple elephant, purple')).toBe('warning: the model does not know "purple", "elephant" (they become <unk>); it knows: a red circle');
    expect(unknownWordsWarning(encoder, 'purple', 2)).toBe('warning: the model does not know "purple" (they become <unk>); it knows: a red … (3 in all)');
  });
});
