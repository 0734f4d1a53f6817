// Precomputed prompt embeddings (diffusers' prompt_embeds / negative_prompt_embeds, saved as
// safetensors) for models whose text encoder webdit does not run (Wan2.1's umT5-XXL).

import type { PromptEmbedding } from '../pipeline/generate.ts';
import { openSafetensors, readTensor } from '../weights/safetensors.ts';
import type { ByteSource } from '../weights/source.ts';

export const PROMPT_TENSORS = ['prompt_embeds', 'encoder_hidden_states'];
export const NEGATIVE_TENSORS = ['negative_prompt_embeds', 'prompt_embeds', 'encoder_hidden_states'];

/**
 * The embedding in `source`: the first of `preferred` it holds, or its only tensor; [1, L, D] or
 * [L, D], D = the model's text_dim.
 */
export async function readPromptEmbedding(source: ByteSource, preferred: string[], textDim: number): Promise<PromptEmbedding> {
  const file = await openSafetensors(source);
  const names = [...file.tensors.keys()];
  const name = preferred.find((n) => file.tensors.has(n)) ?? (names.length === 1 ? names[0] : undefined);
  if (!name) {
    throw new Error(`${source.name}: expected a tensor named ${preferred.join(' or ')}; it has ${names.join(', ') || 'none'}`);
  }
  const shape = file.tensors.get(name)!.shape;
  const dims = shape.length === 3 && shape[0] === 1 ? shape.slice(1) : shape;
  if (dims.length !== 2) throw new Error(`${source.name}: ${name} must be [1, L, D] or [L, D], got [${shape.join(', ')}]`);
  if (dims[1] !== textDim) {
    throw new Error(`${source.name}: ${name} has width ${dims[1]}, but this model's text_dim is ${textDim} (embeddings made for another model?)`);
  }
  return { data: await readTensor(file, name), rows: dims[0] };
}
