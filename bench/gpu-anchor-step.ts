// Seconds per sampling step of a model folder (bench/wan-shaped-model.ts) at one video size, for
// bench/gpu-anchor.sh: one warm-up generation of 1 step (compiles every kernel), then one of --steps
// steps, timed per step from generate()'s progress; no cache, CFG on (the model's guidance). One JSON
// line: tokens, per-step milliseconds, their median in seconds, the Dawn flags and kernel paths.
//
//   npx tsx bench/gpu-anchor-step.ts --model DIR --frames 3 --height 48 --width 64 [--steps 3]

import { createNodeContext, dawnFlagsInUse } from '../src/gpu/node.ts';
import { kernelPaths } from '../src/gpu/features.ts';
import { loadBundleFromArgs, promptFromArgs } from '../src/cli/model-args.ts';
import { generateVideo } from '../src/pipeline/generate-video.ts';

const args = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? args[at + 1] : undefined;
};
const modelDir = option('model');
const [frames, height, width, steps] = ['frames', 'height', 'width', 'steps'].map((n) => Number(option(n) ?? (n === 'steps' ? 3 : NaN)));
if (!modelDir || ![frames, height, width, steps].every((v) => Number.isInteger(v) && v > 0)) {
  console.error('usage: npx tsx bench/gpu-anchor-step.ts --model DIR --frames F --height H --width W [--steps N]');
  process.exit(2);
}

const ctx = await createNodeContext();
const bundle = await loadBundleFromArgs(ctx, modelDir, undefined);
const embeds = `${modelDir}/embeds.safetensors`;
const { prompt, negative } = await promptFromArgs(bundle, undefined, embeds, undefined, embeds);
const request = { prompt, negativePrompt: negative, frames, height, width, seed: 0, cache: 'none' };
await generateVideo(ctx, bundle, { ...request, steps: 1 });
const stepMs: number[] = [];
let last = 0;
const result = await generateVideo(ctx, bundle, {
  ...request,
  steps,
  onProgress: (p) => {
    stepMs.push(p.elapsedMs - last);
    last = p.elapsedMs;
  },
});
const sorted = [...stepMs].sort((a, b) => a - b);
const { patchSize } = bundle.model.config;
const tokens = Math.ceil(frames / patchSize[0]) * (height / patchSize[1]) * (width / patchSize[2]);
console.log(
  JSON.stringify({
    tokens,
    frames,
    height,
    width,
    steps,
    guidance: result.settings.guidance,
    secondsPerStep: sorted[Math.floor(sorted.length / 2)] / 1000,
    seconds: result.seconds,
    stepMs: stepMs.map((ms) => Number(ms.toFixed(2))),
    dawnFlags: dawnFlagsInUse,
    kernelPaths: kernelPaths(ctx),
  }),
);
bundle.dispose();
ctx.destroy();
