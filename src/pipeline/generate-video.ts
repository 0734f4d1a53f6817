// webdit's one generate entry: a loaded bundle and a request → a video. Everything the model folder
// decides (scheduler, text length, condition channels, decoder, default size, steps, guidance,
// negative prompt, TeaCache calibration) is filled in here, so no caller assembles the engine's
// options by hand; the request is checked whole before any GPU work.

import { GpuOutOfMemoryError, type GpuContext } from '../gpu/context.ts';
import type { BlockStackRunner } from '../model/transformer.ts';
import type { PromptEmbedding } from '../model/text-encoder.ts';
import type { Branch } from '../cache/manager.ts';
import { POLICY_DEFAULTS, type CacheConfig } from '../cache/policies.ts';
import { parseCacheSpec } from '../cache/spec.ts';
import { validateCacheConfig } from '../cache/policies/index.ts';
import { withModelCalibration, type ModelBundle } from './bundle.ts';
import { checkFootprint, checkSamplingOptions, checkVideoSize, runFootprint, type DeviceLimits } from './preflight.ts';
import { generate, latentShape, type GenerateOptions, type GenerateProgress, type GenerateResult } from './generate.ts';
import { paddedEmbedding, promptStoreKey, storedRows, type PromptEmbeddingStore, type StoredPromptPair } from './prompt-store.ts';

/**
 * A stage of a run beginning: the text encoder (or the prompt store that spares it), each of its
 * streamed layers, its release, sampling, decoding.
 */
export type GenerateStage =
  | { stage: 'encode'; fromStore: boolean }
  | { stage: 'encode-layer'; layer: number; layers: number }
  | { stage: 'release'; liveBytes: number; seconds: number }
  | { stage: 'sample' }
  | { stage: 'decode' };

export interface GenerateRequest {
  /** Text (through the bundle's text encoder) or precomputed prompt embeddings [rows, textDim]. */
  prompt: string | PromptEmbedding;
  /** The unconditional branch's prompt; default: the model's `negative_prompt`, else zero rows. */
  negativePrompt?: string | PromptEmbedding;
  /** Video size; defaults: the model's (model_index.json), else Wan2.1's 81 × 480 × 832. */
  frames?: number;
  height?: number;
  width?: number;
  steps?: number;
  guidance?: number;
  /** Noise seed; default 0. */
  seed?: number;
  /** A cache spec (`bwcache:threshold=0.2`) or config; default none. The model's TeaCache calibration fills in. */
  cache?: string | CacheConfig;
  /** Initial latents [C, T, h, w] instead of seeded noise (to compare with another implementation). */
  latents?: Float32Array;
  /**
   * Frees the transformer's weights after sampling, so decoding does not hold them (its peak drops by
   * their size); the next generation reads them again first. For a GPU where decoding is the stage that
   * does not fit (see `planGeneration(…, { releaseTransformer: true })`). Default: the bundle's
   * `releaseTransformer` (loadBundle's fit 'auto' sets it where only releasing fits), else false.
   */
  releaseTransformer?: boolean;
  signal?: AbortSignal;
  onProgress?: (p: GenerateProgress) => void;
  /** Each stage as it begins (encode only where a text encoder runs or its stored output is used). */
  onStage?: (stage: GenerateStage) => void;
  /** Where umT5 prompt embeddings are kept: a prompt (with its negative and text length) already there skips the encoder. */
  promptStore?: PromptEmbeddingStore;
  /** Instrumentation: replaces the cache's block-stack hook (calibration runs use this). */
  blockRunner?: (branch: Branch, step: number) => BlockStackRunner;
}

/** The settings a run used, every default filled in. */
export interface GenerateSettings {
  frames: number;
  height: number;
  width: number;
  steps: number;
  guidance: number;
  seed: number;
  cache: CacheConfig;
}

export interface VideoResult extends GenerateResult {
  settings: GenerateSettings;
}

const REQUEST_FIELDS = new Set<string>([
  'prompt', 'negativePrompt', 'frames', 'height', 'width', 'steps', 'guidance', 'seed', 'cache', 'latents', 'signal', 'onProgress', 'onStage', 'promptStore', 'blockRunner',
  'releaseTransformer',
]);

function optionalNumber(request: GenerateRequest, name: 'frames' | 'height' | 'width' | 'steps' | 'guidance' | 'seed', fallback: number): number {
  const v = request[name];
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`generate: ${name} must be a number, got ${JSON.stringify(v)}`);
  return v;
}

