// The shipped toy model on the engine against the training code's own forward pass (PyTorch, float32 CPU),
// its text encoder against the embedding the training code produced, and its condition channels against
// the ones the training code fed it.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { testContext } from '../helpers/gpu.ts';
import { relativeError } from '../helpers/reference.ts';
import { directoryFolder } from '../../src/weights/node-folder.ts';
import { fileSource } from '../../src/weights/node-source.ts';
import { openSafetensors, readTensor } from '../../src/weights/safetensors.ts';
import { loadBundle } from '../../src/pipeline/bundle.ts';
import { runTransformerOnInputs } from '../../src/cli/commands/transformer.ts';
import { SHIPPED_MODEL_DIR } from '../../src/cli/model-args.ts';
import { conditionValues } from '../../src/model/condition.ts';

describe('shipped toy model', () => {
  it('text encoder and one transformer pass match the training code (≤ 1e-4)', async () => {
    const ctx = await testContext();
    const bundle = await loadBundle(ctx, directoryFolder(SHIPPED_MODEL_DIR));
    const ref = await openSafetensors(await fileSource(join(SHIPPED_MODEL_DIR, 'reference.safetensors')));
    const prompt = ref.metadata.prompt;
    expect(prompt).toBeTruthy();
    const encoded = bundle.textEncoder!.encode(prompt);
    const expected = await readTensor(ref, 'encoder_hidden_states'); // [1, text_len, text_dim], zero-padded
    const padded = new Float32Array(expected.length);
    padded.set(encoded.data);
    expect(relativeError(padded, expected)).toBeLessThan(1e-6);

    // The engine's condition channels are the training code's, bit for bit (the reference input holds them).
    expect(bundle.condition).toBeDefined();
    const [, channels, ...grid] = ref.tensors.get('hidden_states')!.shape;
    const outChannels = bundle.model.config.outChannels;
    const conditionIn = (await readTensor(ref, 'hidden_states')).subarray(outChannels * grid[0] * grid[1] * grid[2]);
    expect(channels).toBe(bundle.model.config.inChannels);
    expect(conditionIn).toEqual(conditionValues(bundle.condition!, [outChannels, ...grid]));

    const run = await runTransformerOnInputs(ctx, bundle.model, ref);
    expect(relativeError(run.output.data, await readTensor(ref, 'output'))).toBeLessThan(1e-4);
    bundle.dispose();
  });
});
