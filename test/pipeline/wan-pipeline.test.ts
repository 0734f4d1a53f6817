// A tiny random Wan2.1 folder in diffusers layout (all five parts, made from the upstream code by
// tools/golden/wan_pipeline_golden.py): prompt → umT5 → transformer with CFG → UniPC → Wan VAE, against
// the upstream reference run; encode then generate --embeds against generate --prompt; bad folders.
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { testContext } from '../helpers/gpu.ts';
import { relativeError } from '../helpers/reference.ts';
import type { GpuContext } from '../../src/gpu/context.ts';
import { directoryFolder } from '../../src/weights/node-folder.ts';
import { fileSource } from '../../src/weights/node-source.ts';
import { encodeSafetensors, openSafetensors, readTensor } from '../../src/weights/safetensors.ts';
import { loadBundle, type ModelBundle } from '../../src/pipeline/bundle.ts';
import { checkRequest, generateVideo, resolveRequest } from '../../src/pipeline/generate-video.ts';
import { WAN_NEGATIVE_PROMPT } from '../../src/pipeline/wan-text.ts';
import { planGeneration, readWanFolderConfigs } from '../../src/pipeline/memory-plan.ts';
import { main } from '../../src/cli/main.ts';

const GOLDEN = join(__dirname, '../golden/wan_pipeline');
const MODEL = join(GOLDEN, 'model');

async function golden() {
  const file = await openSafetensors(await fileSource(join(GOLDEN, 'io.safetensors')));
  const read = (name: string) => readTensor(file, name);
  const meta = file.metadata;
  return {
    prompt: meta.prompt,
    negativePrompt: meta.negative_prompt,
    size: { frames: Number(meta.frames), height: Number(meta.height), width: Number(meta.width), steps: Number(meta.steps), guidance: Number(meta.guidance) },
    ids: Array.from(await read('input_ids')),
    negativeIds: Array.from(await read('negative_input_ids')),
    promptEmbeds: await read('prompt_embeds'),
    negativeEmbeds: await read('negative_prompt_embeds'),
    latents: await read('latents'),
    finalLatents: await read('final_latents'),
    frames: await read('frames'),
  };
}

function maxAbsDifference(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= worst)) worst = Number.isNaN(d) ? Infinity : d;
  }
  return worst;
}

