// Text-to-video generation: seeded noise → sampling loop (transformer with the cache's block hook,
// classifier-free guidance, scheduler update on the GPU) → decoder → frames. Latents stay on the GPU
// from the first step to the decoder. One step stays in flight: step i+1 is recorded and submitted
// before step i's completion is awaited, so the GPU never idles while the host records; that wait gives
// progress and a prompt abort.
// Callers use generateVideo (generate-video.ts), which fills these options from a model bundle.

import type { GpuContext } from '../gpu/context.ts';
import type { Tensor } from '../gpu/tensor.ts';
import { swapOuter } from '../gpu/kernels/swap-outer.ts';
import type { BlockStackRunner, FixedChannelsState, TextState, TimestepTable, WanTransformer } from '../model/transformer.ts';
import type { PromptEmbedding } from '../model/text-encoder.ts';
import { CacheManager, type Branch, type CacheStats } from '../cache/manager.ts';
import type { CacheConfig } from '../cache/policies.ts';
import { createScheduler } from '../sampler/schedulers/index.ts';
import { gaussianNoise } from '../sampler/noise.ts';
import type { VideoDecoder } from '../decoder/decoder.ts';
import { CONDITION_CHANNELS, checkConditionChannels, conditionValues, type ModelCondition } from '../model/condition.ts';

export type { PromptEmbedding };

export interface GenerateProgress {
  step: number;
  steps: number;
  elapsedMs: number;
  etaMs: number;
}

export interface GenerateOptions {
  model: WanTransformer;
  decoder: VideoDecoder;
  prompt: PromptEmbedding;
  /** The unconditional branch's embedding (Wan encodes "" too); zero rows when absent. */
  negativePrompt?: PromptEmbedding;
  /** Rows the prompt is zero-padded to (512 for Wan2.1). */
  textLen: number;
  frames: number;
  height: number;
  width: number;
  steps: number;
  guidance: number;
  seed: number;
  /** diffusers scheduler config (`scheduler_config.json`). */
  scheduler: object;
  cache?: CacheConfig;
  /** Clean channels the model takes beside the latents (the bundle's `condition`). */
  condition?: ModelCondition;
  /** Instrumentation: replaces the cache's block-stack hook (calibration runs use this). */
  blockRunner?: (branch: Branch, step: number) => BlockStackRunner;
  /** Initial latents [C, T, h, w] instead of seeded noise (to compare with another implementation). */
  latents?: Float32Array;
  onProgress?: (p: GenerateProgress) => void;
  /** Called as sampling, then decoding, begins. */
  onStage?: (stage: 'sample' | 'decode') => void;
  signal?: AbortSignal;
  /** Frees the model's weights once sampling is done, so the decoder has their memory (the caller reloads them for the next run). */
  releaseModelWeightsForDecode?: boolean;
}

export interface GenerateResult {
  /** [F, 3, H, W], RGB in [0, 1]. */
  frames: Float32Array;
  shape: [number, number, number, number];
  /** Final latents [C, T, h, w] (before decoding). */
  latents: Float32Array;
  latentShape: number[];
  seconds: number;
  samplingSeconds: number;
  /** Most GPU tensor bytes alive at once during the run (weights included). */
  peakGpuBytes: number;
  /** The same, per stage: sampling (from the text states on) and decoding. */
  stagePeakGpuBytes: { sample: number; decode: number };
  decodeSeconds: number;
  stats: CacheStats;
  /** Host read-backs from the first to the last denoising step (each one stalls the GPU); 0 for every cache policy. */
  hostReadbacks: number;
}

export class AbortError extends Error {
  override name = 'AbortError';
  constructor() {
    super('generation aborted');
  }
}

