// The umT5 encoder (Wan2.1's text encoder, wan/modules/t5.py's T5Encoder with a relative position bias
// in every layer), streamed: the weights are never resident. Only the real tokens are computed
// (several prompts packed one after another, each attending to its own tokens only), only their
// embedding rows are read, and each layer's weights are uploaded, used and released in two halves
// (attention, then FFN), so the GPU holds at most the larger half plus the token states. Per layer:
//   x = x + o(attention(rms(x)·norm1))          attention: no 1/√d, + relative position bias
//   x = x + wo(gelu_tanh(wi_0(h)) · wi_1(h))     h = rms(x)·norm2
// and a final RMS norm. Activations are f32; matmul weights stay as stored (f32, f16, bf16, or fp8 / int8 /
// int4 codes that the matmul decodes: weights/linear-weight.ts).

import type { GpuContext } from '../../gpu/context.ts';
import type { Tensor } from '../../gpu/tensor.ts';
import { matmul } from '../../gpu/kernels/matmul.ts';
import { multiply } from '../../gpu/kernels/multiply.ts';
import { relativeAttention } from '../../gpu/kernels/attention-relative.ts';
import { rmsNorm } from '../../gpu/kernels/rms-norm.ts';
import { loadTensors, type Checkpoint } from '../../weights/checkpoint.ts';
import { loadLinearWeight, readFp8Scale } from '../../weights/linear-weight.ts';
import type { LinearWeight } from '../../gpu/kernels/matmul.ts';
import { tensorByteLength, widenToFloat32, DTYPE_BYTES } from '../../weights/safetensors.ts';
import type { Umt5Config } from './config.ts';
import { positionBiasTable } from './buckets.ts';
import { EMBEDDING, FINAL_NORM, layerNames } from './keys.ts';

export interface EncodeOptions {
  signal?: AbortSignal;
  /** Called after each layer (0-based) has run. */
  onLayer?: (layer: number, layers: number) => void;
}

/** What one `encode` call used, measured. */
export interface EncodeStats {
  tokens: number;
  /** Most bytes of GPU buffers this call held at once (its live tensors and the pool's free buffers). */
  peakGpuBytes: number;
  /** Bytes of weights read from the checkpoint (embedding rows included). */
  bytesRead: number;
}

export class Umt5Encoder {
  /** Filled by each `encode`. */
  lastStats: EncodeStats | undefined;
  /** Checkpoint bytes read by the running `encode`. */
  private bytesRead = 0;

  /**
   * `names`: canonical name → checkpoint name (keys.ts' canonicalNameMap), already checked against
   * the config's shapes by the loader.
   */
  constructor(
    private readonly ctx: GpuContext,
    readonly config: Umt5Config,
    private readonly checkpoint: Checkpoint,
    private readonly names: Map<string, string>,
  ) {}

  private entry(canonical: string) {
    const name = this.names.get(canonical);
    const entry = name === undefined ? undefined : this.checkpoint.tensors.get(name);
    if (!entry) throw new Error(`umT5 checkpoint has no tensor for "${canonical}"`);
    return entry;
  }

  /** A small tensor read to the host as f32. */
  private async readSmall(canonical: string, signal?: AbortSignal): Promise<Float32Array> {
    const { file, info } = this.entry(canonical);
    const bytes = await file.source.read(info.begin, tensorByteLength(info), signal);
    this.bytesRead += bytes.byteLength;
    return widenToFloat32(bytes, info.dtype);
  }

  /** The embedding rows of `ids`, [ids.length, d_model] f32: each distinct row read once, by a range read. */
  private async embed(ids: number[], signal?: AbortSignal): Promise<Float32Array> {
    const { file, info } = this.entry(EMBEDDING);
    const d = this.config.dModel;
    const rowBytes = d * DTYPE_BYTES[info.dtype];
    const rows = new Map<number, Float32Array>();
    for (const id of [...new Set(ids)].sort((a, b) => a - b)) {
      signal?.throwIfAborted();
      const bytes = await file.source.read(info.begin + id * rowBytes, rowBytes, signal);
      this.bytesRead += rowBytes;
      rows.set(id, widenToFloat32(bytes, info.dtype));
    }
    // An fp8 table (scaled-fp8 single files) carries its scale beside it, as a Linear weight does.
    if (info.dtype === 'F8_E4M3') {
      const scale = await readFp8Scale(this.checkpoint, this.names.get(EMBEDDING)!.replace(/\.weight$/, ''));
      if (scale !== 1) for (const row of rows.values()) for (let i = 0; i < row.length; i++) row[i] *= scale;
    }
    const x = new Float32Array(ids.length * d);
    ids.forEach((id, i) => x.set(rows.get(id)!, i * d));
    return x;
  }

  private checkIds(sequences: readonly (readonly number[])[]): void {
    if (sequences.length === 0) throw new Error('umT5 encode: no sequences given');
    sequences.forEach((ids, s) => {
      if (ids.length === 0) throw new Error(`umT5 encode: sequence ${s} has no tokens (a tokenized prompt holds at least its EOS)`);
      for (const id of ids) {
        if (!Number.isInteger(id) || id < 0 || id >= this.config.vocabSize) {
          throw new Error(`umT5 encode: sequence ${s} has token id ${id}, outside the vocabulary [0, ${this.config.vocabSize})`);
        }
      }
    });
  }

