// Wan2.1 from single files: the tiny folder's tensors written as the files people download (the
// transformer under Wan's original key names with ComfyUI's prefix, umT5 and the VAE as one file each,
// spiece.model) assemble into a bundle that gives exactly the folder's frames; the transformer's config
// is read from its shapes for the released sizes and refused clearly otherwise; a missing part, a
// text encoder of another width, a pickle and a tokenizer.json each get a clear message.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { testContext } from '../helpers/gpu.ts';
import type { GpuContext } from '../../src/gpu/context.ts';
import { directoryFolder } from '../../src/weights/node-folder.ts';
import { fileSource } from '../../src/weights/node-source.ts';
import { arrayBufferSource } from '../../src/weights/source.ts';
import { openSafetensors, readTensor } from '../../src/weights/safetensors.ts';
import { originalName, writeOriginalKeyTransformer } from '../helpers/wan-single-files.ts';
import type { Checkpoint } from '../../src/weights/checkpoint.ts';
import { expectedTensors, parseWanConfig, WAN21_T2V_CONFIGS } from '../../src/model/config.ts';
import { originalToDiffusers } from '../../src/model/keys.ts';
import { inferWanConfig } from '../../src/model/config-infer.ts';
import { loadBundle } from '../../src/pipeline/bundle.ts';
import { loadBundleFromParts, WAN21_SCHEDULER_CONFIG, type WanPartFiles } from '../../src/pipeline/parts.ts';
import { generateVideo } from '../../src/pipeline/generate-video.ts';
import { main } from '../../src/cli/main.ts';

const MODEL = join(__dirname, '../golden/wan_pipeline/model');
const REQUEST = { prompt: 'a cat in the snow', frames: 1, height: 16, width: 16, steps: 2, seed: 5 };

/** A checkpoint holding only headers (shapes), for config inference at full size. */
function headerOnly(shapes: Map<string, number[]>): Checkpoint {
  const tensors = new Map();
  for (const [name, shape] of shapes) tensors.set(name, { file: undefined, info: { name, dtype: 'BF16', shape, begin: 0, end: 0 } });
  return { files: [], tensors, totalBytes: 0 };
}

