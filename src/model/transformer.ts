// The Wan2.1 text-to-video transformer (WanTransformer3DModel), batch 1, on webdit's kernels.
// Reads top to bottom like upstream's forward: patch embedding → condition embedder → blocks → head.
// The block loop is exposed (`embed`, `runBlock`, `head`, and the `runBlocks` hook of `forward`) so
// a cache can run, skip or replace blocks; this file knows nothing of caching policies.

import type { GpuContext } from '../gpu/context.ts';
import type { Tensor } from '../gpu/tensor.ts';
import { matmul, VECTOR_ROWS } from '../gpu/kernels/matmul.ts';
import { attention } from '../gpu/kernels/attention.ts';
import { rope } from '../gpu/kernels/rope.ts';
import { layerNorm } from '../gpu/kernels/layer-norm.ts';
import { rmsNorm } from '../gpu/kernels/rms-norm.ts';
import { add } from '../gpu/kernels/add.ts';
import { unary } from '../gpu/kernels/unary.ts';
import { patchify, unpatchify } from '../gpu/kernels/patchify.ts';
import { copyColumns } from '../gpu/kernels/copy-columns.ts';
import { linearCombination } from '../gpu/kernels/linear-combination.ts';
import { ropeTables } from './rope-tables.ts';
import type { WanConfig } from './config.ts';

/** Weights by diffusers name (matmul weights f32/f16/bf16; the rest f32). */
export type WanWeights = Map<string, Tensor>;

/** Per-step inputs shared by every block: the embedded timestep and the token grid. */
export interface StepState {
  /** Latent-token grid [F', H', W']. */
  grid: [number, number, number];
  timestep: number;
  /** time_embedder output [1, dim]. */
  temb: Tensor;
  /** time_proj(SiLU(temb)) [1, 6·dim]: the six modulation rows before each block's table is added. */
  timestepProj: Tensor;
  /** RoPE tables [L, headDim/2] for the grid (owned by the model's table cache). */
  rope: { cos: Tensor; sin: Tensor };
  /** Per block, its six modulation rows at this step: made on first use and shared by the CFG branches. */
  modulations: (Tensor | undefined)[];
  /** The head's shift and scale rows at this step (shared by the branches likewise). */
  headModulation?: Tensor;
  /** temb, timestepProj and headModulation belong to a timestep table (not released with the step). */
  borrowedTimeEmbedding?: boolean;
}

/** The prompt after the text embedder, with each block's cross-attention keys and values. */
export interface TextState {
  /** [textLen, dim] */
  context: Tensor;
  crossKV: ({ k: Tensor; v: Tensor } | undefined)[];
  dispose(): void;
}

/** Runs the block stack on the embedded tokens; the default runs every block in order. */
export type BlockStackRunner = (
  hidden: Tensor,
  runBlock: (index: number, hidden: Tensor) => Tensor,
  step: StepState,
) => Tensor | Promise<Tensor>;

/**
 * Input channels that stay the same for a whole generation (a condition concatenated after the latents),
 * put through their columns of the patch embedding, bias included, once: each step then embeds only the
 * latents' columns and adds this. Owned by the caller (`release`).
 */
export interface FixedChannelsState {
  /** [tokens, dim] */
  embedding: Tensor;
  /** Channels the latents bring (the first ones of the model's input). */
  latentChannels: number;
  grid: [number, number, number];
  release(): void;
}

/**
 * The timestep embedding (temb [1, dim]) and its projection (timestep_proj [1, 6·dim]) of every step of a
 * schedule, made before sampling in a few batched products instead of three per step; a step borrows its
 * row's tensors. Owned by the caller (`release`).
 */
export interface TimestepTable {
  timesteps: readonly number[];
  /** Per step: temb, timestep_proj and the head's modulation rows (scale_shift_table + temb, [2, dim]). */
  rows: { temb: Tensor; proj: Tensor; head: Tensor }[];
  release(): void;
}

