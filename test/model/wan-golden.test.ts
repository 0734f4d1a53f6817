// The Wan2.1 transformer against the upstream PyTorch model's outputs (test/golden/wan).
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { testContext } from '../helpers/gpu.ts';
import { relativeError } from '../helpers/reference.ts';
import { directoryFolder } from '../../src/weights/node-folder.ts';
import { fileSource } from '../../src/weights/node-source.ts';
import { openSafetensors, readTensor } from '../../src/weights/safetensors.ts';
import { arrayBufferSource, type ByteSource } from '../../src/weights/source.ts';
import { loadWanTransformer } from '../../src/model/load.ts';
import { runTransformerOnInputs } from '../../src/cli/commands/transformer.ts';
import type { ModelFolder } from '../../src/weights/folder.ts';

const GOLDEN = join(__dirname, '../golden/wan');

/** The golden folder, with the weights file swapped for the original-key-name version. */
function originalKeyFolder(dir: string): ModelFolder {
  const inner = directoryFolder(dir);
  return {
    name: `${dir} (original key names)`,
    open: (path: string) => inner.open(path === 'diffusion_pytorch_model.safetensors' ? 'transformer.original.safetensors' : path),
    readText: (path: string) => inner.readText(path),
  };
}

describe('Wan2.1 transformer matches upstream PyTorch', () => {
  for (const name of ['tiny', 'head128', 'tiny_bf16']) {
    for (const keys of ['diffusers', 'original'] as const) {
      it(`${name}, ${keys} key names: output and every intermediate to 1e-4`, async () => {
        const ctx = await testContext();
        const dir = join(GOLDEN, name);
        const folder = keys === 'diffusers' ? directoryFolder(dir) : originalKeyFolder(dir);
        const before = ctx.liveTensors;
        const model = await loadWanTransformer(ctx, folder);
        if (name === 'tiny_bf16') expect(model.weights.get('blocks.0.attn1.to_q.weight')!.dtype).toBe('bf16');
        const inputs = await openSafetensors(await fileSource(join(dir, 'inputs.safetensors')));
        const expected = await openSafetensors(await fileSource(join(dir, 'outputs.safetensors')));
        const run = await runTransformerOnInputs(ctx, model, inputs, { intermediates: true });
        const errors: Record<string, number> = { output: relativeError(run.output.data, await readTensor(expected, 'output')) };
        for (const tensor of expected.tensors.keys()) {
          if (tensor === 'output') continue;
          const got = run.intermediates.get(tensor);
          expect(got, `intermediate ${tensor}`).toBeDefined();
          errors[tensor] = relativeError(got!.data, await readTensor(expected, tensor));
        }
        for (const [tensor, err] of Object.entries(errors)) expect(err, `${tensor}: ${err} (all: ${JSON.stringify(errors)})`).toBeLessThan(1e-4);
        model.dispose();
        expect(ctx.liveTensors).toBe(before);
      });
    }
  }

  it('forwardBranches (CFG: one shared embedding) equals separate forward passes bit for bit and frees its tensors', async () => {
    const ctx = await testContext();
    const dir = join(GOLDEN, 'tiny');
    const before = ctx.liveTensors;
    const model = await loadWanTransformer(ctx, directoryFolder(dir));
    const inputs = await openSafetensors(await fileSource(join(dir, 'inputs.safetensors')));
    const [, c, f, h, w] = inputs.tensors.get('hidden_states')!.shape;
    const [, rows] = inputs.tensors.get('encoder_hidden_states')!.shape;
    const latents = ctx.upload(await readTensor(inputs, 'hidden_states'), [c, f, h, w], 'f32', 'latents');
    const [timestep] = await readTensor(inputs, 'timestep');
    const embeds = await readTensor(inputs, 'encoder_hidden_states');
    const cond = model.encodeText(embeds, rows, rows + 3);
    const uncond = model.encodeText(new Float32Array(0), 0, rows + 3);
    const read = async (t: Awaited<ReturnType<typeof model.forward>>) => {
      const data = await ctx.read(t);
      t.release();
      return data;
    };
    const separate = [await read(await model.forward(latents, timestep, cond)), await read(await model.forward(latents, timestep, uncond))];
    const shared = await model.forwardBranches(latents, timestep, [{ text: cond }, { text: uncond }]);
    expect(shared).toHaveLength(2);
    const together = [await read(shared[0]), await read(shared[1])];
    expect(together[0]).toEqual(separate[0]);
    expect(together[1]).toEqual(separate[1]);
    expect(relativeError(separate[0], separate[1])).toBeGreaterThan(1e-3); // the prompts do matter
    cond.dispose();
    uncond.dispose();
    latents.release();
    model.dispose();
    expect(ctx.liveTensors).toBe(before);
  });

  it('refuses a checkpoint with missing, unexpected and wrongly shaped tensors, listing them', async () => {
    const ctx = await testContext();
    const dir = join(GOLDEN, 'tiny');
    const { encodeSafetensors } = await import('../../src/weights/safetensors.ts');
    const real = await openSafetensors(await fileSource(join(dir, 'diffusion_pytorch_model.safetensors')));
    const tensors: Parameters<typeof encodeSafetensors>[0] = {};
    for (const [n, info] of real.tensors) {
      if (n === 'proj_out.bias') continue; // missing
      const data = await readTensor(real, n);
      tensors[n] = n === 'blocks.0.attn1.norm_q.weight' ? { dtype: 'F32', shape: [47], data: data.subarray(0, 47) } : { dtype: 'F32', shape: info.shape, data };
    }
    tensors['blocks.0.extra.weight'] = { dtype: 'F32', shape: [2], data: new Float32Array(2) };
    const bytes = encodeSafetensors(tensors);
    const inner = directoryFolder(dir);
    const folder: ModelFolder = {
      name: 'broken',
      open: async (p: string): Promise<ByteSource | undefined> => (p === 'diffusion_pytorch_model.safetensors' ? arrayBufferSource(bytes, p) : inner.open(p)),
      readText: (p: string) => inner.readText(p),
    };
    const before = ctx.liveTensors;
    await expect(loadWanTransformer(ctx, folder)).rejects.toThrow(
      /missing tensors: proj_out\.bias.*unexpected tensors: blocks\.0\.extra\.weight.*wrong shapes: blocks\.0\.attn1\.norm_q\.weight is \[47\], expected \[48\]/,
    );
    expect(ctx.liveTensors).toBe(before);
  });
});

describe('transformer command', () => {
  it('reproduces the golden output from a folder holding only an original-key single-file checkpoint', async () => {
    const { mkdtempSync, copyFileSync, readFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { main } = await import('../../src/cli/main.ts');
    const dir = mkdtempSync(join(tmpdir(), 'webdit-single-'));
    const src = join(GOLDEN, 'head128');
    for (const f of ['config.json', 'transformer.original.safetensors', 'inputs.safetensors']) copyFileSync(join(src, f), join(dir, f));
    const out = join(dir, 'out.safetensors');
    expect(await main(['transformer', '--model', dir, '--inputs', join(dir, 'inputs.safetensors'), '--out', out])).toBe(0);
    const got = await openSafetensors(arrayBufferSource(readFileSync(out)));
    const expected = await openSafetensors(await fileSource(join(src, 'outputs.safetensors')));
    expect(relativeError(await readTensor(got, 'output'), await readTensor(expected, 'output'))).toBeLessThan(1e-4);
  });
});
