// webdit's public API for Node (the package's "node" entry): WebGPU through Dawn (the `webgpu` package),
// model folders and weights read from local files, WebM written with the packaged libwebp, and the path of
// the toy model the package ships. Shaders are read from the package's shaders/ folder.

export { createNodeContext, nodeGpu } from './gpu/node.ts';
export type { RequestOptions } from './gpu/device.ts';
export type { GpuContext } from './gpu/context.ts';
export { loadBundle, withModelCalibration, type ModelBundle, type BundleLoadOptions, type BundleDefaults } from './pipeline/bundle.ts';
export { AbortError, latentShape, type GenerateProgress, type GenerateResult, type PromptEmbedding } from './pipeline/generate.ts';
export { generateVideo, resolveRequest, type GenerateRequest, type GenerateSettings, type GenerateStage, type VideoResult } from './pipeline/generate-video.ts';
export { MemoryPromptStore, type PromptEmbeddingStore, type StoredPromptPair } from './pipeline/prompt-store.ts';
export { loadBundleFromParts, WAN21_SCHEDULER_CONFIG, type WanPartFiles } from './pipeline/parts.ts';
export { runCacheBenchmark, type BenchReport, type BenchSettings, type PolicyResult } from './pipeline/bench.ts';
export { parseCacheSpec, formatCacheSpec } from './cache/spec.ts';
export type { CacheConfig } from './cache/policies.ts';
export type { CacheStats } from './cache/manager.ts';
export { urlFolder, type ModelFolder } from './weights/folder.ts';
export { urlSource, blobSource, arrayBufferSource, type ByteSource } from './weights/source.ts';
export { directoryFolder, shippedModelDir } from './weights/node-folder.ts';
export { fileSource } from './weights/node-source.ts';
export { openSafetensors, readTensor, encodeSafetensors } from './weights/safetensors.ts';
export { framesToRgba8 } from './frames/rgba.ts';
export { encodeNodeWebm as encodeWebm, encodeNodeVideo as encodeVideo, useNodeWebCodecs } from './frames/node-video.ts';
export type { EncodedVideo, EncodeVideoOptions, VideoContainer } from './frames/video.ts';
export { psnr, ssim } from './frames/metrics.ts';
