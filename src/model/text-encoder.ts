// webdit's word-embedding text encoder (the shipped toy model's): a prompt becomes
// encoder_hidden_states[i] = token_embedding[id_i] + position_embedding[i] for its n words; the model
// zero-pads the rest to text_len, as Wan pads umT5's output. Tiny, so it runs on the host.

import type { ModelFolder } from '../weights/folder.ts';
import { openSafetensors, readTensor } from '../weights/safetensors.ts';

export interface PromptEmbedding {
  data: Float32Array;
  rows: number;
}

/** Lowercase, split on anything but letters a–z (the same rule as the training script). */
export function tokenizeWords(text: string): string[] {
  return text.toLowerCase().split(/[^a-z]+/).filter((w) => w.length > 0);
}

export class WordTextEncoder {
  private readonly index = new Map<string, number>();

  constructor(
    readonly vocab: string[],
    readonly tokenEmbedding: Float32Array, // [V, textDim]
    readonly positionEmbedding: Float32Array, // [textLen, textDim]
    readonly textDim: number,
    readonly textLen: number,
  ) {
    vocab.forEach((w, i) => this.index.set(w, i));
    if (tokenEmbedding.length !== vocab.length * textDim) throw new Error(`token_embedding has ${tokenEmbedding.length} values for ${vocab.length} words × ${textDim}`);
    if (positionEmbedding.length !== textLen * textDim) throw new Error(`position_embedding has ${positionEmbedding.length} values for ${textLen} × ${textDim}`);
  }

  /** Loads `vocab.json` and `model.safetensors` from a text_encoder folder. */
  static async load(folder: ModelFolder): Promise<WordTextEncoder> {
    const vocabText = await folder.readText('vocab.json');
    if (vocabText === undefined) throw new Error(`${folder.name}: no vocab.json`);
    const vocab = JSON.parse(vocabText) as unknown;
    if (!Array.isArray(vocab) || !vocab.every((w) => typeof w === 'string')) throw new Error(`${folder.name}/vocab.json must be a list of words`);
    const source = await folder.open('model.safetensors');
    if (!source) throw new Error(`${folder.name}: no model.safetensors`);
    const file = await openSafetensors(source);
    const tok = file.tensors.get('token_embedding.weight');
    const pos = file.tensors.get('position_embedding.weight');
    if (!tok || !pos) throw new Error(`${folder.name}/model.safetensors needs token_embedding.weight and position_embedding.weight`);
    if (tok.shape.length !== 2 || pos.shape.length !== 2 || tok.shape[1] !== pos.shape[1]) {
      throw new Error(`${folder.name}: embeddings must be [V, D] and [text_len, D], got [${tok.shape}] and [${pos.shape}]`);
    }
    if (tok.shape[0] !== vocab.length) throw new Error(`${folder.name}: vocab.json has ${vocab.length} words, token_embedding ${tok.shape[0]} rows`);
    return new WordTextEncoder(vocab, await readTensor(file, tok.name), await readTensor(file, pos.name), tok.shape[1], pos.shape[0]);
  }

  /** Word ids of a prompt (unknown words → 1, "<unk>"), cut to the text length. */
  tokenize(prompt: string): { ids: number[]; unknown: string[] } {
    const words = tokenizeWords(prompt).slice(0, this.textLen);
    const unknown = words.filter((w) => !this.index.has(w));
    return { ids: words.map((w) => this.index.get(w) ?? 1), unknown };
  }

  encode(prompt: string): PromptEmbedding {
    const { ids } = this.tokenize(prompt);
    const d = this.textDim;
    const data = new Float32Array(ids.length * d);
    ids.forEach((id, i) => {
      for (let c = 0; c < d; c++) data[i * d + c] = this.tokenEmbedding[id * d + c] + this.positionEmbedding[i * d + c];
    });
    return { data, rows: ids.length };
  }
}

/**
 * "warning: …" naming the prompt's words a closed-vocabulary encoder does not know (they would become
 * <unk>) and listing the words it does know; undefined when every word is known.
 */
export function unknownWordsWarning(encoder: WordTextEncoder, prompt: string, maxListed = 80): string | undefined {
  const { unknown } = encoder.tokenize(prompt);
  if (!unknown.length) return undefined;
  const known = encoder.vocab.filter((w) => !/^<.*>$/.test(w));
  const listed = known.slice(0, maxListed).join(' ') + (known.length > maxListed ? ` … (${known.length} in all)` : '');
  const words = [...new Set(unknown)].map((u) => `"${u}"`).join(', ');
  return `warning: the model does not know ${words} (they become <unk>); it knows: ${listed}`;
}
