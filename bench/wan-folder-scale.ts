// A Wan2.1 diffusers folder at real widths with random weights (the 1.3B transformer's, umT5-XXL's and
// the Wan VAE's shapes; full depth by default, 30 blocks and 24 layers; fewer with --layers/--text-layers,
// since umT5-XXL alone takes ≈ 30 min on SwiftShader), then one generation through the bundle, stage by
// stage: per-stage peak GPU bytes (the context's live tensors) and the process's peak resident memory,
// against the plan made before loading. One line of JSON (also written to --json FILE).
//
//   nice -n 10 npx tsx bench/wan-folder-scale.ts --out /tmp/wan-scale [--layers 30] [--text-layers 24] \
//     [--frames 5 --height 64 --width 64 --steps 1] [--reuse] [--release-transformer] [--json FILE]
//   (--reuse: the folder is already written; --release-transformer: the transformer's weights freed for decoding)

import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createNodeContext } from '../src/gpu/node.ts';
import { WAN21_VAE_CONFIG } from '../src/decoder/wan-vae-config.ts';
import { encodeSafetensors } from '../src/weights/safetensors.ts';
import { directoryFolder } from '../src/weights/node-folder.ts';
import { loadBundle } from '../src/pipeline/bundle.ts';
import { generateVideo } from '../src/pipeline/generate-video.ts';
import { planGeneration, readWanFolderConfigs } from '../src/pipeline/memory-plan.ts';
import { randomWanVaeTensors } from './randoms.ts';

const args = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? args[at + 1] : undefined;
};
const out = option('out');
if (!out) {
  console.error('usage: npx tsx bench/wan-folder-scale.ts --out DIR [--layers 30] [--text-layers 24] [--frames 5 --height 64 --width 64 --steps 1] [--reuse]');
  process.exit(2);
}
const here = fileURLToPath(new URL('.', import.meta.url));
const layers = option('layers') ?? '30';
const textLayers = option('text-layers') ?? '24';
const size = { frames: Number(option('frames') ?? 5), height: Number(option('height') ?? 64), width: Number(option('width') ?? 64) };
const steps = Number(option('steps') ?? 1);
const releaseTransformer = args.includes('--release-transformer');
const jsonPath = option('json');

function run(script: string, extra: string[]): void {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(here, script), ...extra], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error(`${script} failed (${r.status})`);
}


if (!args.includes('--reuse') || !existsSync(join(out, 'vae'))) {
  run('wan-shaped-model.ts', ['--out', out, '--layers', layers, '--channels', '16']);
  run('umt5-shaped-model.ts', ['--out', join(out, 'text_encoder'), '--layers', textLayers]);
  mkdirSync(join(out, 'tokenizer'), { recursive: true });
  // Any umT5 SentencePiece model will do for random weights: the golden's (its ids are < 1,000).
  copyFileSync(join(here, '../test/golden/wan_pipeline/model/tokenizer/spiece.model'), join(out, 'tokenizer/spiece.model'));
  mkdirSync(join(out, 'vae'), { recursive: true });
  writeFileSync(join(out, 'vae/diffusion_pytorch_model.safetensors'), encodeSafetensors(randomWanVaeTensors()));
  const c = WAN21_VAE_CONFIG;
  writeFileSync(join(out, 'vae/config.json'), JSON.stringify({ _class_name: 'AutoencoderKLWan', base_dim: c.baseDim, z_dim: c.zDim, dim_mult: c.dimMult,
    num_res_blocks: c.numResBlocks, attn_scales: [], temperal_downsample: [false, true, true], latents_mean: c.latentsMean, latents_std: c.latentsStd }));
  writeFileSync(join(out, 'model_index.json'), JSON.stringify({ _class_name: 'WanPipeline', tokenizer: ['transformers', 'T5TokenizerFast'],
    text_encoder: ['transformers', 'UMT5EncoderModel'], transformer: ['diffusers', 'WanTransformer3DModel'], vae: ['diffusers', 'AutoencoderKLWan'],
    scheduler: ['diffusers', 'UniPCMultistepScheduler'] }));
}

// Resident memory, sampled while each stage runs.
let rssPeak = 0;
const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 50);
const stageRss = () => {
  const peak = Math.max(rssPeak, process.memoryUsage().rss);
  rssPeak = 0;
  return peak;
};
const prompt = 'a cat running through the forest under bright sun';
const negative = 'blurry, static';
const folder = directoryFolder(out);
const configs = await readWanFolderConfigs(folder);
const ctx = await createNodeContext();
const started = performance.now();
const bundle = await loadBundle(ctx, folder);
const tokens = [bundle.promptEncoder!.tokenizer.encode(prompt).length, bundle.promptEncoder!.tokenizer.encode(negative).length];
const plan = planGeneration(configs, size, { promptTokens: tokens[0], negativeTokens: tokens[1], maxBindingBytes: ctx.bindingLimit, releaseTransformer });
const loadSeconds = (performance.now() - started) / 1000;
const loadRss = stageRss();
ctx.resetPeakBytes();
const t0 = performance.now();
const pair = await bundle.promptEncoder!.encode(ctx, prompt, negative, bundle.textLen);
const encode = { seconds: (performance.now() - t0) / 1000, gpuBytes: ctx.peakLiveBytes, rss: stageRss() };
const result = await generateVideo(ctx, bundle, { prompt: pair.prompt, negativePrompt: pair.negative, ...size, steps, guidance: 5, releaseTransformer });
const sampleDecodeRss = stageRss();
clearInterval(sampler);
const mib = (b: number) => Math.round((b / 2 ** 20) * 10) / 10;
const line = JSON.stringify({
  size, steps, layers: Number(layers), textLayers: Number(textLayers), tokens, releaseTransformer, adapter: ctx.adapterInfo?.description ?? ctx.adapterInfo?.architecture,
  finite: result.frames.every(Number.isFinite),
  seconds: { load: loadSeconds, encode: encode.seconds, sample: result.samplingSeconds, decode: result.decodeSeconds },
  measuredGpuMib: { encode: mib(encode.gpuBytes), sample: mib(result.stagePeakGpuBytes.sample), decode: mib(result.stagePeakGpuBytes.decode) },
  plannedGpuMib: { encode: mib(plan.stages.encode.gpuBytes), sample: mib(plan.stages.sample.gpuBytes), decode: mib(plan.stages.decode.gpuBytes) },
  residentMib: { load: mib(loadRss), encode: mib(encode.rss), sampleAndDecode: mib(sampleDecodeRss) },
  plannedHostMib: { encode: mib(plan.stages.encode.hostBytes), sample: mib(plan.stages.sample.hostBytes), decode: mib(plan.stages.decode.hostBytes) },
});
console.log(line);
if (jsonPath) writeFileSync(jsonPath, `${line}\n`);
bundle.dispose();
ctx.destroy();