/** What a step shares beside the latents and timestep. */
export interface StepInputs {
  /** The schedule's timestep embeddings (see `embedTimesteps`); a timestep not in it is embedded as usual. */
  timesteps?: TimestepTable;
  /** The fixed channels' embedding (see `embedFixedChannels`); the latents then hold only their own channels. */
  fixed?: FixedChannelsState;
  /**
   * Classifier-free guidance over exactly two branches (conditional, unconditional): one velocity
   * uncond + g·(cond − uncond) instead of one per branch. The combination is taken on the head's
   * normalised tokens, before its projection and the unpatchify, which are affine with weights summing to 1
   * (so the same result, one projection instead of two).
   */
  guidance?: number;
}

export interface ForwardOptions {
  runBlocks?: BlockStackRunner;
  /** When given, receives copies of the golden-comparable intermediates (see test/golden/README.md). */
  intermediates?: Map<string, Tensor>;
}

/** Sinusoidal timestep embedding [cos | sin], computed in double precision as upstream does. */
export function timestepSinusoid(timestep: number, freqDim: number): Float32Array {
  const half = freqDim / 2;
  const out = new Float32Array(freqDim);
  for (let j = 0; j < half; j++) {
    const angle = timestep * Math.pow(10000, -j / half);
    out[j] = Math.cos(angle);
    out[half + j] = Math.sin(angle);
  }
  return out;
}

export class WanTransformer {
  private readonly ropeCache = new Map<string, { cos: Tensor; sin: Tensor }>();
  /** The patch embedding's weight split into the latents' columns and the fixed channels' (f32 weights only). */
  private patchSplit: { latentChannels: number; latent: Tensor; fixed: Tensor } | undefined;

  constructor(
    readonly ctx: GpuContext,
    readonly config: WanConfig,
    readonly weights: WanWeights,
  ) {}

  private w(name: string): Tensor {
    const t = this.weights.get(name);
    if (!t) throw new Error(this.weights.size ? `model weight ${name} is not loaded` : 'the transformer\'s weights were released: load them again (restoreWeights) before running it');
    return t;
  }

  /** Whether the weights are on the GPU (false after releaseWeights, until restoreWeights). */
  get weightsResident(): boolean {
    return this.weights.size > 0;
  }

  /** Frees the weights (e.g. for decoding, which does not need them); the model runs again after restoreWeights. */
  releaseWeights(): void {
    this.releasePatchSplit();
    for (const t of this.weights.values()) t.release();
    this.weights.clear();
  }

  /** Puts back weights loaded anew (the same names and shapes as released). */
  restoreWeights(weights: WanWeights): void {
    if (this.weights.size) throw new Error('restoreWeights: the transformer already holds its weights');
    for (const [name, t] of weights) this.weights.set(name, t);
  }

  private linear(x: Tensor, name: string, options: Parameters<typeof matmul>[3] = {}): Tensor {
    return matmul(this.ctx, x, this.w(`${name}.weight`), { bias: this.w(`${name}.bias`), ...options });
  }

  /** Token grid of a latent video [C, F, H, W] (C: the model's input channels, or `channels`). */
  gridOf(latents: Tensor, channels = this.config.inChannels): [number, number, number] {
    const [c, f, h, w] = latents.shape;
    const [pt, ph, pw] = this.config.patchSize;
    if (latents.shape.length !== 4 || c !== channels) {
      throw new Error(`latents must be [${channels}, F, H, W], got [${latents.shape.join(', ')}]`);
    }
    if (f % pt || h % ph || w % pw) throw new Error(`latent size ${f}×${h}×${w} is not a multiple of the patch ${pt}×${ph}×${pw}`);
    return [f / pt, h / ph, w / pw];
  }

