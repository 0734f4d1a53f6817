// Models that take clean condition channels beside their noisy latents (model_index.json "condition"),
// as the shipped toy model takes x/y/t position ramps: the ramps, the bundle's checks, and that every
// step's transformer input is [latents; condition].
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

  it('every step feeds the transformer [latents; condition], and generation without the condition is refused', async () => {
    const inputs: Float32Array[] = [];
    const model = bundle.model;
    const spy = Object.create(model) as WanTransformer;
    spy.forwardBranches = async (input, t, branches) => {
      inputs.push(await ctx.read(input));
      return model.forwardBranches(input, t, branches);
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
    inputs.length = 0;
    const before = ctx.liveTensors;
    const result = await generate(ctx, options);
    expect(ctx.liveTensors).toBe(before);
    expect(result.shape).toEqual([4, 3, 8, 8]);
    const count = 3 * 4 * 8 * 8;
    const condition = positionCondition(4, 8, 8);
    expect(inputs).toHaveLength(3);
    expect(inputs[0].subarray(0, count)).toEqual(Float32Array.from(gaussianNoise(5, count)));
    for (const input of inputs) expect(input.subarray(count)).toEqual(condition);
    expect(inputs[1].subarray(0, count)).not.toEqual(inputs[0].subarray(0, count)); // the latents moved on
    await expect(generate(ctx, { ...options, condition: undefined })).rejects.toThrow(/generate: the transformer takes 6 input channels and makes 3; no condition .* accounts for the difference/);
  });
});