/** Latent shape for a video size, checked as diffusers' WanPipeline checks it. */
export function latentShape(
  model: WanTransformer,
  decoder: VideoDecoder,
  video: { frames: number; height: number; width: number },
): [number, number, number, number] {
  const { frames, height, width } = video;
  const ts = decoder.temporalScale;
  const ss = decoder.spatialScale;
  const [pt, ph, pw] = model.config.patchSize;
  const multiple = ss * Math.max(ph, pw);
  for (const [name, v] of [['frames', frames], ['height', height], ['width', width]] as const) {
    if (!Number.isInteger(v) || v <= 0) throw new Error(`${name} must be a positive integer, got ${v}`);
  }
  if (height % multiple || width % multiple) throw new Error(`height and width must be multiples of ${multiple} for this model, got ${width}×${height}`);
  if ((frames - 1) % ts !== 0) throw new Error(`frames must be ${ts}k+1 for this model (e.g. ${ts + 1}, ${2 * ts + 1}, ${4 * ts + 1}), got ${frames}`);
  const latentFrames = (frames - 1) / ts + 1;
  if (latentFrames % pt !== 0) throw new Error(`frames give ${latentFrames} latent frames, not a multiple of the temporal patch ${pt}`);
  if (decoder.latentChannels !== model.config.outChannels) {
    throw new Error(`the decoder takes ${decoder.latentChannels} latent channels, the model makes ${model.config.outChannels}`);
  }
  return [model.config.outChannels, latentFrames, height / ss, width / ss];
}

