// The one generate entry: a request with the bundle's defaults filled in (scheduler, text length,
// condition, decoder, size, steps, guidance, negative prompt, TeaCache calibration), refused whole before
// any GPU work when bad, and on the shipped toy model the very frames of the engine's options assembled
// by hand as the call sites used to.
import { beforeAll, describe, expect, it } from 'vitest';
import { testContext } from '../helpers/gpu.ts';
import { writeTinyModel } from '../helpers/tiny-model.ts';
import { directoryFolder } from '../../src/weights/node-folder.ts';
import { loadBundle, withModelCalibration, type ModelBundle } from '../../src/pipeline/bundle.ts';
import { generate } from '../../src/pipeline/generate.ts';
import { generateVideo, resolveRequest, type GenerateRequest } from '../../src/pipeline/generate-video.ts';
import { parseCacheSpec } from '../../src/cache/spec.ts';
import { POLICY_DEFAULTS } from '../../src/cache/policies.ts';
import type { WanTransformer } from '../../src/model/transformer.ts';
import type { GpuContext } from '../../src/gpu/context.ts';

let ctx: GpuContext;
let bundle: ModelBundle;

beforeAll(async () => {
  ctx = await testContext();
  // The tiny model's index: 4 frames of 8×8, 6 steps, guidance 4, text length 6.
  bundle = await loadBundle(ctx, directoryFolder(writeTinyModel(2, { index: { negative_prompt: 'blue square' } })));
});

/** The bundle with a transformer that records every GPU entry point it is asked for. */
function recording(b: ModelBundle): { bundle: ModelBundle; calls: string[] } {
  const calls: string[] = [];
  const model = Object.create(b.model) as WanTransformer;
  model.encodeText = (...args) => (calls.push('encodeText'), b.model.encodeText(...args));
  model.forwardBranches = (...args) => (calls.push('forward'), b.model.forwardBranches(...args));
  return { bundle: { ...b, model }, calls };
}