  /** Zero-pads the prompt embedding [n, textDim] to textLen rows, then runs the text embedder. */
  encodeText(embeds: Float32Array, rows: number, textLen: number): TextState {
    const { textDim, numLayers } = this.config;
    if (embeds.length !== rows * textDim) throw new Error(`prompt embedding has ${embeds.length} values, expected ${rows} × ${textDim}`);
    if (rows > textLen) throw new Error(`prompt embedding has ${rows} tokens, more than the text length ${textLen}`);
    const padded = new Float32Array(textLen * textDim);
    padded.set(embeds);
    const input = this.ctx.upload(padded, [textLen, textDim], 'f32', 'text input');
    const h = this.linear(input, 'condition_embedder.text_embedder.linear_1', { activation: 'gelu_tanh' });
    const context = this.linear(h, 'condition_embedder.text_embedder.linear_2');
    input.release();
    h.release();
    const crossKV: TextState['crossKV'] = new Array(numLayers).fill(undefined);
    return {
      context,
      crossKV,
      dispose() {
        context.release();
        for (const kv of crossKV) {
          kv?.k.release();
          kv?.v.release();
        }
        crossKV.fill(undefined);
      },
    };
  }

  private ropeFor(grid: [number, number, number]): { cos: Tensor; sin: Tensor } {
    const key = grid.join('x');
    let tables = this.ropeCache.get(key);
    if (!tables) {
      const half = this.config.headDim / 2;
      const L = grid[0] * grid[1] * grid[2];
      const host = ropeTables(this.config.headDim, grid[0], grid[1], grid[2]);
      tables = {
        // Cached across runs: not freed with a failed run's intermediates.
        cos: this.ctx.keep(this.ctx.upload(host.cos, [L, half], 'f32', 'rope cos')),
        sin: this.ctx.keep(this.ctx.upload(host.sin, [L, half], 'f32', 'rope sin')),
      };
      this.ropeCache.set(key, tables);
    }
    return tables;
  }

  private releasePatchSplit(): void {
    this.patchSplit?.latent.release();
    this.patchSplit?.fixed.release();
    this.patchSplit = undefined;
  }

  /** The patch weight [dim, C·P] split at channel `latentChannels` (made once); undefined unless the weight is f32. */
  private splitPatchWeight(latentChannels: number): { latent: Tensor; fixed: Tensor } | undefined {
    const { patchSize, dim, inChannels } = this.config;
    const weight = this.w('patch_embedding.weight');
    if (weight.dtype !== 'f32') return undefined;
    if (this.patchSplit?.latentChannels !== latentChannels) {
      this.releasePatchSplit();
      const P = patchSize[0] * patchSize[1] * patchSize[2];
      const full = weight.reshape([dim, inChannels * P]);
      const columns = (start: number, count: number) => {
        const part = this.ctx.keep(this.ctx.empty([dim, count], 'f32', 'patch embedding columns'));
        copyColumns(this.ctx, full, { start, count }, part, { start: 0, count });
        return part;
      };
      this.patchSplit = { latentChannels, latent: columns(0, latentChannels * P), fixed: columns(latentChannels * P, (inChannels - latentChannels) * P) };
    }
    return this.patchSplit;
  }

  /**
   * Embeds input channels that stay fixed for a whole generation, [C_fixed, F, H, W] (they follow the
   * latents' channels in the model's input), through their columns of the patch embedding with its bias,
   * so that each step embeds only the latents' columns. Undefined where the patch weight is stored in
   * halves: the caller then concatenates [latents; fixed] every step instead.
   */
  embedFixedChannels(fixed: Tensor): FixedChannelsState | undefined {
    const { patchSize, inChannels } = this.config;
    const latentChannels = inChannels - fixed.shape[0];
    if (fixed.shape.length !== 4 || latentChannels < 1) {
      throw new Error(`fixed channels must be [C, F, H, W] with C < ${inChannels}, got [${fixed.shape.join(', ')}]`);
    }
    const split = this.splitPatchWeight(latentChannels);
    if (!split) return undefined;
    const grid = this.gridOf(fixed, fixed.shape[0]);
    const patches = patchify(this.ctx, fixed, patchSize);
    const embedding = matmul(this.ctx, patches, split.fixed, { bias: this.w('patch_embedding.bias') });
    patches.release();
    return { embedding, latentChannels, grid, release: () => embedding.release() };
  }

