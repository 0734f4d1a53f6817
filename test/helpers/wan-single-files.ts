// Wan2.1 single files from the tiny diffusers folder's tensors, as people download them: the
// transformer under Wan's original key names with ComfyUI's "model.diffusion_model." prefix.
import { writeFile } from 'node:fs/promises';
import { expect } from 'vitest';
import { fileSource } from '../../src/weights/node-source.ts';
import { encodeSafetensors, openSafetensors, readTensor, type EncodableTensor } from '../../src/weights/safetensors.ts';

/** diffusers → Wan's original names: the inverse of src/model/keys.ts, written out independently. */
const DIFFUSERS_TO_ORIGINAL: [RegExp, string][] = [
  [/^condition_embedder\.time_embedder\.linear_1/, 'time_embedding.0'],
  [/^condition_embedder\.time_embedder\.linear_2/, 'time_embedding.2'],
  [/^condition_embedder\.text_embedder\.linear_1/, 'text_embedding.0'],
  [/^condition_embedder\.text_embedder\.linear_2/, 'text_embedding.2'],
  [/^condition_embedder\.time_proj/, 'time_projection.1'],
  [/^scale_shift_table$/, 'head.modulation'],
  [/^proj_out/, 'head.head'],
  [/\.scale_shift_table$/, '.modulation'],
  [/\.ffn\.net\.0\.proj\./, '.ffn.0.'],
  [/\.ffn\.net\.2\./, '.ffn.2.'],
  [/\.norm2\./, '.norm3.'], // diffusers' norm2 (before cross-attention) is the original's norm3
  [/\.attn1\.to_out\.0\./, '.self_attn.o.'],
  [/\.attn2\.to_out\.0\./, '.cross_attn.o.'],
  [/\.attn1\.to_([qkv])\./, '.self_attn.$1.'],
  [/\.attn2\.to_([qkv])\./, '.cross_attn.$1.'],
  [/\.attn1\.norm_/, '.self_attn.norm_'],
  [/\.attn2\.norm_/, '.cross_attn.norm_'],
];

export function originalName(diffusers: string): string {
  let name = diffusers;
  for (const [from, to] of DIFFUSERS_TO_ORIGINAL) name = name.replace(from, to);
  return `model.diffusion_model.${name}`;
}

/** A safetensors file of `source`'s tensors under new names. */
async function renamed(sourcePath: string, rename: (name: string) => string): Promise<Uint8Array> {
  const file = await openSafetensors(await fileSource(sourcePath));
  const tensors: Record<string, EncodableTensor> = {};
  for (const [name, info] of file.tensors) {
    expect(info.dtype).toBe('F32');
    tensors[rename(name)] = { dtype: 'F32', shape: info.shape, data: await readTensor(file, name) };
  }
  return encodeSafetensors(tensors);
}

/** Writes `sourcePath`'s transformer (diffusers names, F32) to `outPath` under the original names. */
export async function writeOriginalKeyTransformer(sourcePath: string, outPath: string): Promise<void> {
  await writeFile(outPath, await renamed(sourcePath, originalName));
}