describe('resolveRequest', () => {
  it("fills everything but the prompt from the bundle: scheduler, text length, condition, decoder, size, steps, guidance, seed 0, the model's negative prompt", () => {
    const { settings, ...options } = resolveRequest(bundle, { prompt: 'a red circle moving left' });
    expect(settings).toEqual({ frames: 4, height: 8, width: 8, steps: 6, guidance: 4, seed: 0, cache: { policy: 'none' } });
    expect(options).toMatchObject({ frames: 4, height: 8, width: 8, steps: 6, guidance: 4, seed: 0, textLen: 6 });
    expect(options.model).toBe(bundle.model);
    expect(options.decoder).toBe(bundle.decoder);
    expect(options.scheduler).toBe(bundle.scheduler);
    expect(options.condition).toBe(bundle.condition);
    expect(options.prompt).toEqual(bundle.textEncoder!.encode('a red circle moving left'));
    expect(bundle.negativePrompt).toBe('blue square');
    expect(options.negativePrompt).toEqual(bundle.textEncoder!.encode('blue square'));
    expect(options.negativePrompt!.rows).toBe(2);
  });

  it('keeps what the request gives, and fills the model calibration into a default teacache', () => {
    const negative = { data: new Float32Array(8), rows: 1 };
    const { settings, negativePrompt } = resolveRequest(bundle, { prompt: 'a', negativePrompt: negative, frames: 2, height: 4, width: 12, steps: 2, guidance: 1, seed: 7, cache: 'static:interval=3' });
    expect(settings).toEqual({ frames: 2, height: 4, width: 12, steps: 2, guidance: 1, seed: 7, cache: parseCacheSpec('static:interval=3') });
    expect(negativePrompt).toEqual(negative);
    const calibrated = { ...bundle, teacacheCoefficients: [1, 2, 3] };
    expect(resolveRequest(calibrated, { prompt: 'a', cache: 'teacache' }).settings.cache).toMatchObject({ policy: 'teacache', coefficients: [1, 2, 3] });
    expect(resolveRequest(calibrated, { prompt: 'a', cache: 'teacache:coefficients=4;5' }).settings.cache).toMatchObject({ coefficients: [4, 5] });
    expect(resolveRequest(calibrated, { prompt: 'a', cache: { ...POLICY_DEFAULTS.teacache } }).settings.cache).toMatchObject({ coefficients: [1, 2, 3] });
  });

  it('refuses a bad request with an error that names the field', () => {
    const bad = (request: Record<string, unknown>, message: RegExp, b: ModelBundle = bundle) =>
      expect(() => resolveRequest(b, request as unknown as GenerateRequest)).toThrow(message);
    bad({ prompt: 'a', guidence: 5 }, /unknown request field guidence/);
    bad({}, /needs a prompt/);
    bad({ prompt: 3 }, /prompt must be text or embeddings/);
    bad({ prompt: { data: new Float32Array(7), rows: 1 } }, /prompt has 7 values, expected 1 rows × the model's text_dim 8/);
    bad({ prompt: { data: new Float32Array(7 * 8), rows: 7 } }, /prompt has 7 rows, more than the model's text length 6/);
    bad({ prompt: { data: new Float32Array(8).fill(NaN), rows: 1 } }, /prompt has values that are not finite/);
    bad({ prompt: 'a', negativePrompt: { data: [0], rows: 1 } }, /negativePrompt must be text or embeddings/);
    bad({ prompt: 'a', steps: 0 }, /steps must be an integer from 1 to 1000, got 0/);
    bad({ prompt: 'a', steps: 1001 }, /steps must be an integer from 1 to 1000, got 1001/);
    bad({ prompt: 'a', guidance: -1 }, /guidance must be a number ≥ 0/);
    bad({ prompt: 'a', steps: 1.5 }, /steps must be an integer from 1 to 1000/);
    bad({ prompt: 'a', seed: -1 }, /seed must be an integer from 0/);
    bad({ prompt: 'a', frames: '4' }, /frames must be a number, got "4"/);
    bad({ prompt: 'a', guidance: NaN }, /guidance must be a number/);
    bad({ prompt: 'a', height: 7 }, /height must be a multiple of 2 for this model, got 7 \(nearest: 6 or 8\)/);
    bad({ prompt: 'a', height: 7, width: 0 }, /width must be a positive integer, got 0/);
    bad({ prompt: 'a', cache: 'bwcache:speed=2' }, /bwcache/);
    bad({ prompt: 'a', cache: { policy: 'fast' } }, /cache must be a spec .* or a config with a policy/);
    bad({ prompt: 'a', latents: new Float32Array(5) }, /latents have 5 values, expected \[3, 4, 8, 8\] = 768/);
    bad({ prompt: 'a' }, /has no text encoder in webdit: give prompt as embeddings/, { ...bundle, textEncoder: undefined });
  });
});

describe('generateVideo', () => {
  it('refuses a bad request before any GPU work', async () => {
    const { bundle: spied, calls } = recording(bundle);
    const before = ctx.liveTensors;
    await expect(generateVideo(ctx, spied, { prompt: 'a', steps: 0 })).rejects.toThrow(/steps must be an integer from 1 to 1000/);
    await expect(generateVideo(ctx, spied, { prompt: 'a', width: 9 })).rejects.toThrow(/width must be a multiple of 2/);
    // The example: the numbers, not "Invalid typed array length".
    const huge = generateVideo(ctx, spied, { prompt: 'a', frames: 100000, height: 4096, width: 4096 });
    await expect(huge).rejects.toThrow(/100000 frames of 4096×4096 needs about \d+ GiB of GPU memory, with one buffer of \d+ GiB; your adapter's largest buffer is [\d.]+ [GM]iB/);
    expect(calls).toEqual([]);
    expect(ctx.liveTensors).toBe(before);
  });

  it("runs from a prompt alone at the model's defaults and says what it used", async () => {
    const steps: number[] = [];
    const result = await generateVideo(ctx, bundle, { prompt: 'a red circle', onProgress: (p) => steps.push(p.step) });
    expect(result.shape).toEqual([4, 3, 8, 8]);
    expect(steps).toEqual([1, 2, 3, 4, 5, 6]);
    expect(result.settings).toEqual({ frames: 4, height: 8, width: 8, steps: 6, guidance: 4, seed: 0, cache: { policy: 'none' } });
    expect(result.frames.every((v) => v >= 0 && v <= 1)).toBe(true);
  });
});

describe('generateVideo on the shipped toy model', () => {
  it('gives the frames of the options the call sites assembled by hand (2 steps, calibrated teacache)', async () => {
    const toy = await loadBundle(ctx, directoryFolder('public/models/toy'));
    try {
      expect(toy.condition).toBe('spacetime');
      expect(toy.teacacheCoefficients).toBeDefined();
      const prompt = 'a blue square moving up on a white background';
      const byHand = await generate(ctx, {
        model: toy.model,
        decoder: toy.decoder,
        condition: toy.condition,
        prompt: toy.textEncoder!.encode(prompt),
        textLen: toy.textLen,
        frames: toy.defaults.frames,
        height: toy.defaults.height,
        width: toy.defaults.width,
        steps: 2,
        guidance: toy.defaults.guidance,
        seed: 3,
        scheduler: toy.scheduler,
        cache: withModelCalibration(parseCacheSpec('teacache'), toy),
      });
      const entry = await generateVideo(ctx, toy, { prompt, steps: 2, seed: 3, cache: 'teacache' });
      expect(entry.shape).toEqual([8, 3, 32, 32]);
      expect(entry.settings).toMatchObject({ frames: 8, height: 32, width: 32, steps: 2, guidance: 3, seed: 3 });
      expect(Array.from(entry.latents)).toEqual(Array.from(byHand.latents));
      expect(Array.from(entry.frames)).toEqual(Array.from(byHand.frames));
      const other = await generateVideo(ctx, toy, { prompt, steps: 2, seed: 4, cache: 'teacache' });
      expect(Array.from(other.frames)).not.toEqual(Array.from(byHand.frames));
    } finally {
      toy.dispose();
    }
  });
});
