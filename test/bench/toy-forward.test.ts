// bench/toy-forward.ts times the shipped toy model through the generate entry: every step's transformer
// input is [latents; the model's 5 spacetime channels] (the script used to drop them), at the model's size.
import { describe, expect, it } from 'vitest';
import { testContext } from '../helpers/gpu.ts';
import { directoryFolder } from '../../src/weights/node-folder.ts';
import { loadBundle } from '../../src/pipeline/bundle.ts';
import { latentShape } from '../../src/pipeline/generate.ts';
import { conditionValues } from '../../src/model/condition.ts';
import type { WanTransformer } from '../../src/model/transformer.ts';
import { toyForwardGeneration } from '../../bench/toy-forward.ts';

describe('bench/toy-forward', () => {
  it("feeds the transformer the model's condition channels beside the latents", async () => {
    const ctx = await testContext();
    const toy = await loadBundle(ctx, directoryFolder('public/models/toy'));
    try {
      const inputs: { shape: number[]; values: Float32Array }[] = [];
      const model = Object.create(toy.model) as WanTransformer;
      model.forwardBranches = async (input, t, branches) => {
        inputs.push({ shape: [...input.shape], values: await ctx.read(input) });
        return toy.model.forwardBranches(input, t, branches);
      };
      const result = await toyForwardGeneration(ctx, { ...toy, model }, 2);
      const shape = latentShape(toy.model, toy.decoder, toy.defaults); // [3, 8, 32, 32]
      const count = shape.reduce((a, b) => a * b, 1);
      expect(toy.model.config.inChannels).toBe(3 + 5);
      expect(inputs).toHaveLength(2);
      for (const input of inputs) {
        expect(input.shape).toEqual([8, ...shape.slice(1)]);
        expect(input.values.subarray(count)).toEqual(conditionValues('spacetime', shape));
      }
      expect(result.shape).toEqual([8, 3, 32, 32]);
    } finally {
      toy.dispose();
    }
  });
});
