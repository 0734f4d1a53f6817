import { writeFile } from 'node:fs/promises';
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

/** Runs one forward pass on an inputs file laid out as shared/golden/README.md describes. */
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
  usage: 'webdit transformer --model DIR --inputs FILE --out FILE [--text-len N] [--intermediates] [--f32]',
  async run(options) {
    const modelDir = options.requiredString('model');
    const inputsPath = options.requiredString('inputs');
    const outPath = options.requiredString('out');
    const textLen = options.integer('text-len');
    const withIntermediates = options.flag('intermediates');
    const widen = options.flag('f32');
    options.finish();
    if (textLen !== undefined && textLen <= 0) throw new UsageError('transformer: --text-len must be positive');
    const ctx = await createNodeContext();
    try {
      const model = await loadWanTransformer(ctx, directoryFolder(modelDir), { weights: widen ? 'f32' : 'keep' });
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