describe('a Wan2.1 diffusers folder end to end (tiny random weights)', () => {
  let ctx: GpuContext;
  let bundle: ModelBundle;
  let ref: Awaited<ReturnType<typeof golden>>;
  beforeAll(async () => {
    ctx = await testContext();
    ref = await golden();
    bundle = await loadBundle(ctx, directoryFolder(MODEL));
  });
  afterAll(() => bundle?.dispose());

  it('loads as one bundle: umT5 prompt encoder, Wan VAE, Wan2.1 default negative prompt', () => {
    expect(bundle.promptEncoder?.config.dModel).toBe(bundle.model.config.textDim);
    expect(bundle.decoder.latentChannels).toBe(16);
    expect(bundle.negativePrompt).toBe(WAN_NEGATIVE_PROMPT);
    expect(ref.negativePrompt).toBe(WAN_NEGATIVE_PROMPT); // the generator read it from wan/configs
    expect(bundle.textLen).toBe(512);
    expect(bundle.promptEncoder!.tokenizer.encode(ref.prompt)).toEqual(ref.ids);
    expect(bundle.promptEncoder!.tokenizer.encode(ref.negativePrompt)).toEqual(ref.negativeIds);
    // A text request is checked whole before the encoder runs.
    expect(checkRequest(bundle, { prompt: 'a cat', frames: 9, height: 32, width: 48 })).toMatchObject({ frames: 9, guidance: 5 });
    expect(() => checkRequest(bundle, { prompt: 'a cat', frames: 8, height: 32, width: 48 })).toThrow(/frames must be 4k\+1/);
    expect(() => resolveRequest(bundle, { prompt: 'a cat' })).toThrow(/umT5 encodes text asynchronously/);
  });

  it('prompt embeddings match the upstream umT5, zero-padded to 512 rows', async () => {
    const pair = await bundle.promptEncoder!.encode(ctx, ref.prompt, ref.negativePrompt, bundle.textLen);
    expect(pair.prompt.rows).toBe(512);
    expect(relativeError(pair.prompt.data, ref.promptEmbeds)).toBeLessThan(1e-4);
    expect(relativeError(pair.negative!.data, ref.negativeEmbeds)).toBeLessThan(1e-4);
    expect(pair.prompt.data.subarray(ref.ids.length * 32).every((v) => v === 0)).toBe(true);
  });

  it('text prompt → frames match the upstream pipeline to 1e-3 from the same initial latents', async () => {
    const result = await generateVideo(ctx, bundle, { prompt: ref.prompt, latents: ref.latents, ...ref.size });
    expect(result.shape).toEqual([ref.size.frames, 3, ref.size.height, ref.size.width]);
    expect(relativeError(result.latents, ref.finalLatents)).toBeLessThan(1e-4);
    const expected = ref.frames.map((v) => (v + 1) / 2); // upstream frames are in [−1, 1]
    expect(maxAbsDifference(result.frames, expected)).toBeLessThan(1e-3);
    // The memory plan made before loading, against what the run held per stage.
    const plan = planGeneration(await readWanFolderConfigs(directoryFolder(MODEL)), ref.size, { promptTokens: ref.ids.length, negativeTokens: ref.negativeIds.length });
    expect(result.stagePeakGpuBytes.decode).toBeLessThanOrEqual(plan.stages.decode.gpuBytes);
    expect(Math.abs(result.stagePeakGpuBytes.sample / plan.stages.sample.gpuBytes - 1)).toBeLessThan(0.02);
    // Another prompt really changes the video.
    const other = await generateVideo(ctx, bundle, { prompt: 'a dog', latents: ref.latents, ...ref.size, steps: 1 });
    expect(maxAbsDifference(other.frames, expected)).toBeGreaterThan(1e-2);
  }, 60_000);

  it('encode then generate --embeds gives exactly the frames of generate --prompt', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'webdit-wan-e2e-'));
    vi.spyOn(console, 'error').mockImplementation(() => {});
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const size = ['--frames', '1', '--height', '16', '--width', '16', '--steps', '1', '--seed', '3', '--quiet'];
      const embeds = join(dir, 'embeds.safetensors');
      expect(await main(['encode', '--model', MODEL, '--prompt', 'a cat in the snow', '--out', embeds])).toBe(0);
      const file = await openSafetensors(await fileSource(embeds));
      expect([...file.tensors.keys()].sort()).toEqual(['negative_prompt_embeds', 'prompt_embeds']); // Wan's default negative
      expect(await main(['generate', '--model', MODEL, '--prompt', 'a cat in the snow', ...size, '--out', join(dir, 'a.safetensors')])).toBe(0);
      expect(await main(['generate', '--model', MODEL, '--embeds', embeds, ...size, '--out', join(dir, 'b.safetensors')])).toBe(0);
      const [a, b] = await Promise.all(['a', 'b'].map(async (n) => readTensor(await openSafetensors(await fileSource(join(dir, `${n}.safetensors`))), 'frames')));
      expect(a.length).toBe(3 * 16 * 16);
      expect(new Set(a).size).toBeGreaterThan(100);
      expect(maxAbsDifference(a, b)).toBe(0);
      // --latents: the reference's initial latents through the command line give the reference frames.
      const latents = join(dir, 'latents.safetensors');
      await writeFile(latents, encodeSafetensors({ latents: { dtype: 'F32', shape: [16, 3, 4, 6], data: ref.latents } }));
      const s = ref.size;
      expect(await main(['generate', '--model', MODEL, '--prompt', ref.prompt, '--latents', latents, '--frames', `${s.frames}`, '--height', `${s.height}`,
        '--width', `${s.width}`, '--steps', `${s.steps}`, '--guidance', `${s.guidance}`, '--quiet', '--out', join(dir, 'c.safetensors')])).toBe(0);
      const c = await readTensor(await openSafetensors(await fileSource(join(dir, 'c.safetensors'))), 'frames');
      expect(maxAbsDifference(c, ref.frames.map((v) => (v + 1) / 2))).toBeLessThan(1e-3);
    } finally {
      vi.restoreAllMocks();
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('refuses a folder with a missing part, or parts of different models, with a clear message', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'webdit-wan-bad-'));
    try {
      const copy = async (name: string) => {
        const d = join(dir, name);
        await cp(MODEL, d, { recursive: true });
        return d;
      };
      const editJson = async (path: string, edit: (j: Record<string, unknown>) => void) => {
        const j = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
        edit(j);
        await writeFile(path, JSON.stringify(j));
      };
      const noVae = await copy('no-vae');
      await rm(join(noVae, 'vae'), { recursive: true });
      await expect(loadBundle(ctx, directoryFolder(noVae))).rejects.toThrow(/a Wan2\.1 folder needs .*missing vae\/ \(no vae\/config\.json\)/);
      const noTokenizer = await copy('no-tokenizer');
      await rm(join(noTokenizer, 'tokenizer'), { recursive: true });
      await expect(loadBundle(ctx, directoryFolder(noTokenizer))).rejects.toThrow(/missing tokenizer\/ \(no tokenizer\/spiece\.model\)/);
      const noText = await copy('no-text-encoder');
      await rm(join(noText, 'text_encoder'), { recursive: true });
      await expect(loadBundle(ctx, directoryFolder(noText))).rejects.toThrow(/missing text_encoder\/ \(no text_encoder\/config\.json\) \(model_index\.json lists tokenizer, text_encoder, transformer, vae, scheduler\)/);
      const wideText = await copy('wide-text');
      await editJson(join(wideText, 'text_encoder/config.json'), (j) => (j.d_model = 64));
      await expect(loadBundle(ctx, directoryFolder(wideText))).rejects.toThrow(/text encoder's width \(text_encoder\/config\.json d_model 64\) is not the transformer's text_dim 32/);
      const otherVae = await copy('other-vae');
      await editJson(join(otherVae, 'vae/config.json'), (j) => {
        j.z_dim = 48;
        j.latents_mean = new Array(48).fill(0);
        j.latents_std = new Array(48).fill(1);
      });
      await expect(loadBundle(ctx, directoryFolder(otherVae))).rejects.toThrow(/VAE's z_dim 48 is not the transformer's latent channels \(in_channels 16, out_channels 16\)/);
      // A TAEHV decoder given by the caller stands in for a missing vae/.
      const withTaehv = await loadBundle(ctx, directoryFolder(noVae), { decoder: await fileSource(join(__dirname, '../golden/taehv/decoder/taew2_1.safetensors')) });
      expect(withTaehv.promptEncoder).toBeDefined();
      withTaehv.dispose();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
