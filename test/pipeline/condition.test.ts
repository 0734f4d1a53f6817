// Models that take clean condition channels beside their noisy latents (model_index.json "condition"),
// as the shipped toy model takes x/y/t position ramps: the ramps, the bundle's checks, that the condition's
// share of the patch embedding is made once and every step's transformer input is the latents beside it,
// and that this equals running the model on [latents; condition].
import { beforeAll, describe, expect, it } from 'vitest';
import { testContext } from '../helpers/gpu.ts';
import { writeTinyModel } from '../helpers/tiny-model.ts';
import { directoryFolder } from '../../src/weights/node-folder.ts';
import { loadBundle, type ModelBundle } from '../../src/pipeline/bundle.ts';
import { generate, type GenerateOptions } from '../../src/pipeline/generate.ts';
import { conditionValues, positionCondition } from '../../src/model/condition.ts';
import { gaussianNoise } from '../../src/sampler/noise.ts';
import type { WanTransformer } from '../../src/model/transformer.ts';
import type { GpuContext } from '../../src/gpu/context.ts';

let ctx: GpuContext;
let bundle: ModelBundle;

beforeAll(async () => {
  ctx = await testContext();
  bundle = await loadBundle(ctx, directoryFolder(writeTinyModel(3, { inChannels: 6, index: { condition: 'position' } })));
});