  /** The condition embedder's time path on sinusoid rows [M, freqDim]: temb [M, dim] and timestep_proj [M, 6·dim]. */
  private timeEmbedding(sinusoid: Tensor): { temb: Tensor; proj: Tensor } {
    const t1 = this.linear(sinusoid, 'condition_embedder.time_embedder.linear_1', { activation: 'silu' });
    const temb = this.linear(t1, 'condition_embedder.time_embedder.linear_2');
    const tembSilu = unary(this.ctx, 'silu', temb);
    const proj = this.linear(tembSilu, 'condition_embedder.time_proj');
    t1.release();
    tembSilu.release();
    return { temb, proj };
  }

  /**
   * Every step's timestep embedding and projection, before sampling. Rows go through the same products a
   * single step's do (the vector path, a few rows at a time, each row's sums in the same order), so a
   * step that takes its row from the table gets the very same values.
   */
  embedTimesteps(timesteps: readonly number[]): TimestepTable {
    const { dim, freqDim } = this.config;
    const rows: TimestepTable['rows'] = [];
    const release = () => rows.forEach((r) => [r.temb, r.proj, r.head].forEach((t) => t.release()));
    try {
      for (let first = 0; first < timesteps.length; first += VECTOR_ROWS) {
        const count = Math.min(VECTOR_ROWS, timesteps.length - first);
        const sinusoids = new Float32Array(count * freqDim);
        for (let r = 0; r < count; r++) sinusoids.set(timestepSinusoid(timesteps[first + r], freqDim), r * freqDim);
        const sinusoid = this.ctx.upload(sinusoids, [count, freqDim], 'f32', 'timestep sinusoids');
        const part = this.timeEmbedding(sinusoid);
        sinusoid.release();
        for (let r = 0; r < count; r++) {
          const temb = this.ctx.empty([1, dim], 'f32', 'temb');
          const proj = this.ctx.empty([1, 6 * dim], 'f32', 'timestep_proj');
          this.ctx.copy(part.temb, temb, dim * 4, r * dim * 4);
          this.ctx.copy(part.proj, proj, 6 * dim * 4, r * 6 * dim * 4);
          rows.push({ temb, proj, head: this.headModulationOf(temb) });
        }
        part.temb.release();
        part.proj.release();
      }
    } catch (e) {
      release();
      throw e;
    }
    return { timesteps: [...timesteps], rows, release };
  }

  /** Patch embedding and timestep embedding: tokens [L, dim] and the step's shared state. */
  embed(latents: Tensor, timestep: number, fixed?: FixedChannelsState, table?: TimestepTable): { hidden: Tensor; step: StepState } {
    const { patchSize, dim, freqDim, inChannels } = this.config;
    let hidden: Tensor;
    let grid: [number, number, number];
    if (fixed) {
      fixed.embedding.assertLive('embed');
      grid = this.gridOf(latents, fixed.latentChannels);
      if (grid.join('x') !== fixed.grid.join('x')) throw new Error(`latents give a ${grid.join('×')} token grid, the fixed channels ${fixed.grid.join('×')}`);
      const split = this.splitPatchWeight(fixed.latentChannels)!;
      const patches = patchify(this.ctx, latents, patchSize);
      hidden = matmul(this.ctx, patches, split.latent, { residual: fixed.embedding });
      patches.release();
    } else {
      grid = this.gridOf(latents);
      const patches = patchify(this.ctx, latents, patchSize);
      const patchWeight = this.w('patch_embedding.weight').reshape([dim, inChannels * patchSize[0] * patchSize[1] * patchSize[2]]);
      hidden = matmul(this.ctx, patches, patchWeight, { bias: this.w('patch_embedding.bias') });
      patches.release();
    }

    const row = table ? table.timesteps.indexOf(timestep) : -1;
    let temb: Tensor;
    let proj: Tensor;
    let headModulation: Tensor | undefined;
    if (table && row >= 0) {
      ({ temb, proj, head: headModulation } = table.rows[row]);
      temb.assertLive('embed');
    } else {
      const sinusoid = this.ctx.upload(timestepSinusoid(timestep, freqDim), [1, freqDim], 'f32', 'timestep sinusoid');
      ({ temb, proj } = this.timeEmbedding(sinusoid));
      sinusoid.release();
    }
    const modulations = new Array<Tensor | undefined>(this.config.numLayers).fill(undefined);
    const step: StepState = { grid, timestep, temb, timestepProj: proj, rope: this.ropeFor(grid), modulations, headModulation, borrowedTimeEmbedding: row >= 0 };
    return { hidden, step };
  }