/** Text through the bundle's encoder, or embeddings checked against the model's text width and length. */
function embedPrompt(bundle: ModelBundle, prompt: unknown, field: string): PromptEmbedding {
  const { textDim } = bundle.model.config;
  if (typeof prompt === 'string') {
    if (bundle.promptEncoder) throw new Error(`generate: ${bundle.name}'s umT5 encodes text asynchronously: generateVideo does it; resolveRequest takes ${field} as embeddings (checkRequest checks a text request)`);
    if (!bundle.textEncoder) throw new Error(`generate: ${bundle.name} has no text encoder in webdit: give ${field} as embeddings ({ data, rows }, e.g. a prompt_embeds file)`);
    return bundle.textEncoder.encode(prompt);
  }
  const e = prompt as Partial<PromptEmbedding> | null;
  if (typeof e !== 'object' || e === null || !(e.data instanceof Float32Array) || !Number.isInteger(e.rows) || e.rows! < 0) {
    throw new Error(`generate: ${field} must be text or embeddings { data: Float32Array, rows }, got ${e === null ? 'null' : typeof e}`);
  }
  if (e.data.length !== e.rows! * textDim) throw new Error(`generate: ${field} has ${e.data.length} values, expected ${e.rows} rows × the model's text_dim ${textDim}`);
  if (e.rows! > bundle.textLen) throw new Error(`generate: ${field} has ${e.rows} rows, more than the model's text length ${bundle.textLen}`);
  if (!e.data.every(Number.isFinite)) throw new Error(`generate: ${field} has values that are not finite numbers`);
  return { data: e.data, rows: e.rows! };
}

function cacheConfig(bundle: ModelBundle, cache: unknown): CacheConfig {
  let config: CacheConfig;
  if (cache === undefined) config = { policy: 'none' };
  else if (typeof cache === 'string') config = parseCacheSpec(cache);
  else {
    const policy = (cache as { policy?: unknown } | null)?.policy;
    if (typeof policy !== 'string' || !(policy in POLICY_DEFAULTS)) {
      throw new Error(`generate: cache must be a spec such as "bwcache" or a config with a policy (${Object.keys(POLICY_DEFAULTS).join(', ')}), got ${JSON.stringify(cache)}`);
    }
    config = cache as CacheConfig;
  }
  const calibrated = withModelCalibration(config, bundle);
  validateCacheConfig(calibrated, { steps: 1, numLayers: bundle.model.config.numLayers }); // before any GPU work
  return calibrated;
}

/**
 * The engine's options for a request, with the bundle's defaults filled in. Throws a clear error for
 * anything the run would refuse (sizes, steps, seed, embeddings, cache spec, latents, unknown fields),
 * without touching the GPU.
 */
export function resolveRequest(bundle: ModelBundle, request: GenerateRequest, limits?: DeviceLimits): GenerateOptions & { settings: GenerateSettings } {
  if (typeof request !== 'object' || request === null) throw new Error('generate: the request must be an object with at least a prompt');
  const unknown = Object.keys(request).filter((k) => !REQUEST_FIELDS.has(k));
  if (unknown.length) throw new Error(`generate: unknown request field${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (known: ${[...REQUEST_FIELDS].join(', ')})`);
  if (request.prompt === undefined) throw new Error('generate: the request needs a prompt (text or embeddings)');
  const d = bundle.defaults;
  const settings: GenerateSettings = {
    frames: optionalNumber(request, 'frames', d.frames),
    height: optionalNumber(request, 'height', d.height),
    width: optionalNumber(request, 'width', d.width),
    steps: optionalNumber(request, 'steps', d.steps),
    guidance: optionalNumber(request, 'guidance', d.guidance),
    seed: optionalNumber(request, 'seed', 0),
    cache: cacheConfig(bundle, request.cache),
  };
  const where = (e: unknown) => new Error(`generate: ${(e as Error).message}`);
  const { model, decoder } = bundle;
  try {
    checkSamplingOptions(settings);
    const [, ph, pw] = model.config.patchSize;
    checkVideoSize(settings, { temporal: decoder.temporalScale, multiple: decoder.spatialScale * Math.max(ph, pw) });
  } catch (e) {
    throw where(e);
  }
  const shape = latentShape(bundle.model, bundle.decoder, settings);
  const count = shape.reduce((a, b) => a * b, 1);
  const footprint = runFootprint(model.config, settings, { temporal: decoder.temporalScale, spatial: decoder.spatialScale }, bundle.textLen);
  try {
    checkFootprint(footprint, limits, `${settings.frames} frames of ${settings.width}×${settings.height}`);
  } catch (e) {
    throw where(e);
  }
  if (request.releaseTransformer !== undefined && typeof request.releaseTransformer !== 'boolean') throw new Error('generate: releaseTransformer must be true or false');
  const releaseTransformer = request.releaseTransformer ?? bundle.releaseTransformer === true;
  if (releaseTransformer && !bundle.reloadTransformerWeights) throw new Error(`generate: releaseTransformer needs a bundle that can read its weights again (${bundle.name} cannot)`);
  if (request.latents !== undefined) {
    if (!(request.latents instanceof Float32Array)) throw new Error('generate: latents must be a Float32Array');
    if (request.latents.length !== count) throw new Error(`generate: latents have ${request.latents.length} values, expected [${shape.join(', ')}] = ${count}`);
  }
  const prompt = embedPrompt(bundle, request.prompt, 'prompt');
  const negativeSource = request.negativePrompt ?? bundle.negativePrompt;
  // Without a text encoder the model's negative prompt text cannot be used: zero rows, as before.
  const negativePrompt =
    negativeSource === undefined || (typeof negativeSource === 'string' && request.negativePrompt === undefined && !bundle.textEncoder)
      ? undefined
      : embedPrompt(bundle, negativeSource, 'negativePrompt');
  return {
    model: bundle.model,
    decoder: bundle.decoder,
    condition: bundle.condition,
    scheduler: bundle.scheduler,
    textLen: bundle.textLen,
    prompt,
    negativePrompt,
    ...settings,
    latents: request.latents,
    releaseModelWeightsForDecode: releaseTransformer,
    signal: request.signal,
    onProgress: request.onProgress,
    onStage: request.onStage ? (stage) => request.onStage!({ stage }) : undefined,
    blockRunner: request.blockRunner,
    settings,
  };
}

