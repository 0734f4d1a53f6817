import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from '../main.ts';
import { UsageError } from '../args.ts';
import { createNodeContext } from '../../gpu/node.ts';
import { directoryFolder } from '../../weights/node-folder.ts';
import { fileSource } from '../../weights/node-source.ts';
import { encodeSafetensors, type EncodableTensor } from '../../weights/safetensors.ts';
import { loadUmt5Encoder, type Umt5Location } from '../../model/umt5/load.ts';
import { encodePromptEmbeds, WAN_TEXT_LENGTH, type PromptEmbeds } from '../../model/umt5/prompt-embeds.ts';
import { loadTokenizerFromPath } from '../model-args.ts';
import { WAN_NEGATIVE_PROMPT } from '../../pipeline/wan-text.ts';

/**
 * Token ids from a JSON value or a JSON file: `[1, 2, 3]` or `{"input_ids": [...]}` (what
 * `webdit tokenize --json` prints; a batch of one `[[...]]` is accepted too).
 */
export async function readInputIds(value: string, flag: string): Promise<number[]> {
  const text = /^\s*[[{]/.test(value) ? value : await readFile(value, 'utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`encode: --${flag} is neither JSON nor a JSON file (${(e as Error).message})`);
  }
  let ids = typeof json === 'object' && json !== null && !Array.isArray(json) ? (json as { input_ids?: unknown }).input_ids : json;
  if (Array.isArray(ids) && ids.length === 1 && Array.isArray(ids[0])) ids = ids[0];
  if (!Array.isArray(ids) || !ids.every((v) => Number.isInteger(v))) throw new UsageError(`encode: --${flag} must be a list of integer token ids`);
  return ids as number[];
}

/** DIR/model_index.json's negative_prompt, which generate uses too. */
async function modelNegativePrompt(modelDir: string | undefined): Promise<string | undefined> {
  if (modelDir === undefined) return undefined;
  const text = await readFile(join(modelDir, 'model_index.json'), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  const negative = (JSON.parse(text) as { negative_prompt?: unknown }).negative_prompt;
  return typeof negative === 'string' ? negative : undefined;
}

/** --text-encoder PATH (a text_encoder folder or one safetensors file), else DIR/text_encoder. */
async function encoderLocation(modelDir: string | undefined, textEncoder: string | undefined): Promise<Umt5Location> {
  if (textEncoder !== undefined) {
    return (await stat(textEncoder)).isDirectory() ? { folder: directoryFolder(textEncoder) } : { file: await fileSource(textEncoder) };
  }
  if (modelDir === undefined) throw new UsageError('encode: give --model DIR (with text_encoder/) or --text-encoder PATH');
  return { folder: directoryFolder(join(modelDir, 'text_encoder')) };
}

/** The safetensors file `generate --embeds` reads: prompt_embeds (and negative_prompt_embeds) [1, L, d_model] f32. */
export function promptEmbedsFile(embeds: PromptEmbeds): Uint8Array {
  const shape = [1, embeds.textLength, embeds.dModel];
  const tensors: Record<string, EncodableTensor> = { prompt_embeds: { dtype: 'F32', shape, data: embeds.promptEmbeds } };
  if (embeds.negativePromptEmbeds) tensors.negative_prompt_embeds = { dtype: 'F32', shape, data: embeds.negativePromptEmbeds };
  return encodeSafetensors(tensors, { text_encoder: 'umt5' });
}

const encode: Command = {
  summary: "Run Wan2.1's umT5 text encoder on a prompt (tokenized as Wan does) or on token ids, streamed layer by layer, and write prompt_embeds for generate --embeds.",
  usage:
    'webdit encode (--model DIR | --text-encoder PATH [--tokenizer PATH]) (--prompt TEXT [--negative-prompt TEXT (default: model_index.json\'s, else Wan\'s; "" for none)] | --input-ids JSON|FILE [--negative-input-ids JSON|FILE]) ' +
    '[--text-len 512] --out FILE.safetensors',
  async run(options) {
    const modelDir = options.string('model');
    const textEncoder = options.string('text-encoder');
    const tokenizerPath = options.string('tokenizer');
    const prompt = options.string('prompt');
    const negativePrompt = options.string('negative-prompt');
    const idsArg = options.string('input-ids');
    const negativeArg = options.string('negative-input-ids');
    const textLength = options.integer('text-len', WAN_TEXT_LENGTH)!;
    const out = options.requiredString('out');
    options.finish();
    if (textLength < 1) throw new UsageError('encode: --text-len must be positive');
    if ((prompt === undefined) === (idsArg === undefined)) throw new UsageError('encode: give --prompt TEXT or --input-ids JSON|FILE (one of them)');
    if (prompt !== undefined && negativeArg !== undefined) throw new UsageError('encode: with --prompt, give the negative as --negative-prompt TEXT');
    if (idsArg !== undefined && negativePrompt !== undefined) throw new UsageError('encode: with --input-ids, give the negative as --negative-input-ids');
    let ids: number[];
    let negativeIds: number[] | undefined;
    if (prompt !== undefined) {
      const path = tokenizerPath ?? (modelDir !== undefined ? join(modelDir, 'tokenizer') : undefined);
      if (path === undefined) throw new UsageError('encode: --prompt needs a tokenizer: give --model DIR (with tokenizer/) or --tokenizer PATH');
      const tokenizer = await loadTokenizerFromPath(path, textLength);
      ids = tokenizer.encode(prompt);
      // As generate does for a Wan2.1 folder: the negative defaults to Wan's own (empty text: none).
      const negative = negativePrompt ?? (await modelNegativePrompt(modelDir)) ?? WAN_NEGATIVE_PROMPT;
      negativeIds = negative === '' ? undefined : tokenizer.encode(negative);
    } else {
      ids = await readInputIds(idsArg!, 'input-ids');
      negativeIds = negativeArg === undefined ? undefined : await readInputIds(negativeArg, 'negative-input-ids');
    }
    const location = await encoderLocation(modelDir, textEncoder);
    const ctx = await createNodeContext();
    try {
      const encoder = await loadUmt5Encoder(ctx, location);
      const started = performance.now();
      const embeds = await encodePromptEmbeds(encoder, ids, negativeIds, {
        textLength,
        onLayer: (l, n) => process.stderr.write(`\rlayer ${l + 1}/${n}`),
      });
      process.stderr.write('\n');
      await writeFile(out, promptEmbedsFile(embeds));
      const stats = encoder.lastStats!;
      console.error(
        `wrote ${out}: prompt_embeds${negativeIds ? ' and negative_prompt_embeds' : ''} [1, ${textLength}, ${embeds.dModel}] from ${stats.tokens} tokens in ` +
          `${((performance.now() - started) / 1000).toFixed(1)} s; peak GPU ${(stats.peakGpuBytes / 2 ** 20).toFixed(1)} MiB, ${(stats.bytesRead / 2 ** 20).toFixed(1)} MiB of weights read`,
      );
    } finally {
      ctx.destroy();
    }
  },
};
export default encode;
