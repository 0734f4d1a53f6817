// umT5's tokenizer as Wan2.1 calls it: HuggingfaceTokenizer(seq_len=512, clean='whitespace') over
// google/umt5-xxl, i.e. the prompt cleaned (clean.ts), segmented by SentencePiece (the model's
// `spiece.model`: normalizer.ts, unigram.ts), cut to maxLength − 1 ids and EOS appended (Hugging Face's
// T5 tokenizer with truncation=True, max_length=512, add_special_tokens=True). As in Hugging Face, the
// text of a special token ("</s>", "<pad>", "<unk>", and those tokenizer_config.json adds) stands for
// its id, and the text between is tokenized piece by piece. Padding to 512 and the attention mask are
// the encoder's business: the mask is 1 for exactly these ids. Browser-safe.

import type { ModelFolder } from '../../weights/folder.ts';
import { cleanPrompt } from './clean.ts';
import { Normalizer } from './normalizer.ts';
import { parseSentencePieceModel, type SentencePieceModel } from './sentencepiece-model.ts';
import { UnigramModel } from './unigram.ts';

export interface TextTokenizer {
  /** Ids of the cleaned text, then EOS; at most maxLength ids in all. */
  encode(text: string): number[];
}

export interface Umt5TokenizerOptions {
  /** Ids per prompt including EOS (Wan: 512). */
  maxLength?: number;
}

const utf8 = new TextEncoder();

/** SentencePiece alone (SentencePieceProcessor.encode): no cleaning, no EOS, no truncation. */
export class SentencePieceTokenizer {
  private readonly normalizer: Normalizer;
  readonly model: UnigramModel;

  constructor(
    readonly proto: SentencePieceModel,
    what = 'spiece.model',
  ) {
    this.model = new UnigramModel(proto, what);
    this.normalizer = new Normalizer(proto.normalizer, proto.trainer.treatWhitespaceAsSuffix, this.model.userDefinedMatcher, what);
  }

  static fromBytes(bytes: Uint8Array, what = 'spiece.model'): SentencePieceTokenizer {
    return new SentencePieceTokenizer(parseSentencePieceModel(bytes, what), what);
  }

  /** The normalized text, spaces shown as U+2581 (for debugging). */
  normalize(text: string): string {
    return new TextDecoder().decode(this.normalizer.normalize(utf8.encode(text)));
  }

  encode(text: string): number[] {
    return this.model.encode(this.normalizer.normalize(utf8.encode(text)));
  }
}

/** Special tokens beyond the tokenizer model's own, as tokenizer_config.json declares them. */
export interface SpecialTokenOptions {
  eosToken?: string;
  padToken?: string;
  unkToken?: string;
  /** More special tokens by text; their ids come from `addedTokenIds` or the SentencePiece model. */
  additionalSpecialTokens?: string[];
  addedTokenIds?: Map<string, number>;
}

export class Umt5Tokenizer implements TextTokenizer {
  readonly eosId: number;
  /** The id that pads a prompt to maxLength (umT5: 0). */
  readonly padId: number;
  readonly maxLength: number;
  /** Special tokens by their text, longest first (the order they are matched in). */
  readonly specialTokens: [string, number][];

  constructor(
    readonly pieces: SentencePieceTokenizer,
    options: Umt5TokenizerOptions & SpecialTokenOptions = {},
  ) {
    const maxLength = options.maxLength ?? 512;
    if (!Number.isInteger(maxLength) || maxLength < 1) throw new Error(`tokenizer: maxLength must be a positive integer, got ${maxLength}`);
    this.maxLength = maxLength;
    const idOf = (token: string, fallback: number, role: string) => {
      const id = pieces.model.pieceId(token) ?? fallback;
      if (!(id >= 0 && id < pieces.model.size)) throw new Error(`tokenizer: the model has no ${role} token ("${token}")`);
      return id;
    };
    // Hugging Face looks the special tokens up by text; the trainer's ids are the fallback.
    this.eosId = idOf(options.eosToken ?? '</s>', pieces.proto.trainer.eosId, 'end-of-sequence');
    this.padId = idOf(options.padToken ?? '<pad>', pieces.proto.trainer.padId, 'padding');
    const unkToken = options.unkToken ?? '<unk>';
    const special = new Map<string, number>([
      [options.eosToken ?? '</s>', this.eosId],
      [options.padToken ?? '<pad>', this.padId],
      [unkToken, idOf(unkToken, pieces.model.unkId, 'unknown')],
    ]);
    for (const [text, id] of options.addedTokenIds ?? []) special.set(text, id);
    for (const text of options.additionalSpecialTokens ?? []) {
      const id = options.addedTokenIds?.get(text) ?? pieces.model.pieceId(text);
      if (id === undefined) throw new Error(`tokenizer: special token "${text}" has no id (not in tokenizer_config.json's added tokens nor in spiece.model)`);
      special.set(text, id);
    }
    this.specialTokens = [...special].filter(([text]) => text !== '').sort((a, b) => b[0].length - a[0].length);
  }