  releaseStep(step: StepState): void {
    if (!step.borrowedTimeEmbedding) {
      step.temb.release();
      step.timestepProj.release();
      step.headModulation?.release();
    }
    for (const mod of step.modulations) mod?.release();
    step.modulations.fill(undefined);
    step.headModulation = undefined;
  }

  /**
   * Makes every block's modulation rows for this step now rather than on first use. A caller that records
   * blocks whose dispatches may be skipped (the caches' conditional paths) calls this first, so the rows
   * the other branch reads are never made inside a skipped path. (A prompt's cross-attention keys and
   * values are made at the first step, which every cache computes in full.)
   */
  prepareStep(step: StepState): void {
    for (let i = 0; i < this.config.numLayers; i++) this.modulation(i, step);
  }

  /** The block's six modulation rows for this step: scale_shift_table + timestep_proj, [6, dim]; owned by `step`. */
  modulation(index: number, step: StepState): Tensor {
    let mod = step.modulations[index];
    if (!mod) {
      const table = this.w(`blocks.${index}.scale_shift_table`).reshape([6, this.config.dim]);
      mod = add(this.ctx, table, step.timestepProj.reshape([6, this.config.dim]));
      step.modulations[index] = mod;
    }
    return mod;
  }

  /** The block's first modulated input LN(x)·(1 + scale) + shift (what TeaCache-style policies watch). */
  modulatedInput(index: number, hidden: Tensor, step: StepState): Tensor {
    const mod = this.modulation(index, step);
    return layerNorm(this.ctx, hidden, { eps: this.config.eps, modulation: { table: mod, shiftRow: 0, scaleRow: 1 } });
  }

  private crossKV(index: number, text: TextState): { k: Tensor; v: Tensor } {
    let kv = text.crossKV[index];
    if (!kv) {
      // The prompt is fixed for a whole generation, so the cross-attention keys and values are too.
      const b = `blocks.${index}.attn2`;
      const kRaw = this.linear(text.context, `${b}.to_k`);
      const k = rmsNorm(this.ctx, kRaw, this.w(`${b}.norm_k.weight`), this.config.eps);
      kRaw.release();
      kv = { k, v: this.linear(text.context, `${b}.to_v`) };
      text.crossKV[index] = kv;
    }
    return kv;
  }

