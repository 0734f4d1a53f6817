// A Linear layer's weight in whatever format its checkpoint holds, on the GPU as the matmul reads it:
//  - F32 / F16 / BF16: a plain tensor.
//  - F8_E4M3 (fp8 e4m3fn single-file checkpoints): the codes and one f32 scale, from `<base>.scale_weight`
//    (ComfyUI's "scaled fp8" files such as umt5_xxl_fp8_e4m3fn_scaled.safetensors, which also carry an
//    empty `scaled_fp8` marker tensor) or `<base>.weight_scale` (compressed-tensors / transformers fp8);
//    without either the scale is 1 (plain e4m3fn casts).
//  - webdit's int8 / int4 format (`quantize.ts`): the codes and their f16 group scales.
// Codes stay codes on the GPU: the matmul decodes them, no tensor is widened.

import type { GpuContext } from '../gpu/context.ts';
import type { LinearWeight } from '../gpu/kernels/matmul.ts';
import { QuantizedWeight } from '../gpu/quantized.ts';
import type { Tensor } from '../gpu/tensor.ts';
import { uploadTensor, type Checkpoint, type LoadOptions } from './checkpoint.ts';
import { GROUP_SCALE_SUFFIX, readQuantizationMetadata } from './quantize.ts';
import { readTensor } from './safetensors.ts';

/** Suffixes (after the base key) of the per-tensor scale of an fp8 weight, in the order they are looked for. */
export const FP8_SCALE_SUFFIXES = ['.scale_weight', '.weight_scale'] as const;

/**
 * Tensors that belong to a Linear weight rather than being weights themselves (scales, ComfyUI's
 * `scale_input` and `scaled_fp8` marker): a loader that checks every key is used can skip them.
 */
export function isQuantizationCompanion(name: string): boolean {
  return name === 'scaled_fp8' || name.endsWith('.scale_input') || name.endsWith(`.weight${GROUP_SCALE_SUFFIX}`) || FP8_SCALE_SUFFIXES.some((s) => name.endsWith(s));
}

/**
 * `${baseKey}.weight` [N, K] of a Linear layer (and its scales) to the GPU. `options.widenToF32` applies
 * to plain float weights only; progress counts the weight's stored bytes. The caller releases the result.
 */
export async function loadLinearWeight(ctx: GpuContext, checkpoint: Checkpoint, baseKey: string, options: LoadOptions = {}): Promise<LinearWeight> {
  const name = `${baseKey}.weight`;
  const entry = checkpoint.tensors.get(name);
  if (!entry) throw new Error(`checkpoint has no tensor "${name}"`);
  const { file, info } = entry;
  const where = `${file.source.name}: tensor "${name}"`;
  if (info.shape.length !== 2) throw new Error(`${where}: a Linear weight is [N, K], got [${info.shape.join(', ')}]`);
  const [N, K] = info.shape;
  if (info.dtype === 'F32' || info.dtype === 'F16' || info.dtype === 'BF16') return uploadTensor(ctx, file, info, options);

  const uploaded: Tensor[] = [];
  try {
    if (info.dtype === 'F8_E4M3') {
      const scale = await readFp8Scale(checkpoint, baseKey);
      uploaded.push(ctx.upload(new Float32Array([scale]), [1], 'f32', `${baseKey} scale`));
      uploaded.push(await uploadTensor(ctx, file, info, { ...options, widenToF32: undefined }));
      return new QuantizedWeight(uploaded[1], uploaded[0], 0);
    }
    const metadata = readQuantizationMetadata(file);
    const expected = info.dtype === 'I8' ? 'int8' : 'int4';
    if (!metadata || metadata.format !== expected) {
      throw new Error(`${where} is ${info.dtype}, which webdit reads only as ${expected} codes of a file quantized by \`webdit quantize --format ${expected}\` (its metadata says ${metadata ? metadata.format : 'nothing'})`);
    }
    const logicalK = expected === 'int4' ? 2 * K : K;
    const scaleEntry = checkpoint.tensors.get(name + GROUP_SCALE_SUFFIX);
    const groups = Math.ceil(logicalK / metadata.group_size);
    if (!scaleEntry || scaleEntry.info.dtype !== 'F16' || scaleEntry.info.shape.join() !== [N, groups].join()) {
      throw new Error(`${where}: needs "${name}${GROUP_SCALE_SUFFIX}" F16 [${N}, ${groups}] beside it, found ${scaleEntry ? `${scaleEntry.info.dtype} [${scaleEntry.info.shape.join(', ')}]` : 'none'}`);
    }
    uploaded.push(await uploadTensor(ctx, scaleEntry.file, scaleEntry.info, { signal: options.signal }));
    const codeType = expected === 'int4' ? 'i4' : 'i8';
    uploaded.push(await uploadTensor(ctx, file, info, { ...options, widenToF32: undefined }, { dtype: codeType, shape: [N, logicalK] }));
    return new QuantizedWeight(uploaded[1], uploaded[0], metadata.group_size);
  } catch (e) {
    for (const t of uploaded) t.release();
    throw e;
  }
}

/**
 * The per-tensor scale of the fp8 tensor `${baseKey}.weight`, 1 if the checkpoint has none; a scale must be
 * one finite, non-zero number. Also for fp8 tensors read on the host (embedding rows): value = code · scale.
 */
export async function readFp8Scale(checkpoint: Checkpoint, baseKey: string): Promise<number> {
  for (const suffix of FP8_SCALE_SUFFIXES) {
    const entry = checkpoint.tensors.get(baseKey + suffix);
    if (!entry) continue;
    const where = `${entry.file.source.name}: tensor "${baseKey + suffix}"`;
    const count = entry.info.shape.reduce((n, d) => n * d, 1);
    if (count !== 1) throw new Error(`${where}: webdit takes one scale per fp8 tensor, got shape [${entry.info.shape.join(', ')}]`);
    if (entry.info.dtype !== 'F32' && entry.info.dtype !== 'F16' && entry.info.dtype !== 'BF16') {
      throw new Error(`${where}: a scale must be F32, F16 or BF16, got ${entry.info.dtype}`);
    }
    const [scale] = await readTensor(entry.file, baseKey + suffix);
    if (!Number.isFinite(scale) || scale === 0) throw new Error(`${where}: scale ${scale} is not a finite non-zero number`);
    return scale;
  }
  return 1;
}
