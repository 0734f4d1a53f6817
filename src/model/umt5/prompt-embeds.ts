// umT5 output in the form diffusers' WanPipeline hands the transformer (_get_t5_prompt_embeds): each
// prompt's rows trimmed to its tokens, then zero-padded to max_sequence_length (512) rows.

import type { EncodeOptions, Umt5Encoder } from './encoder.ts';

export const WAN_TEXT_LENGTH = 512;

export interface PromptEmbeds {
  /** [textLength, d_model] f32, rows past the prompt's tokens zero. */
  promptEmbeds: Float32Array;
  negativePromptEmbeds?: Float32Array;
  textLength: number;
  dModel: number;
}

function padRows(rows: Float32Array, dModel: number, textLength: number): Float32Array {
  const padded = new Float32Array(textLength * dModel);
  padded.set(rows);
  return padded;
}

/** Encodes a prompt's token ids and, when given, its negative's, in one pass over the layers. */
export async function encodePromptEmbeds(
  encoder: Umt5Encoder,
  ids: readonly number[],
  negativeIds?: readonly number[],
  options: EncodeOptions & { textLength?: number } = {},
): Promise<PromptEmbeds> {
  const textLength = options.textLength ?? WAN_TEXT_LENGTH;
  if (!Number.isInteger(textLength) || textLength < 1) throw new Error(`text length must be a positive integer, got ${textLength}`);
  for (const [what, s] of [['prompt', ids], ['negative prompt', negativeIds]] as const) {
    if (s && s.length > textLength) {
      throw new Error(`the ${what} has ${s.length} tokens, more than the text length ${textLength} (the tokenizer truncates to it, EOS included)`);
    }
  }
  const sequences = negativeIds ? [ids, negativeIds] : [ids];
  const out = await encoder.encode(sequences, options);
  const { dModel } = encoder.config;
  return {
    promptEmbeds: padRows(out[0], dModel, textLength),
    negativePromptEmbeds: negativeIds ? padRows(out[1], dModel, textLength) : undefined,
    textLength,
    dModel,
  };
}
