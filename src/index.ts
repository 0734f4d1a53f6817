// webdit's public API for the browser: `import … from 'webdit'` in a bundler (the package's "browser"
// entry). It defines no element: `webdit/element` does, and dist/webdit.js (src/webdit.ts) is both.

export { createBrowserContext, WebGpuUnavailableError } from './gpu/device.ts';
export type { GpuContext } from './gpu/context.ts';
export { loadBundle, type ModelBundle, type BundleLoadOptions, type BundleDefaults } from './pipeline/bundle.ts';
export { AbortError, latentShape, type GenerateProgress, type GenerateResult, type PromptEmbedding } from './pipeline/generate.ts';
export { generateVideo, resolveRequest, checkRequest, type GenerateRequest, type GenerateSettings, type GenerateStage, type VideoResult } from './pipeline/generate-video.ts';
export { MemoryPromptStore, type PromptEmbeddingStore, type StoredPromptPair } from './pipeline/prompt-store.ts';
export { loadBundleFromParts, WAN21_SCHEDULER_CONFIG, type WanPartFiles } from './pipeline/parts.ts';
export { sharedPromptStore, IndexedDbPromptStore } from './ui/prompt-store.ts';
export { WAN_NEGATIVE_PROMPT } from './pipeline/wan-text.ts';
export { PRESETS, WAN21_FOLDER_CONFIGS, planGeneration, readWanFolderConfigs, largestFittingPreset, refuseIfTooLarge, type GenerationPlan, type Preset } from './pipeline/memory-plan.ts';
export { AdapterTooSmallError, adapterShortfalls, checkAdapterFits, largestPresetForAdapter, type AdapterCapacity, type AdapterLimits, type Shortfall } from './pipeline/adapter-fit.ts';
export { runCacheBenchmark, type BenchReport, type BenchSettings, type PolicyResult } from './pipeline/bench.ts';
export { parseCacheSpec, formatCacheSpec } from './cache/spec.ts';
export type { CacheConfig } from './cache/policies.ts';
export type { CacheStats } from './cache/manager.ts';
export { urlFolder, fileMapFolder, type ModelFolder } from './weights/folder.ts';
export { urlSource, blobSource, arrayBufferSource, type ByteSource } from './weights/source.ts';
export { framesToRgba8 } from './frames/rgba.ts';
export { encodeVideo, encodeWebm, chooseVideoCodec, type EncodedVideo, type EncodeVideoOptions, type VideoContainer } from './frames/video.ts';
export { psnr, ssim } from './frames/metrics.ts';
export { readPromptEmbedding } from './ui/embeddings.ts';
export { encodeClip, type Clip } from './ui/video.ts';
export { sharedContext, sharedModel, runExclusive } from './ui/engine.ts';