describe('position condition', () => {
  it('is x, y and t ramps from −1 to 1 at cell centres, channel-major [3, F, H, W]', () => {
    const c = positionCondition(2, 2, 4); // F 2, H 2, W 4
    const plane = 2 * 2 * 4;
    expect(c.length).toBe(3 * plane);
    // frame 1, row 1: x runs across the row, y and t are constant there
    const at = (ch: number, t: number, y: number, x: number) => c[ch * plane + (t * 2 + y) * 4 + x];
    expect([0, 1, 2, 3].map((x) => at(0, 1, 1, x))).toEqual([-0.75, -0.25, 0.25, 0.75]);
    expect([0, 1].map((y) => at(1, 1, y, 2))).toEqual([-0.5, 0.5]);
    expect([0, 1].map((t) => at(2, t, 0, 3))).toEqual([-0.5, 0.5]);
  });

  it('"spacetime" adds x·t and y·t after the three ramps, rounded as float32 products of float32 ramps', () => {
    const [f, h, w] = [3, 5, 7];
    const plane = f * h * w;
    const position = positionCondition(f, h, w);
    const c = positionCondition(f, h, w, 'spacetime');
    expect(c.length).toBe(5 * plane);
    expect(c.subarray(0, 3 * plane)).toEqual(position);
    for (let i = 0; i < plane; i++) {
      expect(c[3 * plane + i]).toBe(Math.fround(position[i] * position[2 * plane + i]));
      expect(c[4 * plane + i]).toBe(Math.fround(position[plane + i] * position[2 * plane + i]));
    }
    // first frame, last column: x = 6/7, t = −2/3 (each rounded to float32 as torch does)
    const ramp = (i: number, n: number) => Math.fround(Math.fround((i + 0.5) / n) * 2 - 1);
    expect(c[3 * plane + (w - 1)]).toBe(Math.fround(ramp(w - 1, w) * ramp(0, f)));
    expect(conditionValues('spacetime', [3, f, h, w])).toEqual(c);
  });

  it('the bundle refuses a model whose channels the condition does not explain', async () => {
    await expect(loadBundle(ctx, directoryFolder(writeTinyModel(3, { inChannels: 6 })))).rejects.toThrow(/takes 6 input channels and makes 3; no condition .* accounts for the difference/);
    await expect(loadBundle(ctx, directoryFolder(writeTinyModel(3, { inChannels: 5, index: { condition: 'position' } })))).rejects.toThrow(
      /takes 5 input channels and makes 3; the "position" condition adds 3/,
    );
    await expect(loadBundle(ctx, directoryFolder(writeTinyModel(3, { index: { condition: 'depth' } })))).rejects.toThrow(
      /unknown "condition" "depth" \(webdit knows "position", "spacetime"\)/,
    );
    await expect(loadBundle(ctx, directoryFolder(writeTinyModel(3, { inChannels: 6, index: { condition: 'spacetime' } })))).rejects.toThrow(
      /takes 6 input channels and makes 3; the "spacetime" condition adds 5/,
    );
    const spacetime = await loadBundle(ctx, directoryFolder(writeTinyModel(3, { inChannels: 8, index: { condition: 'spacetime' } })));
    expect(spacetime.condition).toBe('spacetime');
    spacetime.dispose();
    expect(bundle.condition).toBe('position');
  });

  it('the condition is embedded once and every step adds it to the latents\' embedding; generation without it is refused', async () => {
    const inputs: { latents: Float32Array; fixed: unknown }[] = [];
    const fixedChannels: Promise<Float32Array>[] = [];
    const model = bundle.model;
    const spy = Object.create(model) as WanTransformer;
    spy.embedFixedChannels = (fixed) => {
      const state = model.embedFixedChannels(fixed);
      fixedChannels.push(ctx.read(fixed)); // its copy is recorded now, before the caller releases the tensor
      return state;
    };
    spy.forwardBranches = async (input, t, branches, stepInputs) => {
      inputs.push({ latents: await ctx.read(input), fixed: stepInputs?.fixed });
      return model.forwardBranches(input, t, branches, stepInputs);
    };
    const options: GenerateOptions = {
      model: spy,
      decoder: bundle.decoder,
      condition: bundle.condition,
      prompt: bundle.textEncoder!.encode('a red circle moving left'),
      textLen: bundle.textLen,
      frames: 4,
      height: 8,
      width: 8,
      steps: 3,
      guidance: 4,
      seed: 5,
      scheduler: bundle.scheduler,
    };
    await generate(ctx, { ...options, steps: 1 }); // warm-up: RoPE tables and kernel constants persist
    await Promise.all(fixedChannels);
    inputs.length = 0;
    fixedChannels.length = 0;
    const before = ctx.liveTensors;
    const result = await generate(ctx, options);
    expect(ctx.liveTensors).toBe(before);
    expect(result.shape).toEqual([4, 3, 8, 8]);
    const count = 3 * 4 * 8 * 8;
    expect(await Promise.all(fixedChannels)).toEqual([positionCondition(4, 8, 8)]); // once per generation
    expect(inputs).toHaveLength(3);
    expect(inputs[0].latents).toEqual(Float32Array.from(gaussianNoise(5, count)));
    for (const input of inputs) expect(input.fixed).toBe(inputs[0].fixed);
    expect(inputs[0].fixed).toBeDefined();
    expect(inputs[1].latents).not.toEqual(inputs[0].latents); // the latents moved on
    await expect(generate(ctx, { ...options, condition: undefined })).rejects.toThrow(/generate: the transformer takes 6 input channels and makes 3; no condition .* accounts for the difference/);
  });

  it('the latents beside the embedded condition give what [latents; condition] gives, guided or per branch, with the timestep table or without', async () => {
    const model = bundle.model;
    const shape = [3, 4, 8, 8];
    const count = 3 * 4 * 8 * 8;
    const condition = positionCondition(4, 8, 8);
    const noise = gaussianNoise(11, count);
    const latents = ctx.upload(noise, shape, 'f32', 'latents');
    const joined = ctx.upload(Float32Array.from([...noise, ...condition]), [6, 4, 8, 8], 'f32', 'joined');
    const fixedInput = ctx.upload(condition, [3, 4, 8, 8], 'f32', 'condition');
    const fixed = model.embedFixedChannels(fixedInput)!;
    fixedInput.release();
    const encoder = bundle.textEncoder!;
    const text = model.encodeText(encoder.encode('a red circle').data, encoder.encode('a red circle').rows, bundle.textLen);
    const negative = model.encodeText(new Float32Array(0), 0, bundle.textLen);
    const table = model.embedTimesteps([999, 500.5, 3]);
    try {
      const branches = () => [{ text }, { text: negative }];
      const reference = await model.forwardBranches(joined, 500.5, branches());
      const split = await model.forwardBranches(latents, 500.5, branches(), { fixed, timesteps: table });
      const untabled = await model.forwardBranches(latents, 500.5, branches(), { fixed });
      const [guided] = await model.forwardBranches(latents, 500.5, branches(), { fixed, guidance: 4 });
      const all = [...reference, ...split, ...untabled, guided];
      const [r0, r1, s0, s1, u0, u1, g] = await Promise.all(all.map((t) => ctx.read(t)));
      all.forEach((t) => t.release());
      // A timestep's row of the table is the very embedding a step makes alone (the same products per row).
      expect(u0).toEqual(s0);
      expect(u1).toEqual(s1);
      const close = (a: Float32Array, b: Float32Array) => {
        const scale = Math.max(...a.map(Math.abs));
        expect(Math.max(...a.map((v, i) => Math.abs(v - b[i])))).toBeLessThanOrEqual(1e-5 * scale);
      };
      close(r0, s0);
      close(r1, s1);
      expect(s0).not.toEqual(s1);
      close(Float32Array.from(r1, (u, i) => u + 4 * (r0[i] - u)), g);
      await expect(model.forwardBranches(latents, 1, [{ text }], { guidance: 4 })).rejects.toThrow(/guidance takes a finite scale and two branches/);
      const smaller = ctx.upload(new Float32Array(3 * 2 * 8 * 8), [3, 2, 8, 8], 'f32', 'other grid');
      expect(() => model.embed(smaller, 1, fixed)).toThrow(/latents give a 2×4×4 token grid, the fixed channels 4×4×4/);
      smaller.release();
    } finally {
      [latents, joined].forEach((t) => t.release());
      fixed.release();
      table.release();
      text.dispose();
      negative.dispose();
    }
  });

  it('a model that cannot split its patch embedding (weights in halves) gets [latents; condition] every step, with the same frames', async () => {
    const model = bundle.model;
    const spy = Object.create(model) as WanTransformer;
    spy.embedFixedChannels = () => undefined;
    const shapes: number[][] = [];
    spy.forwardBranches = async (input, t, branches, stepInputs) => {
      shapes.push([...input.shape]);
      expect(stepInputs?.fixed).toBeUndefined();
      return model.forwardBranches(input, t, branches, stepInputs);
    };
    const options: GenerateOptions = {
      model,
      decoder: bundle.decoder,
      condition: bundle.condition,
      prompt: bundle.textEncoder!.encode('a blue square moving up'),
      textLen: bundle.textLen,
      frames: 4,
      height: 8,
      width: 8,
      steps: 2,
      guidance: 3,
      seed: 2,
      scheduler: bundle.scheduler,
    };
    const split = await generate(ctx, options);
    const joined = await generate(ctx, { ...options, model: spy });
    expect(shapes).toEqual([[6, 4, 8, 8], [6, 4, 8, 8]]);
    const scale = Math.max(...split.frames.map(Math.abs));
    expect(Math.max(...split.frames.map((v, i) => Math.abs(v - joined.frames[i])))).toBeLessThanOrEqual(1e-5 * scale);
  });
});
