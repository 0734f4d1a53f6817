import { rename, rm, writeFile } from 'node:fs/promises';
import type { Command } from '../main.ts';
import { UsageError } from '../args.ts';
import { createNodeContext } from '../../gpu/node.ts';
import { fileSource } from '../../weights/node-source.ts';
import { encodeSafetensors, openSafetensors, readTensor } from '../../weights/safetensors.ts';
import { parseCacheSpec, formatCacheSpec } from '../../cache/spec.ts';
import { generateVideo } from '../../pipeline/generate-video.ts';
import { framesToRgba8 } from '../../frames/rgba.ts';
import { containerOfFileName, encodeVideo, type EncodedVideo } from '../../frames/video.ts';
import { initNodeVideoEncoder, useNodeWebCodecs } from '../../frames/node-video.ts';
import { checkInputFile, checkModelPath, checkOutputPath } from '../check-paths.ts';
import { checkSamplingOptions } from '../../pipeline/preflight.ts';
import type { ModelBundle } from '../../pipeline/bundle.ts';
import { givesParts, loadBundleFromArgs, loadPartsFromArgs, promptFromArgs, samplingFromArgs, type PartPaths } from '../model-args.ts';

/** Writes through a temporary name, so an interrupted write never leaves a partial file at `path`. */
async function writeWhole(path: string, bytes: Uint8Array): Promise<void> {
  const partial = `${path}.partial-${process.pid}`;
  try {
    await writeFile(partial, bytes);
    await rename(partial, path);
  } catch (e) {
    await rm(partial, { force: true });
    throw e;
  }
}

function progressBar(step: number, steps: number, elapsedMs: number, etaMs: number): string {
  const width = 30;
  const filled = Math.round((step / steps) * width);
  return `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] step ${step}/${steps}  ${(elapsedMs / 1000).toFixed(1)}s elapsed, ~${(etaMs / 1000).toFixed(1)}s left `;
}

function describeVideo(video: EncodedVideo, unavailable: string | undefined): string {
  const size = `${video.width}×${video.height}, ${(video.bytes.length / 1024).toFixed(1)} KiB`;
  if (video.codec === 'vp8-key-frames') return `video: WebM of VP8 key frames (${size}); for inter-frame VP9 or MP4, install @napi-rs/webcodecs (${unavailable})`;
  return `video: ${video.container === 'mp4' ? 'MP4' : 'WebM'} ${video.codec.toUpperCase()} at ${(video.bitrate! / 1000).toFixed(0)} kb/s (${size})`;
}

