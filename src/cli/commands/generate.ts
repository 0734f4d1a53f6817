import { writeFile } from 'node:fs/promises';
import type { Command } from '../main.ts';
import { UsageError } from '../args.ts';
import { createNodeContext } from '../../gpu/node.ts';
import { fileSource } from '../../weights/node-source.ts';
import { encodeSafetensors, openSafetensors, readTensor } from '../../weights/safetensors.ts';
import { parseCacheSpec, formatCacheSpec } from '../../cache/spec.ts';
import { generate } from '../../pipeline/generate.ts';
import { withModelCalibration } from '../../pipeline/bundle.ts';
import { framesToRgba8 } from '../../frames/rgba.ts';
import { encodeWebm } from '../../frames/video.ts';
import { initNodeVideoEncoder } from '../../frames/node-video.ts';
import { loadBundleFromArgs, promptFromArgs, samplingFromArgs } from '../model-args.ts';

function progressBar(step: number, steps: number, elapsedMs: number, etaMs: number): string {
  const width = 30;
  const filled = Math.round((step / steps) * width);
  return `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] step ${step}/${steps}  ${(elapsedMs / 1000).toFixed(1)}s elapsed, ~${(etaMs / 1000).toFixed(1)}s left `;
}

const generateCommand: Command = {
  summary: 'Generate a video from a prompt (default model: the shipped toy model) and write .webm or .safetensors.',
  usage:
    'webdit generate [--model DIR] [--decoder FILE | --vae PATH] (--prompt TEXT | --embeds FILE) [--negative TEXT | --negative-embeds FILE] ' +
    '[--frames F --height H --width W --steps N --guidance G] [--seed S] [--cache SPEC] [--latents FILE] [--scale K] --out OUT(.webm|.safetensors)',
  async run(options) {
    const modelDir = options.string('model');
    const decoderPath = options.string('decoder');
    const vaePath = options.string('vae');
    const text = options.string('prompt');
    const embeds = options.string('embeds');
    const negativeText = options.string('negative');
    const negativeEmbeds = options.string('negative-embeds');
    const seed = options.integer('seed', 0)!;
    const cacheSpec = options.string('cache') ?? 'none';
    const latentsPath = options.string('latents');
    const scale = options.integer('scale');
    const out = options.requiredString('out');
    const quiet = options.flag('quiet');
    if (!/\.(webm|safetensors)$/i.test(out)) {
      throw new UsageError(`generate: --out must end in .webm or .safetensors${/\.mp4$/i.test(out) ? ' (MP4 needs an H.264/VP9 encoder webdit does not ship; use .webm)' : ''}`);
    }
    if (text === undefined && embeds === undefined) throw new UsageError('generate: give --prompt TEXT or --embeds FILE');
    const cache = parseCacheSpec(cacheSpec);
    const ctx = await createNodeContext();
    const bundle = await loadBundleFromArgs(ctx, modelDir, decoderPath, vaePath);
    try {
      const sampling = samplingFromArgs(options, bundle);
      options.finish();
      const { prompt, negative } = await promptFromArgs(bundle, text, embeds, negativeText, negativeEmbeds);
      let latents: Float32Array | undefined;
      if (latentsPath) {
        const file = await openSafetensors(await fileSource(latentsPath));
        if (!file.tensors.has('latents')) throw new Error(`${latentsPath}: no tensor "latents"`);
        latents = await readTensor(file, 'latents');
      }
      const result = await generate(ctx, {
        model: bundle.model,
        decoder: bundle.decoder,
        condition: bundle.condition,
        prompt,
        negativePrompt: negative,
        textLen: bundle.textLen,
        ...sampling,
        seed,
        scheduler: bundle.scheduler,
        cache: withModelCalibration(cache, bundle),
        latents,
        onProgress: quiet ? undefined : (p) => process.stderr.write(progressBar(p.step, p.steps, p.elapsedMs, p.etaMs)),
      });
      if (!quiet) process.stderr.write('\n');
      const [f, c, h, w] = result.shape;
      if (out.toLowerCase().endsWith('.safetensors')) {
        await writeFile(out, encodeSafetensors({ frames: { dtype: 'F32', shape: [f, c, h, w], data: result.frames } }, { cache: formatCacheSpec(cache), seed: String(seed) }));
      } else {
        await initNodeVideoEncoder();
        const video = await encodeWebm(framesToRgba8(result.frames, result.shape), w, h, { scale: scale ?? Math.max(1, Math.floor(256 / Math.max(w, h))) });
        await writeFile(out, video);
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
