import { readdir, writeFile } from 'node:fs/promises';
import type { Command } from '../main.ts';
import { UsageError } from '../args.ts';
import { createNodeContext } from '../../gpu/node.ts';
import type { GpuContext } from '../../gpu/context.ts';
import type { Tensor } from '../../gpu/tensor.ts';
import { directoryFolder } from '../../weights/node-folder.ts';
import { fileSource } from '../../weights/node-source.ts';
import { encodeSafetensors, openSafetensors, readTensor, type SafetensorsFile } from '../../weights/safetensors.ts';
import { loadWanTransformer } from '../../model/load.ts';
import type { WanTransformer } from '../../model/transformer.ts';

const DEFAULT_TEXT_LEN = 512;
const NOT_WEIGHTS = new Set(['inputs.safetensors', 'outputs.safetensors', 'reference.safetensors']);

/**
 * The weights of a model folder: diffusers' layout when present, else its one other safetensors
 * file (a single-file checkpoint, original or diffusers key names).
 */
async function weightsFileOf(dir: string): Promise<string | undefined> {
  const files = await readdir(dir);
  if (files.some((f) => f.startsWith('diffusion_pytorch_model.safetensors'))) return undefined;
  const candidates = files.filter((f) => f.endsWith('.safetensors') && !NOT_WEIGHTS.has(f));
  if (candidates.length === 1) return candidates[0];
  if (candidates.length === 0) throw new Error(`${dir} has no diffusion_pytorch_model.safetensors (or .index.json) and no other .safetensors file`);
  throw new Error(`${dir} has several checkpoints (${candidates.join(', ')}); name one with --weights`);
}

function requireTensor(file: SafetensorsFile, name: string, rank: number) {
  const info = file.tensors.get(name);
  if (!info) throw new Error(`${file.source.name}: no tensor "${name}"`);
  if (info.shape.length !== rank || info.shape[0] !== 1) {
    throw new Error(`${file.source.name}: "${name}" must have rank ${rank} with batch 1, got [${info.shape.join(', ')}]`);
  }
  return info;
}

export interface TransformerRun {
  output: { shape: number[]; data: Float32Array };
  intermediates: Map<string, { shape: number[]; data: Float32Array }>;
}

/** Runs one forward pass on an inputs file laid out as test/golden/README.md describes. */
export async function runTransformerOnInputs(
  ctx: GpuContext,
  model: WanTransformer,
  inputs: SafetensorsFile,
  options: { textLen?: number; intermediates?: boolean } = {},
): Promise<TransformerRun> {
  const hsInfo = requireTensor(inputs, 'hidden_states', 5);
  requireTensor(inputs, 'timestep', 1);
  const ehsInfo = requireTensor(inputs, 'encoder_hidden_states', 3);
  const textLen = options.textLen ?? (inputs.metadata.text_len !== undefined ? Number(inputs.metadata.text_len) : DEFAULT_TEXT_LEN);
  if (!Number.isInteger(textLen) || textLen <= 0) throw new Error(`text length must be a positive integer, got ${textLen}`);
  const [, c, f, h, w] = hsInfo.shape;
  const latents = ctx.upload(await readTensor(inputs, 'hidden_states'), [c, f, h, w], 'f32', 'hidden_states');
  const [timestep] = await readTensor(inputs, 'timestep');
  const text = model.encodeText(await readTensor(inputs, 'encoder_hidden_states'), ehsInfo.shape[1], textLen);
  const keep = options.intermediates ? new Map<string, Tensor>() : undefined;
  try {
    const out = await model.forward(latents, timestep, text, { intermediates: keep });
    const run: TransformerRun = { output: { shape: [1, ...out.shape], data: await ctx.read(out) }, intermediates: new Map() };
    out.release();
    for (const [name, t] of keep ?? []) {
      run.intermediates.set(name, { shape: [...t.shape], data: await ctx.read(t) });
      t.release();
    }
    return run;
  } finally {
    latents.release();
    text.dispose();
  }
}

const transformer: Command = {
  summary: 'Run one Wan2.1 transformer forward pass on an inputs file and write the output (and intermediates).',
  usage: 'webdit transformer --model DIR --inputs FILE --out FILE [--text-len N] [--intermediates] [--f32] [--weights FILE-IN-DIR]',
  async run(options) {
    const modelDir = options.requiredString('model');
    const inputsPath = options.requiredString('inputs');
    const outPath = options.requiredString('out');
    const textLen = options.integer('text-len');
    const withIntermediates = options.flag('intermediates');
    const widen = options.flag('f32');
    const weightsOption = options.string('weights');
    options.finish();
    if (textLen !== undefined && textLen <= 0) throw new UsageError('transformer: --text-len must be positive');
    const ctx = await createNodeContext();
    try {
      const weightsFile = weightsOption ?? (await weightsFileOf(modelDir));
      const model = await loadWanTransformer(ctx, directoryFolder(modelDir), { weights: widen ? 'f32' : 'keep', weightsFile });
      const inputs = await openSafetensors(await fileSource(inputsPath));
      const run = await runTransformerOnInputs(ctx, model, inputs, { textLen, intermediates: withIntermediates });
      const tensors: Record<string, { dtype: 'F32'; shape: number[]; data: Float32Array }> = {
        output: { dtype: 'F32', ...run.output },
      };
      for (const [name, t] of run.intermediates) tensors[name] = { dtype: 'F32', ...t };
      await writeFile(outPath, encodeSafetensors(tensors));
      console.error(`wrote ${outPath}: output [${run.output.shape.join(', ')}]${withIntermediates ? ` and ${run.intermediates.size} intermediates` : ''}`);
      model.dispose();
    } finally {
      ctx.destroy();
    }
  },
};
export default transformer;
