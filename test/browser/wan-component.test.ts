// <webdit-video model="…a Wan2.1 folder…"> in Chromium: the tiny random full-layout Wan2.1 folder
// (test/golden/wan_pipeline/model) served by Vite's dev server goes prompt → umT5 → transformer with
// CFG → Wan VAE → video, its progress events naming the stages; the frames match the Node run; Wan's
// default negative prompt is used unless negative-prompt is given; the prompt's embeddings are kept in
// IndexedDB, so after a page reload the same prompt skips the encoder.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCheckPage, screenshot, type CheckPage } from './harness.ts';
import { testContext } from '../helpers/gpu.ts';
import { directoryFolder } from '../../src/weights/node-folder.ts';
import { loadBundle } from '../../src/pipeline/bundle.ts';
import { generateVideo } from '../../src/pipeline/generate-video.ts';
import { WAN_NEGATIVE_PROMPT } from '../../src/pipeline/wan-text.ts';

const MODEL = join(__dirname, '../golden/wan_pipeline/model');
const REQUEST = { prompt: 'a cat in the snow', frames: 1, width: 16, height: 16, steps: 2, seed: 3, cache: 'none' };

interface Run {
  stages: string[];
  steps: number[];
  frames: number[];
  shape: number[];
  videoBytes: number;
  error?: string;
}

let check: CheckPage;
let expected: Float32Array;

beforeAll(async () => {
  const ctx = await testContext();
  const bundle = await loadBundle(ctx, directoryFolder(MODEL));
  expected = (await generateVideo(ctx, bundle, REQUEST)).frames;
  bundle.dispose();
  check = await openCheckPage('wan-component.html');
  // Optional files the loaders probe, absent from this folder: added tokens, a VAE one folder deeper.
  check.log.expect404(/\/tokenizer\/tokenizer_config\.json$/);
  check.log.expect404(/\/vae\/vae\/config\.json$/);
}, 120_000);

afterAll(async () => {
  await check?.close();
});

/** Sets the element's attributes (null removes one), generates, and reports what happened. */
function generateIn(attributes: Record<string, string | null> = {}): Promise<Run> {
  return check.page.evaluate(async (attrs) => {
    await customElements.whenDefined('webdit-video');
    const el = document.getElementById('wan') as HTMLElement & { generate(): Promise<{ frames: Float32Array; shape: number[]; video: Blob }> };
    for (const [name, value] of Object.entries(attrs)) {
      if (value === null) el.removeAttribute(name);
      else el.setAttribute(name, value);
    }
    const stages: string[] = [];
    const steps: number[] = [];
    el.addEventListener('progress', (e) => {
      const d = (e as unknown as CustomEvent).detail;
      if (d.stage === 'sample') steps.push(d.step);
      else {
        const name = d.stage === 'encode' ? `encode${d.fromStore ? ' (stored)' : ''}` : d.stage;
        if (stages[stages.length - 1] !== name) stages.push(name); // one entry for all umT5 layers
      }
    });
    try {
      const r = await el.generate();
      return { stages, steps, frames: Array.from(r.frames), shape: r.shape, videoBytes: r.video.size };
    } catch (e) {
      return { stages, steps, frames: [], shape: [], videoBytes: 0, error: (e as Error).message };
    }
  }, attributes);
}

function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

describe('<webdit-video> with a Wan2.1 folder by URL', () => {
  it('generates from the prompt text, stage by stage, and the frames match the Node run', async () => {
    const run = await generateIn();
    expect(run.error).toBeUndefined();
    expect(run.stages).toEqual(['encode', 'encode-layer', 'release', 'decode', 'video']);
    expect(run.steps).toEqual([1, 2]);
    expect(run.shape).toEqual([1, 3, 16, 16]);
    expect(run.videoBytes).toBeGreaterThan(100);
    expect(maxAbsDifference(run.frames, expected)).toBeLessThan(1e-4);
    await screenshot(check.page, 'wan-component');
  }, 180_000);

  it('after a page reload the same prompt comes from IndexedDB: no encoder pass, the same frames', async () => {
    await check.page.reload();
    const run = await generateIn();
    expect(run.error).toBeUndefined();
    expect(run.stages).toEqual(['encode (stored)', 'decode', 'video']);
    expect(maxAbsDifference(run.frames, expected)).toBeLessThan(1e-4);
    // Wan's default negative prompt is what was used: giving it as the attribute is the same store entry.
    const explicit = await generateIn({ 'negative-prompt': WAN_NEGATIVE_PROMPT });
    expect(explicit.stages[0]).toBe('encode (stored)');
    expect(explicit.frames).toEqual(run.frames);
    // Another negative prompt is encoded, and changes the video.
    const other = await generateIn({ 'negative-prompt': 'blurry, static' });
    expect(other.stages[0]).toBe('encode');
    expect(maxAbsDifference(other.frames, run.frames)).toBeGreaterThan(1e-3);
    expect(check.log.errors).toEqual([]);
  }, 180_000);

  it('IndexedDB keeps at most maxBytes, dropping the least recently used entry', async () => {
    const outcome = await check.page.evaluate(async () => {
      const { IndexedDbPromptStore } = window as unknown as { IndexedDbPromptStore: typeof import('../../src/ui/prompt-store.ts').IndexedDbPromptStore };
      const store = await IndexedDbPromptStore.open(3 * 64); // 64 bytes an entry below
      await store.clear();
      const entry = () => ({ prompt: { rows: 4, width: 4, data: new Float32Array(16).fill(1) } });
      const wait = () => new Promise((r) => setTimeout(r, 5)); // distinct use times
      for (const key of ['a', 'b', 'c']) {
        await store.put(key, entry());
        await wait();
      }
      await store.get('a'); // now the most recently used
      await wait();
      await store.put('d', entry());
      const kept: string[] = [];
      for (const key of ['a', 'b', 'c', 'd']) if (await store.get(key)) kept.push(key);
      const back = (await store.get('a'))!.prompt.data;
      return { kept, summary: await store.summary(), isFloat32: back instanceof Float32Array, first: back[0] };
    });
    expect(outcome.kept).toEqual(['a', 'c', 'd']);
    expect(outcome.summary).toEqual({ entries: 3, bytes: 3 * 64 });
    expect(outcome.isFloat32).toBe(true);
    expect(outcome.first).toBe(1);
  }, 60_000);
});
