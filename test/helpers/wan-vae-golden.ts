// The Wan VAE goldens (test/golden/vae) in the decoder's layout.
import { join } from 'node:path';
import { fileSource } from '../../src/weights/node-source.ts';
import { openSafetensors, readTensor } from '../../src/weights/safetensors.ts';

export const GOLDEN = join(__dirname, '../golden/vae');

/** [1, C, T, h, w] → [T, C, h, w]. */
function channelsToFrames(data: Float32Array, C: number, T: number, plane: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let c = 0; c < C; c++) for (let t = 0; t < T; t++) out.set(data.subarray((c * T + t) * plane, (c * T + t + 1) * plane), (t * C + c) * plane);
  return out;
}

/** Latents [T, 16, h, w] and upstream's frames as [F, 3, H, W] in [0, 1]. */
export async function vaeGolden(name: string) {
  const io = await openSafetensors(await fileSource(join(GOLDEN, name, 'io.safetensors')));
  const [, C, T, h, w] = io.tensors.get('latents')!.shape;
  const [, , F, H, W] = io.tensors.get('frames')!.shape;
  const latents = channelsToFrames(await readTensor(io, 'latents'), C, T, h * w);
  // Upstream's frames in [−1, 1] as the decoder's [F, 3, H, W] in [0, 1].
  const frames = channelsToFrames(await readTensor(io, 'frames'), 3, F, H * W).map((v) => (v + 1) / 2);
  return { latents, latentShape: [T, C, h, w], frames, frameShape: [F, 3, H, W] };
}

