// Runs in the browser (served by Vite with test/browser/wan-vae-check.html): fetches a Wan VAE golden
// (diffusers folder over HTTP, as a page would load it), decodes its latents on the page's WebGPU and
// returns the relative error against upstream's frames, on upstream's [−1, 1] scale.
import { createBrowserContext } from '../../src/gpu/device.ts';
import { loadWanVaeFolder } from '../../src/decoder/wan-vae-load.ts';
import { urlFolder } from '../../src/weights/folder.ts';
import { arrayBufferSource } from '../../src/weights/source.ts';
import { openSafetensors, readTensor } from '../../src/weights/safetensors.ts';

export interface WanVaeCheckOutput {
  adapter: string;
  frameShape: number[];
  relativeError: number;
  liveTensorsAfter: number;
}

async function runWanVaeCheck(goldenUrl: string): Promise<WanVaeCheckOutput> {
  const ctx = await createBrowserContext({ poison: true });
  try {
    const io = await openSafetensors(arrayBufferSource(await (await fetch(`${goldenUrl}/io.safetensors`)).arrayBuffer(), 'io.safetensors'));
    const [, C, T, h, w] = io.tensors.get('latents')!.shape;
    const ncthw = await readTensor(io, 'latents');
    const latents = new Float32Array(ncthw.length);
    for (let c = 0; c < C; c++) for (let t = 0; t < T; t++) latents.set(ncthw.subarray((c * T + t) * h * w, (c * T + t + 1) * h * w), (t * C + c) * h * w);
    const decoder = await loadWanVaeFolder(ctx, urlFolder(goldenUrl));
    const input = ctx.upload(latents, [T, C, h, w]);
    const frames = await decoder.decode(ctx, input);
    const out = await ctx.read(frames);
    const [F, , H, W] = frames.shape;
    const golden = await readTensor(io, 'frames'); // [1, 3, F, H, W] in [−1, 1]
    let diff = 0;
    let norm = 0;
    for (let f = 0; f < F; f++)
      for (let c = 0; c < 3; c++)
        for (let i = 0; i < H * W; i++) {
          const ref = golden[(c * F + f) * H * W + i];
          const got = 2 * out[(f * 3 + c) * H * W + i] - 1;
          diff += (got - ref) ** 2;
          norm += ref ** 2;
        }
    frames.release();
    input.release();
    decoder.dispose();
    ctx.checkErrors();
    return {
      adapter: `${ctx.adapterInfo.vendor} ${ctx.adapterInfo.architecture}`.trim(),
      frameShape: [...frames.shape],
      relativeError: Number.isFinite(diff) ? Math.sqrt(diff / norm) : Infinity,
      liveTensorsAfter: ctx.liveTensors,
    };
  } finally {
    ctx.destroy();
  }
}

(window as unknown as { runWanVaeCheck: typeof runWanVaeCheck }).runWanVaeCheck = runWanVaeCheck;