/** The texts a umT5 bundle must encode for a request (the negative only where guidance uses it). */
function textsToEncode(bundle: ModelBundle, request: GenerateRequest): { prompt?: string; negative?: string } {
  if (!bundle.promptEncoder || typeof request !== 'object' || request === null) return {};
  const guidance = typeof request.guidance === 'number' ? request.guidance : bundle.defaults.guidance;
  const negative = request.negativePrompt ?? bundle.negativePrompt;
  return {
    prompt: typeof request.prompt === 'string' ? request.prompt : undefined,
    negative: typeof negative === 'string' && guidance > 1 ? negative : undefined,
  };
}

/** Throws what resolveRequest would throw, with text prompts allowed for a umT5 bundle. No GPU work. */
export function checkRequest(bundle: ModelBundle, request: GenerateRequest, limits?: DeviceLimits): GenerateSettings {
  const texts = textsToEncode(bundle, request);
  const placeholder = { data: new Float32Array(0), rows: 0 };
  const checked = { ...request };
  if (texts.prompt !== undefined) checked.prompt = placeholder;
  if (bundle.promptEncoder && typeof (request?.negativePrompt ?? bundle.negativePrompt) === 'string') checked.negativePrompt = placeholder;
  return resolveRequest(bundle, checked, limits).settings;
}

/** The request with its texts replaced by umT5 embeddings (tokenizer → encoder streamed → released), or by the stored ones. */
async function encodeTexts(ctx: GpuContext, bundle: ModelBundle, request: GenerateRequest): Promise<GenerateRequest> {
  const { prompt, negative } = textsToEncode(bundle, request);
  if (!bundle.promptEncoder) return request;
  checkRequest(bundle, request, ctx.limits); // a bad request fails before the encoder runs
  const encoded = { ...request };
  if (prompt === undefined && negative === undefined) {
    if (typeof (request.negativePrompt ?? bundle.negativePrompt) === 'string') encoded.negativePrompt = undefined; // unused without guidance
    return encoded;
  }
  // One encoder pass: the prompt with its negative, or the negative alone where the prompt is embeddings.
  const first = prompt ?? negative!;
  const second = prompt === undefined ? undefined : negative;
  const pair = await encodeOrRecall(ctx, bundle, first, second, request);
  if (prompt !== undefined) encoded.prompt = pair.prompt;
  if (negative !== undefined) encoded.negativePrompt = prompt === undefined ? pair.prompt : pair.negative;
  else if (typeof (request.negativePrompt ?? bundle.negativePrompt) === 'string') encoded.negativePrompt = undefined;
  return encoded;
}

