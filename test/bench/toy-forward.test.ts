// bench/toy-forward.ts times the shipped toy model through the generate entry: the model gets its 5
// spacetime channels (the script used to drop them), embedded once beside every step's latents, at the model's size.
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
      const inputs: { shape: number[]; fixed: unknown }[] = [];
      const fixedChannels: Promise<Float32Array>[] = [];
      const model = Object.create(toy.model) as WanTransformer;
      model.embedFixedChannels = (fixed) => {
        fixedChannels.push(ctx.read(fixed));
        return toy.model.embedFixedChannels(fixed);
      };
      model.forwardBranches = async (input, t, branches, stepInputs) => {
        inputs.push({ shape: [...input.shape], fixed: stepInputs?.fixed });
        return toy.model.forwardBranches(input, t, branches, stepInputs);
      };
      const result = await toyForwardGeneration(ctx, { ...toy, model }, 2);
      const shape = latentShape(toy.model, toy.decoder, toy.defaults); // [3, 8, 32, 32]
      expect(toy.model.config.inChannels).toBe(3 + 5);
      expect(inputs).toHaveLength(2);
      // The condition's share of the patch embedding is made once; each step takes the latents beside it.
      expect(await Promise.all(fixedChannels)).toEqual([conditionValues('spacetime', shape)]);
      for (const input of inputs) {
        expect(input.shape).toEqual(shape);
        expect(input.fixed).toBeDefined();
        expect(input.fixed).toBe(inputs[0].fixed);
      }
      expect(result.shape).toEqual([8, 3, 32, 32]);
    } finally {
      toy.dispose();
    }
  });
});
