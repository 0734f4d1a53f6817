// The Wan VAE decoder with Wan2.1's shapes (base width 96, random weights) beside TAEHV (taew2_1's
// shapes, the golden's random weights) on the same latents: decode seconds, the context's peak of
// live GPU bytes against the plan's, and the VAE / TAEHV time ratio. One line of JSON.
//
//   npx tsx bench/vae-decode.ts [--frames 5] [--height 32] [--width 32] [--repeats 2] [--max-binding-mib N]
//
// Each decoder decodes once to compile its kernels, then `repeats` timed times (median reported).

import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createNodeContext } from '../src/gpu/node.ts';
import { WAN21_VAE_CONFIG } from '../src/decoder/wan-vae-config.ts';
import { loadWanVaeFile } from '../src/decoder/wan-vae-load.ts';
import { planWanVaeDecode } from '../src/decoder/wan-vae-plan.ts';
import { TaehvDecoder } from '../src/decoder/taehv.ts';
import { arrayBufferSource } from '../src/weights/source.ts';
import { fileSource } from '../src/weights/node-source.ts';
import { encodeSafetensors } from '../src/weights/safetensors.ts';
import type { VideoDecoder } from '../src/decoder/decoder.ts';
import type { GpuContext } from '../src/gpu/context.ts';
import { randomWanVaeTensors, randoms } from './randoms.ts';

const args = process.argv.slice(2);
const arg = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const [frames, height, width, repeats] = [arg('frames', 5), arg('height', 32), arg('width', 32), arg('repeats', 2)];
const T = (frames - 1) / 4 + 1;
const [h, w] = [height / 8, width / 8];
if (!Number.isInteger(T) || !Number.isInteger(h) || !Number.isInteger(w)) throw new Error('frames must be 1 + 4k and the sides multiples of 8');


const ctx = await createNodeContext();
const limit = arg('max-binding-mib', 0) > 0 ? arg('max-binding-mib', 0) * 2 ** 20 : Math.min(ctx.limits.maxStorageBufferBindingSize, ctx.limits.maxBufferSize);

const vae = await loadWanVaeFile(ctx, arrayBufferSource(encodeSafetensors(randomWanVaeTensors()), 'wan2.1-shaped-vae.safetensors'));
const taehvPath = join(fileURLToPath(new URL('.', import.meta.url)), '../test/golden/taehv/decoder/taew2_1.safetensors');
const taehv = await TaehvDecoder.load(ctx, await fileSource(taehvPath));
const latents = ctx.upload(randoms(T * 16 * h * w, 99, 1.7), [T, 16, h, w]);

async function time(ctx: GpuContext, decoder: VideoDecoder, options: object): Promise<{ seconds: number; peakBytes: number }> {
  (await decoder.decode(ctx, latents, options)).release(); // compiles the kernels
  await ctx.sync();
  const runs: number[] = [];
  let peakBytes = 0;
  for (let r = 0; r < repeats; r++) {
    const base = ctx.liveBytes;
    ctx.resetPeakBytes();
    const t0 = performance.now();
    const out = await decoder.decode(ctx, latents, options);
    await ctx.read(out); // waits for the GPU
    runs.push((performance.now() - t0) / 1000);
    peakBytes = Math.max(peakBytes, ctx.peakLiveBytes - base);
    out.release();
  }
  runs.sort((a, b) => a - b);
  return { seconds: runs[Math.floor(runs.length / 2)], peakBytes };
}

const weightsBytes = ctx.liveBytes;
const v = await time(ctx, vae, { maxBindingBytes: limit });
const t = await time(ctx, taehv, {});
const plan = planWanVaeDecode(WAN21_VAE_CONFIG, T, h, w, limit);
const mib = (b: number) => Math.round((b / 2 ** 20) * 10) / 10;
console.log(
  JSON.stringify({
    adapter: ctx.adapterInfo ? `${ctx.adapterInfo.vendor} ${ctx.adapterInfo.architecture} ${ctx.adapterInfo.description}`.trim() : undefined,
    latents: [T, 16, h, w],
    frames: [plan.frames, 3, plan.height, plan.width],
    vaeSeconds: Math.round(v.seconds * 1000) / 1000,
    taehvSeconds: Math.round(t.seconds * 1000) / 1000,
    vaeOverTaehv: Math.round((v.seconds / t.seconds) * 10) / 10,
    vaePeakMiB: mib(v.peakBytes),
    planPeakMiBWithoutWeights: mib(plan.peakBytes - plan.weightBytes),
    weightsMiB: mib(weightsBytes),
    spatialPieces: plan.pieces.tiles.length,
  }),
);
vae.dispose();
taehv.dispose();
latents.release();
ctx.destroy();