const generateCommand: Command = {
  summary: 'Generate a video from a prompt (default model: the shipped toy model) and write .mp4, .webm or .safetensors.',
  usage:
    'webdit generate [--model DIR | --transformer FILE [--transformer-config FILE] --text-encoder FILE --tokenizer spiece.model] [--decoder FILE | --vae PATH] (--prompt TEXT | --embeds FILE) [--negative-prompt TEXT | --negative-embeds FILE] ' +
    '[--frames F --height H --width W --steps N --guidance G] [--seed S] [--cache SPEC] [--latents FILE] [--scale K] [--memory-gib G] [--release-transformer] --out OUT(.mp4|.webm|.safetensors)\n' +
    '  (a Wan2.1 folder is checked against the adapter\'s limits, and --memory-gib G of GPU memory, before any weight is read; ' +
    '--release-transformer frees the transformer\'s weights for decoding; without it, they are freed only where --memory-gib fits no other way)',
  async run(options) {
    const modelDir = options.string('model');
    const decoderPath = options.string('decoder');
    const vaePath = options.string('vae');
    const parts: PartPaths = {
      transformer: options.string('transformer'),
      transformerConfig: options.string('transformer-config'),
      textEncoder: options.string('text-encoder'),
      tokenizer: options.string('tokenizer'),
    };
    const text = options.string('prompt');
    const embeds = options.string('embeds');
    const negativeText = options.string('negative-prompt') ?? options.string('negative');
    const negativeEmbeds = options.string('negative-embeds');
    const seed = options.integer('seed', 0)!;
    const cacheSpec = options.string('cache') ?? 'none';
    const latentsPath = options.string('latents');
    const scale = options.integer('scale');
    const out = options.requiredString('out');
    const quiet = options.flag('quiet');
    const memoryGib = options.number('memory-gib');
    const releaseTransformer = options.flag('release-transformer');
    const sampling = samplingFromArgs(options);
    options.finish();
    // Everything that can be checked without the GPU, before it: a typo must not cost a generation.
    checkOutputPath('generate', out, ['.mp4', '.webm', '.safetensors']);
    const container = containerOfFileName(out);
    if (text === undefined && embeds === undefined) throw new UsageError('generate: give --prompt TEXT or --embeds FILE');
    if (text !== undefined && embeds !== undefined) throw new UsageError('generate: give --prompt or --embeds, not both');
    if (negativeText !== undefined && negativeEmbeds !== undefined) throw new UsageError('generate: give --negative or --negative-embeds, not both');
    if (scale !== undefined && scale < 1) throw new UsageError(`generate: --scale must be a positive integer, got ${scale}`);
    if (memoryGib !== undefined && !(memoryGib > 0)) throw new UsageError(`generate: --memory-gib must be a positive number, got ${memoryGib}`);
    if (modelDir !== undefined) checkModelPath('generate', modelDir);
    if (modelDir !== undefined && givesParts(parts)) throw new UsageError('generate: give --model DIR or single files (--transformer, --text-encoder, --tokenizer), not both');
    if (givesParts(parts) && vaePath !== undefined) checkInputFile('generate', 'vae', vaePath);
    const partFiles = [['transformer', parts.transformer], ['transformer-config', parts.transformerConfig], ['text-encoder', parts.textEncoder]] as const;
    for (const [option, path] of [['decoder', decoderPath], ['embeds', embeds], ['negative-embeds', negativeEmbeds], ['latents', latentsPath], ...partFiles] as const) {
      if (path !== undefined) checkInputFile('generate', option, path);
    }
    try {
      checkSamplingOptions({ steps: sampling.steps ?? 1, guidance: sampling.guidance ?? 0, seed });
    } catch (e) {
      throw new UsageError(`generate: ${(e as Error).message}`);
    }
    let cache;
    try {
      cache = parseCacheSpec(cacheSpec);
    } catch (e) {
      throw new UsageError(`generate: --cache ${(e as Error).message}`);
    }
    // An .mp4 needs H.264 from @napi-rs/webcodecs (an optional dependency).
    const encoders = container ? await useNodeWebCodecs() : undefined;
    if (container === 'mp4' && !encoders?.codecs.includes('avc')) {
      throw new UsageError(
        `generate: cannot write ${out}: no H.264 encoder in this Node (${encoders?.unavailable ?? 'no avc'}). ` +
          'Install it with `npm install @napi-rs/webcodecs` (prebuilt for Linux, macOS and Windows on x64 and arm64), or write .webm.',
      );
    }
    // Ctrl-C stops the run within one step; main exits 130 and no file is written.
    const interrupt = new AbortController();
    const onInterrupt = () => interrupt.abort();
    process.once('SIGINT', onInterrupt);
    const ctx = await createNodeContext();
    let bundle: ModelBundle | undefined;
    try {
      const video = { frames: sampling.frames, height: sampling.height, width: sampling.width };
      const cachePlan = cache.policy === 'none' ? 'none' : cache.policy === 'bwcache' && cache.reuse === 'block' ? 'blocks' : 'stack';
      const fit = {
        video,
        memoryBytes: memoryGib === undefined ? undefined : Math.floor(memoryGib * 2 ** 30),
        cache: cachePlan,
        releaseTransformer: releaseTransformer || 'auto',
      } as const;
      bundle = givesParts(parts) ? await loadPartsFromArgs(ctx, parts, decoderPath, vaePath) : await loadBundleFromArgs(ctx, modelDir, decoderPath, vaePath, fit);
      const { prompt, negative } = await promptFromArgs(bundle, text, embeds, negativeText, negativeEmbeds);
      let latents: Float32Array | undefined;
      if (latentsPath) {
        const file = await openSafetensors(await fileSource(latentsPath));
        if (!file.tensors.has('latents')) throw new Error(`${latentsPath}: no tensor "latents"`);
        latents = await readTensor(file, 'latents');
      }
      const result = await generateVideo(ctx, bundle, {
        prompt,
        negativePrompt: negative,
        ...sampling,
        seed,
        cache,
        latents,
        releaseTransformer: releaseTransformer || undefined,
        signal: interrupt.signal,
        onProgress: quiet ? undefined : (p) => process.stderr.write(progressBar(p.step, p.steps, p.elapsedMs, p.etaMs)),
      });
      if (!quiet) process.stderr.write('\n');
      const [f, c, h, w] = result.shape;
      if (out.toLowerCase().endsWith('.safetensors')) {
        await writeWhole(out, encodeSafetensors({ frames: { dtype: 'F32', shape: [f, c, h, w], data: result.frames } }, { cache: formatCacheSpec(cache), seed: String(seed) }));
      } else {
        const video = await encodeVideo(framesToRgba8(result.frames, result.shape), w, h, {
          format: container,
          scale: scale ?? Math.max(1, Math.floor(256 / Math.max(w, h))),
          loadKeyFrameEncoder: initNodeVideoEncoder,
        });
        await writeWhole(out, video.bytes);
        if (!quiet) console.error(describeVideo(video, encoders?.unavailable));
      }
      const reused = 1 - result.stats.computedFraction;
      console.error(
        `wrote ${out}: ${f} frames ${w}×${h} in ${result.seconds.toFixed(2)} s (sampling ${result.samplingSeconds.toFixed(2)} s, decode ${result.decodeSeconds.toFixed(2)} s); ` +
          `cache ${formatCacheSpec(cache)}: ${(reused * 100).toFixed(0)}% of block computations reused`,
      );
    } finally {
      process.removeListener('SIGINT', onInterrupt);
      bundle?.dispose();
      ctx.destroy();
    }
  },
};
export default generateCommand;
