// Stored prompt embeddings: a repeated prompt skips the text encoder (umT5-XXL reads 11 GB of weights
// per prompt). The key is a hash of the encoder's fingerprint (config, tokenizer and weights: see
// Umt5PromptEncoder.fingerprint), the prompt and negative texts and the text length. An entry keeps
// only the rows the text fills (diffusers zero-pads to 512 rows: a 20-token prompt of umT5-XXL is
// 320 KiB instead of 8 MiB). The browser's store is IndexedDB (src/ui/prompt-store.ts); here the
// interface and an in-memory store.

import type { PromptEmbedding } from '../model/text-encoder.ts';
import { sha256Hex } from '../weights/store-sha256.ts';

/** One text's embedding: its first `rows` rows of width `width`; the rest of text_len rows are zero. */
export interface StoredEmbedding {
  rows: number;
  width: number;
  data: Float32Array;
}

/** What one encoder pass gives: the first text's rows and, when encoded with it, the second's. */
export interface StoredPromptPair {
  prompt: StoredEmbedding;
  negative?: StoredEmbedding;
}

/** Where encoded prompts are kept between generations (and page loads, in the browser). */
export interface PromptEmbeddingStore {
  get(key: string): Promise<StoredPromptPair | undefined>;
  put(key: string, value: StoredPromptPair): Promise<void>;
}

/** The store key of one encoder pass over `prompt` (and `negative`, when encoded with it) at `textLen` rows. */
export function promptStoreKey(encoderFingerprint: string, prompt: string, negative: string | undefined, textLen: number): Promise<string> {
  return sha256Hex(JSON.stringify({ encoder: encoderFingerprint, prompt, negative: negative ?? null, textLen }));
}

/** The first `rows` rows of a padded embedding, as stored. */
export function storedRows(embedding: PromptEmbedding, rows: number, width: number): StoredEmbedding {
  if (rows > embedding.rows) throw new Error(`prompt store: ${rows} rows asked of an embedding of ${embedding.rows}`);
  return { rows, width, data: embedding.data.slice(0, rows * width) };
}

/**
 * A stored embedding zero-padded back to `textLen` rows, or undefined where it cannot be this
 * encoder's output (another width, too many rows, values missing or not finite): then it is encoded again.
 */
export function paddedEmbedding(stored: StoredEmbedding | undefined, width: number, textLen: number): PromptEmbedding | undefined {
  if (!stored || !(stored.data instanceof Float32Array) || stored.width !== width) return undefined;
  if (!Number.isInteger(stored.rows) || stored.rows < 0 || stored.rows > textLen || stored.data.length !== stored.rows * width) return undefined;
  if (!stored.data.every(Number.isFinite)) return undefined;
  const data = new Float32Array(textLen * width);
  data.set(stored.data);
  return { data, rows: textLen };
}

/** Bytes an entry takes (its floats). */
export function storedBytes(value: StoredPromptPair): number {
  return value.prompt.data.byteLength + (value.negative?.data.byteLength ?? 0);
}

/** 256 MiB: 32 umT5-XXL prompts even at the full 512 rows, hundreds at ordinary lengths. */
export const DEFAULT_PROMPT_STORE_BYTES = 256 * 1024 * 1024;

/** Prompt embeddings in memory, least recently used dropped first past `maxBytes`. */
export class MemoryPromptStore implements PromptEmbeddingStore {
  private readonly entries = new Map<string, StoredPromptPair>();
  private bytes = 0;

  constructor(readonly maxBytes = DEFAULT_PROMPT_STORE_BYTES) {}

  get size(): number {
    return this.entries.size;
  }

  get storedBytes(): number {
    return this.bytes;
  }

  async get(key: string): Promise<StoredPromptPair | undefined> {
    const value = this.entries.get(key);
    if (value) {
      this.entries.delete(key); // re-inserted: the Map's order is the recency order
      this.entries.set(key, value);
    }
    return value;
  }

  async put(key: string, value: StoredPromptPair): Promise<void> {
    const size = storedBytes(value);
    if (size > this.maxBytes) return; // larger than the whole store: not kept
    const old = this.entries.get(key);
    if (old) {
      this.entries.delete(key);
      this.bytes -= storedBytes(old);
    }
    this.entries.set(key, value);
    this.bytes += size;
    for (const [k, v] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(k);
      this.bytes -= storedBytes(v);
    }
  }
}