  /** One transformer block: returns the new hidden state; `hidden` is not released. */
  runBlock(index: number, hidden: Tensor, step: StepState, text: TextState): Tensor {
    const { eps, numHeads } = this.config;
    const ctx = this.ctx;
    const b = `blocks.${index}`;
    const mod = this.modulation(index, step); // rows: shift, scale, gate, c_shift, c_scale, c_gate

    // Self-attention on the modulated, normalised tokens, with RMSNorm across heads and 3D RoPE.
    const h1 = layerNorm(ctx, hidden, { eps, modulation: { table: mod, shiftRow: 0, scaleRow: 1 } });
    const qRaw = this.linear(h1, `${b}.attn1.to_q`);
    const kRaw = this.linear(h1, `${b}.attn1.to_k`);
    const v = this.linear(h1, `${b}.attn1.to_v`);
    h1.release();
    const qNorm = rmsNorm(ctx, qRaw, this.w(`${b}.attn1.norm_q.weight`), eps);
    const kNorm = rmsNorm(ctx, kRaw, this.w(`${b}.attn1.norm_k.weight`), eps);
    qRaw.release();
    kRaw.release();
    const q = rope(ctx, qNorm, step.rope.cos, step.rope.sin, numHeads);
    const k = rope(ctx, kNorm, step.rope.cos, step.rope.sin, numHeads);
    qNorm.release();
    kNorm.release();
    const selfAttn = attention(ctx, q, k, v, numHeads);
    [q, k, v].forEach((t) => t.release());
    const x1 = this.linear(selfAttn, `${b}.attn1.to_out.0`, { gate: mod, gateRow: 2, residual: hidden });
    selfAttn.release();

    // Cross-attention to the prompt: affine LayerNorm, no modulation, no gate.
    const h2 = this.config.crossAttnNorm
      ? layerNorm(ctx, x1, { eps, weight: this.w(`${b}.norm2.weight`), bias: this.w(`${b}.norm2.bias`) })
      : x1;
    const q2Raw = this.linear(h2, `${b}.attn2.to_q`);
    if (h2 !== x1) h2.release();
    const q2 = rmsNorm(ctx, q2Raw, this.w(`${b}.attn2.norm_q.weight`), eps);
    q2Raw.release();
    const kv = this.crossKV(index, text);
    const crossAttn = attention(ctx, q2, kv.k, kv.v, numHeads);
    q2.release();
    const x2 = this.linear(crossAttn, `${b}.attn2.to_out.0`, { residual: x1 });
    crossAttn.release();
    x1.release();

    // Gated feed-forward on the modulated tokens.
    const h3 = layerNorm(ctx, x2, { eps, modulation: { table: mod, shiftRow: 3, scaleRow: 4 } });
    const ff = this.linear(h3, `${b}.ffn.net.0.proj`, { activation: 'gelu_tanh' });
    h3.release();
    const x3 = this.linear(ff, `${b}.ffn.net.2`, { gate: mod, gateRow: 5, residual: x2 });
    ff.release();
    x2.release();
    return x3;
  }

  /** Output head: modulated LayerNorm with temb, projection to patches [L, prod(patch)·C_out]. */
  headTokens(hidden: Tensor, step: StepState): Tensor {
    const h = this.headNorm(hidden, step);
    const out = this.linear(h, 'proj_out');
    h.release();
    return out;
  }

  /** The head's modulated LayerNorm (before its projection). */
  private headNorm(hidden: Tensor, step: StepState): Tensor {
    return layerNorm(this.ctx, hidden, { eps: this.config.eps, modulation: { table: this.headModulation(step), shiftRow: 0, scaleRow: 1 } });
  }

  /** (scale_shift_table [1, 2, dim] + temb) → rows shift, scale; owned by `step`. */
  private headModulation(step: StepState): Tensor {
    step.headModulation ??= this.headModulationOf(step.temb);
    return step.headModulation;
  }

  private headModulationOf(temb: Tensor): Tensor {
    const { dim } = this.config;
    const tembTwice = this.ctx.empty([2, dim], 'f32', 'temb ×2');
    this.ctx.copy(temb, tembTwice, dim * 4, 0, 0);
    this.ctx.copy(temb, tembTwice, dim * 4, 0, dim * 4);
    const modulation = add(this.ctx, this.w('scale_shift_table').reshape([2, dim]), tembTwice);
    tembTwice.release();
    return modulation;
  }

  /** Tokens [L, prod(patch)·C_out] → video [C_out, F, H, W]. */
  unpatchify(tokens: Tensor, step: StepState): Tensor {
    return unpatchify(this.ctx, tokens, { channels: this.config.outChannels, grid: step.grid, patch: this.config.patchSize });
  }

  /** The whole model: latents [C, F, H, W] at `timestep` → velocity [C_out, F, H, W]. */
  async forward(latents: Tensor, timestep: number, text: TextState, options: ForwardOptions = {}): Promise<Tensor> {
    const [video] = await this.forwardBranches(latents, timestep, [{ text, ...options }]);
    return video;
  }