describe('Wan2.1 from single files', () => {
  let ctx: GpuContext;
  let dir: string;
  let parts: WanPartFiles;
  const transformerConfig = JSON.parse(readFileSync(join(MODEL, 'transformer/config.json'), 'utf8'));
  beforeAll(async () => {
    ctx = await testContext();
    dir = await mkdtemp(join(tmpdir(), 'webdit-parts-'));
    const transformerPath = join(dir, 'wan2.1_t2v_tiny.safetensors');
    await writeOriginalKeyTransformer(join(MODEL, 'transformer/diffusion_pytorch_model.safetensors'), transformerPath);
    parts = {
      transformer: await fileSource(transformerPath),
      textEncoder: await fileSource(join(MODEL, 'text_encoder/model.safetensors')),
      tokenizer: await fileSource(join(MODEL, 'tokenizer/spiece.model')),
      vae: await fileSource(join(MODEL, 'vae/diffusion_pytorch_model.safetensors')),
    };
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('the test writes original names that src/model/keys.ts maps back', async () => {
    const file = await openSafetensors(await fileSource(join(MODEL, 'transformer/diffusion_pytorch_model.safetensors')));
    for (const name of file.tensors.keys()) expect(originalToDiffusers(originalName(name))).toBe(name);
    expect(originalName('blocks.0.attn1.to_out.0.weight')).toBe('model.diffusion_model.blocks.0.self_attn.o.weight');
  });

  it('assembles a bundle that gives exactly the frames of the diffusers folder', async () => {
    const folder = await loadBundle(ctx, directoryFolder(MODEL));
    const fromParts = await loadBundleFromParts(ctx, { ...parts, transformerConfig });
    try {
      expect(fromParts.name).toBe('wan2.1_t2v_tiny');
      expect(fromParts.scheduler).toEqual(WAN21_SCHEDULER_CONFIG);
      expect(fromParts.negativePrompt).toBe(folder.negativePrompt);
      expect(fromParts.textLen).toBe(folder.textLen);
      expect(fromParts.defaults).toEqual(folder.defaults);
      // Wan2.1's scheduler constant agrees with the folder's diffusers scheduler_config.json where it sets a field.
      for (const [k, v] of Object.entries(WAN21_SCHEDULER_CONFIG)) expect((folder.scheduler as Record<string, unknown>)[k]).toEqual(v);
      expect(await fromParts.promptEncoder!.fingerprint()).toBe(await folder.promptEncoder!.fingerprint());
      const a = await generateVideo(ctx, folder, REQUEST);
      const b = await generateVideo(ctx, fromParts, REQUEST);
      expect(b.frames).toEqual(a.frames);
      expect(new Set(a.frames).size).toBeGreaterThan(50);
    } finally {
      folder.dispose();
      fromParts.dispose();
    }
  }, 60_000);

  it('takes a TAEHV file as the decoder instead of the VAE', async () => {
    const taehv = await fileSource(join(__dirname, '../golden/taehv/decoder/taew2_1.safetensors'));
    const bundle = await loadBundleFromParts(ctx, { ...parts, vae: undefined, taehv, transformerConfig });
    try {
      expect(bundle.decoder.constructor.name).toBe('TaehvDecoder');
      expect(bundle.decoder.latentChannels).toBe(bundle.model.config.outChannels);
      // (Decoding is TAEHV's own tests' work: at its real width it takes ≈ 25 s here.)
    } finally {
      bundle.dispose();
    }
  }, 60_000);

  it('reads the 1.3B and 14B configs from the shapes, and refuses other shapes naming what it found', () => {
    for (const size of ['1.3b', '14b'] as const) {
      const config = parseWanConfig(WAN21_T2V_CONFIGS[size]);
      const shapes = new Map([...expectedTensors(config)].map(([name, shape]) => [originalName(name), shape]));
      expect(inferWanConfig(headerOnly(shapes), `${size}.safetensors`)).toEqual(config);
    }
    // Image-to-video (36 input channels): not a text-to-video size.
    const i2v = parseWanConfig({ ...WAN21_T2V_CONFIGS['14b'], in_channels: 36 });
    const shapes = new Map([...expectedTensors(i2v)].map(([name, shape]) => [originalName(name), shape]));
    expect(() => inferWanConfig(headerOnly(shapes), 'i2v.safetensors')).toThrow(
      /i2v\.safetensors: a transformer of width 5120, 40 blocks, FFN 13824, in\/out channels 36\/16, .* is not a released Wan2\.1 text-to-video size \(1\.3b: width 1536, 30 blocks.*give its config\.json/,
    );
    expect(() => inferWanConfig(headerOnly(new Map([['model.diffusion_model.head.head.weight', [64, 1536]]])), 'x.safetensors')).toThrow(
      /x\.safetensors is not a Wan2\.1 transformer: it has no patch_embedding\.weight/,
    );
  });

  it('refuses missing parts, parts of different models, pickles and tokenizer.json clearly', async () => {
    await expect(loadBundleFromParts(ctx, parts)).rejects.toThrow(
      /wan2\.1_t2v_tiny\.safetensors: a transformer of width 48, 2 blocks, FFN 96, .* is not a released Wan2\.1 text-to-video size .*give its config\.json/,
    );
    await expect(loadBundleFromParts(ctx, { transformer: parts.transformer, textEncoder: parts.textEncoder })).rejects.toThrow(
      /Wan2\.1 from single files needs the transformer, .*; missing the tokenizer \(spiece\.model\), a decoder \(the Wan VAE \.safetensors, or a TAEHV file\)$/,
    );
    const otherEncoder = await fileSource(join(__dirname, '../golden/t5/odd/wan.safetensors'));
    await expect(loadBundleFromParts(ctx, { ...parts, transformerConfig, textEncoder: otherEncoder })).rejects.toThrow(
      /the text encoder's width \(.*wan\.safetensors: d_model 36\) is not the transformer's text_dim 32: the two parts are from different models/,
    );
    const pickle = arrayBufferSource(new Uint8Array([0x50, 0x4b, 3, 4]), 'wan2.1_t2v_1.3B.pth');
    await expect(loadBundleFromParts(ctx, { ...parts, transformerConfig, transformer: pickle })).rejects.toThrow(/wan2\.1_t2v_1\.3B\.pth is a PyTorch pickle/);
    const json = arrayBufferSource(new TextEncoder().encode('{"version": "1.0"}'), 'tokenizer.json');
    await expect(loadBundleFromParts(ctx, { ...parts, transformerConfig, tokenizer: json })).rejects.toThrow(/tokenizer\.json is JSON .*give umT5's SentencePiece model, spiece\.model/);
  }, 30_000);

  it('generate --transformer --transformer-config --text-encoder --tokenizer --vae gives the frames of generate --model', async () => {
    const errors: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void errors.push(a.join(' ')));
    try {
      const size = ['--prompt', 'a red fox', '--frames', '1', '--height', '16', '--width', '16', '--steps', '1', '--seed', '2', '--quiet'];
      const configPath = join(dir, 'config.json');
      await writeFile(configPath, JSON.stringify(transformerConfig));
      const files = ['--transformer', parts.transformer!.name, '--text-encoder', join(MODEL, 'text_encoder/model.safetensors'), '--tokenizer', join(MODEL, 'tokenizer')];
      expect(await main(['generate', ...files, '--transformer-config', configPath, '--vae', join(MODEL, 'vae/diffusion_pytorch_model.safetensors'), ...size, '--out', join(dir, 'a.safetensors')])).toBe(0);
      expect(await main(['generate', '--model', MODEL, ...size, '--out', join(dir, 'b.safetensors')])).toBe(0);
      const [a, b] = await Promise.all(['a', 'b'].map(async (n) => readTensor(await openSafetensors(await fileSource(join(dir, `${n}.safetensors`))), 'frames')));
      expect(a.length).toBe(3 * 16 * 16);
      expect(a).toEqual(b);
      // A missing decoder is named before any GPU work on the transformer.
      errors.length = 0;
      expect(await main(['generate', ...files, '--transformer-config', configPath, ...size, '--out', join(dir, 'c.safetensors')])).not.toBe(0);
      expect(errors.join('\n')).toMatch(/missing a decoder \(the Wan VAE \.safetensors, or a TAEHV file\)/);
      errors.length = 0;
      expect(await main(['generate', '--model', MODEL, ...files, ...size, '--out', join(dir, 'c.safetensors')])).not.toBe(0);
      expect(errors.join('\n')).toMatch(/give --model DIR or single files/);
    } finally {
      vi.restoreAllMocks();
    }
  }, 60_000);
});
