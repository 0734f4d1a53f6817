// The text stage of a Wan2.1 bundle: umT5's tokenizer, then the umT5 encoder streamed layer by layer
// (its weights are read, used and released per layer, so nothing of it stays on the GPU after a
// prompt), output zero-padded to text_len rows as diffusers' WanPipeline pads it.

import type { GpuContext } from '../gpu/context.ts';
import type { ModelFolder } from '../weights/folder.ts';
import type { ByteSource } from '../weights/source.ts';
import { openCheckpoint, openCheckpointFile, type Checkpoint } from '../weights/checkpoint.ts';
import { checkpointFingerprint } from '../weights/fingerprint.ts';
import { sha256Hex } from '../weights/store-sha256.ts';
import type { PromptEmbedding } from '../model/text-encoder.ts';
import { loadUmt5Tokenizer, type Umt5Tokenizer } from '../model/text/tokenizer.ts';
import { parseUmt5Config, type Umt5Config } from '../model/umt5/config.ts';
import { inferUmt5Config, loadUmt5Encoder, type Umt5Location } from '../model/umt5/load.ts';
import { encodePromptEmbeds } from '../model/umt5/prompt-embeds.ts';

/** Wan2.1's default unconditional prompt (`sample_neg_prompt` in wan/configs/shared_config.py). */
export const WAN_NEGATIVE_PROMPT =
  '色调艳丽，过曝，静态，细节模糊不清，字幕，风格，作品，画作，画面，静止，整体发灰，最差质量，低质量，JPEG压缩残留，丑陋的，残缺的，多余的手指，画得不好的手部，画得不好的脸部，畸形的，毁容的，形态畸形的肢体，手指融合，静止不动的画面，杂乱的背景，三条腿，背景人很多，倒着走';

export interface PromptPair {
  prompt: PromptEmbedding;
  negative?: PromptEmbedding;
}

export interface Umt5PromptEncoderOptions {
  signal?: AbortSignal;
  onLayer?: (layer: number, layers: number) => void;
}

/** Bumped when what the fingerprint covers changes, so older stored embeddings miss. */
const FINGERPRINT_FORMAT = 1;

/** Tokenizer + umT5 config of a model folder or a single file; the encoder's weights are opened per call. */
export class Umt5PromptEncoder {
  private fingerprintPromise: Promise<string> | undefined;

  constructor(
    readonly tokenizer: Umt5Tokenizer,
    readonly config: Umt5Config,
    private readonly weights: Umt5Location,
    /** The tokenizer's files (spiece.model, tokenizer_config.json), read only for the fingerprint. */
    private readonly tokenizerFiles: () => Promise<(Uint8Array | string)[]>,
  ) {}

  /** Reads `tokenizer/` and `text_encoder/config.json` (no weights). */
  static async load(tokenizerFolder: ModelFolder, encoderFolder: ModelFolder): Promise<Umt5PromptEncoder> {
    const configText = await encoderFolder.readText('config.json');
    if (configText === undefined) throw new Error(`${encoderFolder.name}: no config.json (a UMT5EncoderModel config)`);
    let json: unknown;
    try {
      json = JSON.parse(configText);
    } catch (e) {
      throw new Error(`${encoderFolder.name}/config.json: invalid JSON (${(e as Error).message})`);
    }
    const config = parseUmt5Config(json, `${encoderFolder.name}/config.json`);
    const tokenizer = await loadUmt5Tokenizer(tokenizerFolder);
    const files = async () => {
      const spiece = await tokenizerFolder.open('spiece.model');
      return [spiece ? await spiece.read(0, spiece.size) : new Uint8Array(0), (await tokenizerFolder.readText('tokenizer_config.json')) ?? ''];
    };
    return new Umt5PromptEncoder(tokenizer, config, { folder: encoderFolder }, files);
  }

  /** A single umT5 file (Hugging Face or Wan's original names, f32/bf16/fp16/fp8; config from its shapes) and spiece.model's bytes. */
  static async fromFiles(spieceModel: Uint8Array, encoderFile: ByteSource): Promise<Umt5PromptEncoder> {
    const checkpoint = await openCheckpointFile(encoderFile);
    const config = inferUmt5Config(checkpoint, encoderFile.name);
    const tokenizer = await loadUmt5Tokenizer(spieceModel);
    return new Umt5PromptEncoder(tokenizer, config, { file: encoderFile, config }, async () => [spieceModel, '']);
  }

  /**
   * Identifies this encoder's output: its config, its tokenizer's files and its weights (headers and
   * sampled bytes, src/weights/fingerprint.ts), not where they were loaded from. Computed once.
   */
  fingerprint(signal?: AbortSignal): Promise<string> {
    const compute = async () => {
      const checkpoint: Checkpoint = 'folder' in this.weights ? await openCheckpoint(this.weights.folder, 'model') : await openCheckpointFile(this.weights.file);
      const weights = await checkpointFingerprint(checkpoint, signal);
      const tokenizer = await hashParts(await this.tokenizerFiles());
      return sha256Hex(JSON.stringify({ format: FINGERPRINT_FORMAT, config: this.config, tokenizer, weights }));
    };
    const pending = (this.fingerprintPromise ??= compute());
    pending.catch(() => {
      if (this.fingerprintPromise === pending) this.fingerprintPromise = undefined; // an aborted read is retried next time
    });
    return pending;
  }

  /** Rows of the encoder's output that hold the text (its tokens, EOS included); the rest are zero padding. */
  tokenCount(text: string, textLen: number): number {
    return Math.min(this.tokenizer.encode(text).length, textLen);
  }

  /** Prompt (and negative) → [textLen, d_model] rows each, in one streamed pass over the layers. */
  async encode(ctx: GpuContext, prompt: string, negative: string | undefined, textLen: number, options: Umt5PromptEncoderOptions = {}): Promise<PromptPair> {
    const ids = this.tokenizer.encode(prompt);
    const negativeIds = negative === undefined ? undefined : this.tokenizer.encode(negative);
    const encoder = await loadUmt5Encoder(ctx, this.weights);
    const embeds = await encodePromptEmbeds(encoder, ids, negativeIds, { textLength: textLen, signal: options.signal, onLayer: options.onLayer });
    return {
      prompt: { data: embeds.promptEmbeds, rows: textLen },
      negative: embeds.negativePromptEmbeds ? { data: embeds.negativePromptEmbeds, rows: textLen } : undefined,
    };
  }
}

async function hashParts(parts: (Uint8Array | string)[]): Promise<string> {
  return sha256Hex(JSON.stringify(await Promise.all(parts.map((p) => sha256Hex(p)))));
}
