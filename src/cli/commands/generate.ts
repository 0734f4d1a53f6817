import { writeFile } from 'node:fs/promises';
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
import { loadBundleFromArgs, promptFromArgs, samplingFromArgs } from '../model-args.ts';

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
    'webdit generate [--model DIR] [--decoder FILE | --vae PATH] (--prompt TEXT | --embeds FILE) [--negative-prompt TEXT | --negative-embeds FILE] ' +
    '[--frames F --height H --width W --steps N --guidance G] [--seed S] [--cache SPEC] [--latents FILE] [--scale K] --out OUT(.mp4|.webm|.safetensors)',
  async run(options) {
    const modelDir = options.string('model');
    const decoderPath = options.string('decoder');
    const vaePath = options.string('vae');
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
    const container = containerOfFileName(out);
    if (!container && !/\.safetensors$/i.test(out)) throw new UsageError('generate: --out must end in .mp4, .webm or .safetensors');
    // Before any GPU work: an .mp4 needs H.264 from @napi-rs/webcodecs (an optional dependency).
    const encoders = container ? await useNodeWebCodecs() : undefined;
    if (container === 'mp4' && !encoders?.codecs.includes('avc')) {
      throw new UsageError(
        `generate: cannot write ${out}: no H.264 encoder in this Node (${encoders?.unavailable ?? 'no avc'}). ` +
          'Install it with `npm install @napi-rs/webcodecs` (prebuilt for Linux, macOS and Windows on x64 and arm64), or write .webm.',
      );
    }
    if (text === undefined && embeds === undefined) throw new UsageError('generate: give --prompt TEXT or --embeds FILE');
    const cache = parseCacheSpec(cacheSpec);
    const ctx = await createNodeContext();
    const bundle = await loadBundleFromArgs(ctx, modelDir, decoderPath, vaePath);
    try {
      const sampling = samplingFromArgs(options);
      options.finish();
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
        onProgress: quiet ? undefined : (p) => process.stderr.write(progressBar(p.step, p.steps, p.elapsedMs, p.etaMs)),
      });
      if (!quiet) process.stderr.write('\n');
      const [f, c, h, w] = result.shape;
      if (out.toLowerCase().endsWith('.safetensors')) {
        await writeFile(out, encodeSafetensors({ frames: { dtype: 'F32', shape: [f, c, h, w], data: result.frames } }, { cache: formatCacheSpec(cache), seed: String(seed) }));
      } else {
        const video = await encodeVideo(framesToRgba8(result.frames, result.shape), w, h, {
          format: container,
          scale: scale ?? Math.max(1, Math.floor(256 / Math.max(w, h))),
          loadKeyFrameEncoder: initNodeVideoEncoder,
        });
        await writeFile(out, video.bytes);
        if (!quiet) console.error(describeVideo(video, encoders?.unavailable));
      }
      const reused = 1 - result.stats.computedFraction;
      console.error(
        `wrote ${out}: ${f} frames ${w}×${h} in ${result.seconds.toFixed(2)} s (sampling ${result.samplingSeconds.toFixed(2)} s, decode ${result.decodeSeconds.toFixed(2)} s); ` +
          `cache ${formatCacheSpec(cache)}: ${(reused * 100).toFixed(0)}% of block computations reused`,
      );
    } finally {
      bundle.dispose();
      ctx.destroy();
    }
  },
};
export default generateCommand;