/** umT5's output for `first` (and `second`): from the request's prompt store where it holds them, else encoded and stored. */
async function encodeOrRecall(ctx: GpuContext, bundle: ModelBundle, first: string, second: string | undefined, request: GenerateRequest) {
  const encoder = bundle.promptEncoder!;
  const { textLen } = bundle;
  const width = encoder.config.dModel;
  const store = request.promptStore;
  const key = store ? await promptStoreKey(await encoder.fingerprint(request.signal), first, second, textLen) : undefined;
  if (store && key) {
    const stored = await store.get(key);
    const prompt = paddedEmbedding(stored?.prompt, width, textLen);
    const negative = second === undefined ? undefined : paddedEmbedding(stored?.negative, width, textLen);
    if (prompt && (second === undefined || negative)) {
      request.onStage?.({ stage: 'encode', fromStore: true });
      return { prompt, negative };
    }
  }
  const { onStage } = request;
  onStage?.({ stage: 'encode', fromStore: false });
  const start = performance.now();
  const pair = await encoder.encode(ctx, first, second, textLen, {
    signal: request.signal,
    onLayer: onStage ? (layer, layers) => onStage({ stage: 'encode-layer', layer: layer + 1, layers }) : undefined,
  });
  if (onStage) {
    await ctx.sync(); // the encoder's time and what stays on the GPU once it is released
    onStage({ stage: 'release', liveBytes: ctx.liveBytes, seconds: (performance.now() - start) / 1000 });
  }
  if (store && key) {
    const value: StoredPromptPair = { prompt: storedRows(pair.prompt, encoder.tokenCount(first, textLen), width) };
    if (second !== undefined && pair.negative) value.negative = storedRows(pair.negative, encoder.tokenCount(second, textLen), width);
    // A store that cannot keep it (quota, private mode) costs the next run an encoder pass, not this run.
    await store.put(key, value).catch((e: unknown) => console.warn(`webdit: the prompt embedding was not stored (${(e as Error)?.message ?? String(e)})`));
  }
  return pair;
}

/** Generates a video with a loaded model: `generateVideo(ctx, bundle, { prompt: 'a red circle moving right', cache: 'bwcache' })`. */
export async function generateVideo(ctx: GpuContext, bundle: ModelBundle, request: GenerateRequest): Promise<VideoResult> {
  // Everything that can be checked is, before the text encoder or the sampler touch the GPU.
  const checked = checkRequest(bundle, request, ctx.limits);
  if (ctx.isLost) throw new GpuLostError('generate: the GPU device was lost before this run: generate again (a new device and the model are set up anew)');
  if (bundle.model.ctx !== ctx) throw new Error(`generate: ${bundle.name} was loaded on another GPU device: load it again on this one`);
  if (!bundle.model.weightsResident) {
    // Released by an earlier run's releaseTransformer. Outside releasingOnFailure: the weights outlive this run.
    if (!bundle.reloadTransformerWeights) throw new Error(`generate: ${bundle.name}'s transformer weights were released and this bundle cannot read them again: load the model again`);
    await bundle.reloadTransformerWeights(request.signal);
  }
  try {
    // A failure mid-forward leaves intermediates the model had no chance to release: free them too.
    return await ctx.releasingOnFailure(async () => {
      const { settings, ...options } = resolveRequest(bundle, await encodeTexts(ctx, bundle, request), ctx.limits);
      return { ...(await generate(ctx, options)), settings };
    });
  } catch (e) {
    if (e instanceof GpuOutOfMemoryError && !ctx.isLost) {
      // Free the pool too, once the GPU is done with what was recorded, so a smaller run can follow.
      await ctx.sync().catch(() => undefined);
      ctx.trimPool();
    }
    throw explainGpuFailure(ctx, e, checked);
  }
}

/** The device went away (driver reset, `device.destroy()`): nothing of the run or the model survives on it. */
export class GpuLostError extends Error {
  override name = 'GpuLostError';
}

/**
 * A failed run's error, said plainly: device loss (generate again: a new device is made) and
 * out-of-memory (the run's buffers are freed, and the pool's too, so a smaller run can follow).
 */
function explainGpuFailure(ctx: GpuContext, e: unknown, settings: GenerateSettings): unknown {
  if (!(e instanceof Error) || e.name === 'AbortError') return e;
  if (ctx.isLost) {
    return new GpuLostError(`generate: the GPU device was lost during the run (${e.message}); nothing was kept: generate again (a new device and the model are set up anew)`, { cause: e });
  }
  if (e instanceof GpuOutOfMemoryError) {
    return new GpuOutOfMemoryError(
      `generate: ${e.message} (${settings.frames} frames of ${settings.width}×${settings.height}); the run's buffers were freed: use fewer frames, a smaller size or close other GPU work, then generate again`,
      { cause: e },
    );
  }
  return e;
}