  /** The text cut at special tokens: strings to segment, and ids that stand for themselves. */
  private splitSpecial(text: string): (string | number)[] {
    const parts: (string | number)[] = [];
    let from = 0;
    for (let i = 0; i < text.length; ) {
      // Leftmost, then longest (Hugging Face's added-token matcher).
      const match = this.specialTokens.find(([t]) => text.startsWith(t, i));
      if (!match) {
        i++;
        continue;
      }
      if (i > from) parts.push(text.slice(from, i));
      parts.push(match[1]);
      i += match[0].length;
      from = i;
    }
    if (from < text.length) parts.push(text.slice(from));
    return parts;
  }

  get vocabSize(): number {
    return this.pieces.model.size;
  }

  encode(text: string): number[] {
    if (typeof text !== 'string') throw new TypeError(`tokenizer: the prompt must be a string, got ${typeof text}`);
    const ids = this.splitSpecial(cleanPrompt(text)).flatMap((part) => (typeof part === 'number' ? [part] : this.pieces.encode(part)));
    ids.length = Math.min(ids.length, this.maxLength - 1);
    ids.push(this.eosId);
    return ids;
  }
}

/** A special token in tokenizer_config.json: a string or an AddedToken object. */
function tokenText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') return (value as { content: string }).content;
  return undefined;
}

async function readFolder(folder: ModelFolder): Promise<{ bytes: Uint8Array; what: string; config: Record<string, unknown> }> {
  // The tokenizer folder itself, or a diffusers model folder holding tokenizer/.
  for (const prefix of ['', 'tokenizer/']) {
    const source = await folder.open(`${prefix}spiece.model`);
    if (!source) continue;
    const configText = await folder.readText(`${prefix}tokenizer_config.json`);
    let config: Record<string, unknown> = {};
    if (configText !== undefined) {
      try {
        config = JSON.parse(configText) as Record<string, unknown>;
      } catch (e) {
        throw new Error(`${folder.name}: ${prefix}tokenizer_config.json is not valid JSON (${(e as Error).message})`, { cause: e });
      }
    }
    return { bytes: await source.read(0, source.size), what: `${folder.name}/${prefix}spiece.model`, config };
  }
  const hasJson = (await folder.open('tokenizer.json')) ?? (await folder.open('tokenizer/tokenizer.json'));
  throw new Error(
    `${folder.name}: no spiece.model (looked in the folder and in tokenizer/)` +
      (hasJson ? '; it has tokenizer.json, which webdit does not read: add the SentencePiece model spiece.model beside it' : ''),
  );
}

/**
 * umT5's tokenizer from a tokenizer folder (spiece.model, optionally tokenizer_config.json for the
 * special tokens), a diffusers model folder with tokenizer/, or the bytes of spiece.model.
 */
export async function loadUmt5Tokenizer(source: ModelFolder | Uint8Array | ArrayBuffer, options: Umt5TokenizerOptions = {}): Promise<Umt5Tokenizer> {
  if (source instanceof Uint8Array || source instanceof ArrayBuffer) {
    const bytes = source instanceof Uint8Array ? source : new Uint8Array(source);
    return new Umt5Tokenizer(SentencePieceTokenizer.fromBytes(bytes), options);
  }
  const { bytes, what, config } = await readFolder(source);
  // Newer configs list every added token by id ("added_tokens_decoder"); older ones name the extras.
  const addedTokenIds = new Map<string, number>();
  const decoder = config.added_tokens_decoder;
  if (decoder && typeof decoder === 'object') {
    for (const [id, token] of Object.entries(decoder as Record<string, unknown>)) {
      const text = tokenText(token);
      if (text !== undefined && /^\d+$/.test(id)) addedTokenIds.set(text, Number(id));
    }
  }
  const additional = Array.isArray(config.additional_special_tokens) ? config.additional_special_tokens.map(tokenText).filter((t) => t !== undefined) : [];
  return new Umt5Tokenizer(SentencePieceTokenizer.fromBytes(bytes, what), {
    ...options,
    eosToken: tokenText(config.eos_token),
    padToken: tokenText(config.pad_token),
    unkToken: tokenText(config.unk_token),
    additionalSpecialTokens: additional,
    addedTokenIds,
  });
}