  /**
   * The model on the same latents and timestep for several prompts (CFG's conditional and unconditional
   * branches): the patch and timestep embeddings depend on neither, so they are computed once and shared;
   * each branch then runs its own block stack and head. Returns one velocity per branch, in order, or with
   * `inputs.guidance` the one guided velocity.
   */
  async forwardBranches(latents: Tensor, timestep: number, branches: (ForwardOptions & { text: TextState })[], inputs: StepInputs = {}): Promise<Tensor[]> {
    if (inputs.guidance !== undefined && (branches.length !== 2 || !Number.isFinite(inputs.guidance))) {
      throw new Error(`guidance takes a finite scale and two branches (conditional, unconditional), got ${inputs.guidance} and ${branches.length}`);
    }
    const { hidden, step } = this.embed(latents, timestep, inputs.fixed, inputs.timesteps);
    const normed: Tensor[] = []; // each branch's head-normalised tokens, until its projection consumes them
    const outputs: Tensor[] = [];
    try {
      for (const branch of branches) normed.push(await this.runBranch(hidden, step, branch));
      if (inputs.guidance !== undefined) {
        // uncond + g·(cond − uncond), as one combination.
        const [cond, uncond] = normed;
        const guided = linearCombination(this.ctx, [
          { tensor: uncond, coef: 1 - inputs.guidance },
          { tensor: cond, coef: inputs.guidance },
        ]);
        normed.forEach((t) => t.release());
        normed.splice(0, normed.length, guided);
      }
      // One head per branch, or one on the guided tokens (whose intermediates belong to no branch).
      normed.forEach((tokens, i) => outputs.push(this.finishHead(tokens, step, inputs.guidance === undefined ? branches[i].intermediates : undefined)));
      return outputs;
    } catch (e) {
      outputs.forEach((t) => t.release());
      throw e;
    } finally {
      normed.forEach((t) => t.release()); // release() is idempotent: the heads' inputs stay here until the end
      hidden.release();
      this.releaseStep(step);
    }
  }

  /** The head's projection and unpatchify of normalised tokens: velocity [C_out, F, H, W]. */
  private finishHead(normed: Tensor, step: StepState, intermediates?: Map<string, Tensor>): Tensor {
    const tokens = this.linear(normed, 'proj_out');
    if (intermediates) {
      const copy = this.ctx.empty(tokens.shape, tokens.dtype, 'head');
      this.ctx.copy(tokens, copy);
      intermediates.set('head', copy);
    }
    const video = this.unpatchify(tokens, step);
    tokens.release();
    return video;
  }

  /** A branch's block stack and the head's normalisation: normalised tokens [L, dim]. */
  private async runBranch(hidden: Tensor, step: StepState, options: ForwardOptions & { text: TextState }): Promise<Tensor> {
    const { text } = options;
    const keep = options.intermediates;
    const snapshot = (name: string, t: Tensor) => {
      if (!keep) return;
      const copy = this.ctx.empty(t.shape, t.dtype, name);
      this.ctx.copy(t, copy);
      keep.set(name, copy);
    };
    snapshot('patch_embedding', hidden);
    snapshot('temb', step.temb.reshape([this.config.dim]));
    snapshot('timestep_proj', step.timestepProj.reshape([6, this.config.dim]));
    snapshot('context', text.context);

    const runBlock = (index: number, h: Tensor): Tensor => {
      const out = this.runBlock(index, h, step, text);
      snapshot(`block_${index}`, out);
      return out;
    };
    const runner = options.runBlocks ?? defaultBlockStack(this.config.numLayers);
    // The runner never releases `hidden` (it is shared by the branches); it may return it unchanged.
    const blocksOut = await runner(hidden, runBlock, step);
    const normed = this.headNorm(blocksOut, step);
    if (blocksOut !== hidden) blocksOut.release();
    return normed;
  }

  /** Frees the weights and the cached RoPE tables. */
  dispose(): void {
    this.releaseWeights();
    for (const { cos, sin } of this.ropeCache.values()) {
      cos.release();
      sin.release();
    }
    this.ropeCache.clear();
  }
}

/** Runs blocks 0..n−1 in order, releasing each intermediate hidden state. */
export function defaultBlockStack(numLayers: number): BlockStackRunner {
  return (hidden, runBlock) => {
    let h = hidden;
    for (let i = 0; i < numLayers; i++) {
      const next = runBlock(i, h);
      if (h !== hidden) h.release();
      h = next;
    }
    return h;
  };
}