  /**
   * Encodes token id sequences together (e.g. a prompt and its negative): each result is
   * [ids.length, d_model] f32, row-major, exactly what the reference gives for those rows of a
   * padded batch with its mask.
   */
  async encode(sequences: readonly (readonly number[])[], options: EncodeOptions = {}): Promise<Float32Array[]> {
    this.checkIds(sequences);
    const { ctx, config } = this;
    const { signal } = options;
    const heads = config.numHeads;
    const lengths = sequences.map((s) => s.length);
    const count = lengths.reduce((a, b) => a + b, 0);
    const span = Math.max(...lengths);
    this.bytesRead = 0;
    // Start from an empty pool, and give back what this call leaves there: the halves of a layer
    // differ in size, so pooled buffers of one would sit beside the other.
    ctx.trimPool();
    const baseline = ctx.liveBytes; // tensors of others (e.g. a loaded transformer) are not ours to count
    let peakGpuBytes = 0;
    const notePeak = () => (peakGpuBytes = Math.max(peakGpuBytes, ctx.liveBytes + ctx.pooledBytes - baseline));

    const tokenTable = new Uint32Array(2 * count);
    let at = 0;
    lengths.forEach((length, s) => {
      for (let p = 0; p < length; p++, at++) tokenTable.set([s, p], 2 * at);
    });
    const owned: Tensor[] = [];
    const keep = <T extends Tensor>(t: T): T => (owned.push(t), t);
    let x = ctx.upload(await this.embed(sequences.flat(), signal), [count, config.dModel], 'f32', 'umt5 embeddings');
    try {
      const tokens = keep(ctx.upload(tokenTable, [count, 2], 'u32', 'umt5 tokens'));
      for (let layer = 0; layer < config.numLayers; layer++) {
        signal?.throwIfAborted();
        const n = layerNames(layer);
        const bias = ctx.upload(
          positionBiasTable(await this.readSmall(n.positionBias, signal), config.numBuckets, heads, config.maxDistance, span),
          [heads, 2 * span - 1],
          'f32',
          `umt5 ${layer} position bias`,
        );
        const attnWeights = await this.load([n.norm1, n.q, n.k, n.v, n.o], signal);
        const h = rmsNorm(ctx, x, attnWeights.get(n.norm1) as Tensor, config.eps);
        const q = matmul(ctx, h, attnWeights.get(n.q)!);
        const k = matmul(ctx, h, attnWeights.get(n.k)!);
        const v = matmul(ctx, h, attnWeights.get(n.v)!);
        const attended = relativeAttention(ctx, q, k, v, bias, tokens, heads, { scale: 1 });
        const afterAttention = matmul(ctx, attended, attnWeights.get(n.o)!, { residual: x });
        notePeak(); // the most this half holds: nothing is released before its end
        for (const t of [h, q, k, v, attended, bias, x, ...attnWeights.values()]) t.release();
        x = afterAttention;
        await this.releaseHalf();

        const ffnWeights = await this.load([n.norm2, n.wi0, n.wi1, n.wo], signal);
        const h2 = rmsNorm(ctx, x, ffnWeights.get(n.norm2) as Tensor, config.eps);
        const gate = matmul(ctx, h2, ffnWeights.get(n.wi0)!, { activation: 'gelu_tanh' });
        const linear = matmul(ctx, h2, ffnWeights.get(n.wi1)!);
        const hidden = multiply(ctx, gate, linear);
        const afterFfn = matmul(ctx, hidden, ffnWeights.get(n.wo)!, { residual: x });
        notePeak();
        for (const t of [h2, gate, linear, hidden, x, ...ffnWeights.values()]) t.release();
        x = afterFfn;
        await this.releaseHalf();
        options.onLayer?.(layer, config.numLayers);
      }
      const finalNorm = keep(ctx.upload(await this.readSmall(FINAL_NORM, signal), [config.dModel], 'f32', 'umt5 final norm'));
      const y = keep(rmsNorm(ctx, x, finalNorm, config.eps));
      notePeak();
      const out = await ctx.read(y);
      const results: Float32Array[] = [];
      let row = 0;
      for (const length of lengths) {
        results.push(out.slice(row * config.dModel, (row + length) * config.dModel));
        row += length;
      }
      this.lastStats = { tokens: count, peakGpuBytes, bytesRead: this.bytesRead };
      return results;
    } finally {
      x.release();
      for (const t of owned) t.release();
      ctx.trimPool();
    }
  }

  /** Norm weights widened to f32 (the norm kernel reads f32); matmul weights as stored, quantized codes included. */
  private async load(canonical: string[], signal?: AbortSignal): Promise<Map<string, LinearWeight>> {
    const norms = canonical.filter((c) => this.entry(c).info.shape.length === 1);
    const byCheckpointName = new Map(norms.map((c) => [this.names.get(c)!, c]));
    const out = new Map<string, LinearWeight>();
    try {
      const loaded = await loadTensors(this.ctx, this.checkpoint, byCheckpointName.keys(), { widenToF32: () => true, signal });
      for (const [name, t] of loaded) out.set(byCheckpointName.get(name)!, t);
      for (const c of canonical.filter((n) => !norms.includes(n))) {
        out.set(c, await loadLinearWeight(this.ctx, this.checkpoint, this.names.get(c)!.replace(/\.weight$/, ''), { signal }));
      }
    } catch (e) {
      for (const t of out.values()) t.release();
      throw e;
    }
    for (const c of canonical) {
      const name = this.names.get(c)!;
      for (const companion of [name, ...[...this.checkpoint.tensors.keys()].filter((k) => k.startsWith(name) && k !== name)]) {
        this.bytesRead += tensorByteLength(this.checkpoint.tensors.get(companion)!.info);
      }
    }
    return out;
  }

  /** Waits for the half's dispatches, then frees the pool so the next half's weights take its place. */
  private async releaseHalf(): Promise<void> {
    await this.ctx.sync();
    this.ctx.trimPool();
  }
}