export async function generate(ctx: GpuContext, options: GenerateOptions): Promise<GenerateResult> {
  const { model, decoder, steps, guidance, signal } = options;
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`steps must be a positive integer, got ${steps}`);
  if (!Number.isFinite(guidance)) throw new Error(`guidance must be a number, got ${guidance}`);
  if (!Number.isInteger(options.seed) || options.seed < 0) throw new Error(`seed must be a non-negative integer, got ${options.seed}`);
  const shape = latentShape(model, decoder, options);
  const count = shape.reduce((a, b) => a * b, 1);
  checkConditionChannels(model.config, options.condition, 'generate');
  if (options.latents && options.latents.length !== count) {
    throw new Error(`supplied latents have ${options.latents.length} values, expected [${shape.join(', ')}] = ${count}`);
  }
  const throwIfAborted = () => {
    if (signal?.aborted) throw new AbortError();
  };
  throwIfAborted();

  const useCfg = guidance > 1;
  const scheduler = createScheduler(options.scheduler);
  scheduler.setTimesteps(steps);
  const cache = new CacheManager(ctx, model, options.cache ?? { policy: 'none' }, steps);
  const runner = options.blockRunner ?? ((branch: Branch, step: number) => cache.runner(branch, step));
  const owned: { text?: TextState; negative?: TextState; latents?: Tensor; input?: Tensor; fixed?: FixedChannelsState; timesteps?: TimestepTable } = {};
  /** Completion of the last submitted step (settled before anything is released). */
  let inFlight: Promise<void> | undefined;
  ctx.resetPeakBytes();
  const start = performance.now();
  const reportDone = (done: number) => {
    const elapsedMs = performance.now() - start;
    options.onProgress?.({ step: done, steps, elapsedMs, etaMs: (elapsedMs / done) * (steps - done) });
  };
  try {
    options.onStage?.('sample');
    owned.text = model.encodeText(options.prompt.data, options.prompt.rows, options.textLen);
    if (useCfg) {
      const neg = options.negativePrompt ?? { data: new Float32Array(0), rows: 0 };
      owned.negative = model.encodeText(neg.data, neg.rows, options.textLen);
    }
    owned.latents = ctx.upload(options.latents ?? gaussianNoise(options.seed, count), shape, 'f32', 'latents');
    owned.timesteps = model.embedTimesteps(scheduler.timesteps); // all steps' at once: fewer, fuller products
    if (options.condition) {
      // The model takes [latents; condition] along C. The condition never changes, so its share of the
      // patch embedding is computed once; where the model cannot split that (a patch weight stored in
      // halves), the condition's channels are written once after the latents' and the latents copied in every step.
      const condition = conditionValues(options.condition, shape);
      const fixed = ctx.upload(condition, [CONDITION_CHANNELS[options.condition], ...shape.slice(1)], 'f32', 'condition');
      try {
        owned.fixed = model.embedFixedChannels(fixed);
      } finally {
        fixed.release();
      }
      if (!owned.fixed) {
        owned.input = ctx.empty([model.config.inChannels, ...shape.slice(1)], 'f32', 'model input');
        ctx.writeTensor(owned.input, condition, count * 4);
      }
    }

    const readbacksBefore = ctx.readbacks;
    for (let i = 0; i < steps; i++) {
      throwIfAborted();
      const t = scheduler.timesteps[i];
      const branches = [{ text: owned.text, runBlocks: runner('cond', i) }];
      if (useCfg) branches.push({ text: owned.negative!, runBlocks: runner('uncond', i) });
      // Both branches see the same latents and timestep: one shared embedding, then a stack each, and
      // with guidance one head on the guided combination of their normalised tokens.
      if (owned.input) ctx.copy(owned.latents, owned.input, count * 4);
      const [velocity] = await model.forwardBranches(owned.input ?? owned.latents, t, branches, { fixed: owned.fixed, timesteps: owned.timesteps, guidance: useCfg ? guidance : undefined });
      const next = scheduler.step(ctx, velocity, owned.latents);
      velocity.release();
      owned.latents.release();
      owned.latents = next;
      const previous = inFlight;
      inFlight = ctx.sync(); // submits step i now
      if (previous) {
        await previous;
        reportDone(i);
      }
    }
    await inFlight;
    const hostReadbacks = ctx.readbacks - readbacksBefore;
    reportDone(steps);
    const samplingSeconds = (performance.now() - start) / 1000;
    throwIfAborted();
    const finalLatents = await ctx.read(owned.latents);
    const samplePeak = ctx.peakLiveBytes;
    // The text states (context and every block's cross-attention keys and values) are done with: the decoder gets their memory.
    owned.text.dispose();
    owned.negative?.dispose();
    owned.text = owned.negative = undefined;
    if (options.releaseModelWeightsForDecode) {
      options.model.releaseWeights();
      // Released tensors go to the context's pool, which a real device never trims by itself: destroy
      // them, so the decoder really gets their memory (the GPU is done with them: the latents were read).
      ctx.trimPool();
    }
    ctx.resetPeakBytes();
    options.onStage?.('decode');
    const decodeStart = performance.now();
    // The model's latents are [C, T, h, w]; decoders take frames first, [T, C, h, w].
    const decoderInput = swapOuter(ctx, owned.latents);
    let frameTensor: Tensor;
    try {
      frameTensor = await decoder.decode(ctx, decoderInput, { signal });
    } finally {
      decoderInput.release();
    }
    const frames = await ctx.read(frameTensor);
    const frameShape = frameTensor.shape as [number, number, number, number];
    frameTensor.release();
    const end = performance.now();
    return {
      frames,
      shape: [...frameShape],
      latents: finalLatents,
      latentShape: shape,
      seconds: (end - start) / 1000,
      samplingSeconds,
      decodeSeconds: (end - decodeStart) / 1000,
      peakGpuBytes: Math.max(samplePeak, ctx.peakLiveBytes),
      stagePeakGpuBytes: { sample: samplePeak, decode: ctx.peakLiveBytes },
      stats: await cache.stats(),
      hostReadbacks,
    };
  } finally {
    // An aborted or failed run may leave its last step on the GPU: let it finish before freeing its buffers.
    await inFlight?.catch(() => undefined);
    owned.text?.dispose();
    owned.negative?.dispose();
    owned.latents?.release();
    owned.input?.release();
    owned.fixed?.release();
    owned.timesteps?.release();
    cache.dispose();
    scheduler.reset();
  }
}
