import { writeFile } from 'node:fs/promises';
import type { Command } from '../main.ts';
import { UsageError } from '../args.ts';
import { createNodeContext } from '../../gpu/node.ts';
import type { GpuContext } from '../../gpu/context.ts';
import type { VideoDecoder } from '../../decoder/decoder.ts';
import { TaehvDecoder, type TaehvDecodeOptions } from '../../decoder/taehv.ts';
import { fileSource } from '../../weights/node-source.ts';
import type { WanVaeDecodeOptions } from '../../decoder/wan-vae.ts';
import { loadWanVaeFromPath } from '../model-args.ts';
import { encodeSafetensors, openSafetensors, readTensor, type SafetensorsFile } from '../../weights/safetensors.ts';

export type LatentLayout = 'NTCHW' | 'NCTHW';
const LAYOUTS: readonly LatentLayout[] = ['NTCHW', 'NCTHW'];

export interface DecodedFrames {
  /** [1, F, 3, H, W] (NTCHW, as taehv.py returns them). */
  shape: number[];
  data: Float32Array;
}

/**
 * Decodes one latents tensor of a safetensors file: [1, T, C, h, w] (NTCHW, taehv.py's layout) or
 * [1, C, T, h, w] (NCTHW, as the Wan pipeline samples them); batch 1. `chunkFrames` is for TAEHV.
 */
export async function decodeLatentsFile(
  ctx: GpuContext,
  decoder: VideoDecoder,
  file: SafetensorsFile,
  options: { name?: string; layout?: LatentLayout; defaultLayout?: LatentLayout } & TaehvDecodeOptions & WanVaeDecodeOptions = {},
): Promise<DecodedFrames> {
  const name = options.name ?? 'latents';
  const info = file.tensors.get(name);
  if (!info) throw new Error(`${file.source.name}: no tensor "${name}" (it has ${[...file.tensors.keys()].map((k) => `"${k}"`).join(', ') || 'none'})`);
  const layout = options.layout ?? (LAYOUTS.includes(file.metadata.layout as LatentLayout) ? (file.metadata.layout as LatentLayout) : (options.defaultLayout ?? 'NTCHW'));
  if (info.shape.length !== 5 || info.shape[0] !== 1) {
    throw new Error(`${file.source.name}: "${name}" must be [1, ${layout.slice(1).split('').join(', ')}] (batch 1), got [${info.shape.join(', ')}]`);
  }
  const [, a, b, h, w] = info.shape;
  const [T, C] = layout === 'NTCHW' ? [a, b] : [b, a];
  if (C !== decoder.latentChannels) {
    throw new Error(`${file.source.name}: "${name}" has ${C} channels in layout ${layout}; the decoder takes ${decoder.latentChannels}`);
  }
  let values = await readTensor(file, name);
  if (layout === 'NCTHW') values = swapFirstTwoAxes(values, C, T, h * w);
  const latents = ctx.upload(values, [T, C, h, w], 'f32', name);
  try {
    const decodeOptions: TaehvDecodeOptions & WanVaeDecodeOptions = {
      signal: options.signal,
      chunkFrames: options.chunkFrames,
      maxBindingBytes: options.maxBindingBytes,
      bandRows: options.bandRows,
      stripColumns: options.stripColumns,
      carriedF16: options.carriedF16,
    };
    const frames = await decoder.decode(ctx, latents, decodeOptions);
    try {
      return { shape: [1, ...frames.shape], data: await ctx.read(frames) };
    } finally {
      frames.release();
    }
  } finally {
    latents.release();
  }
}

/** [A, B, inner] → [B, A, inner]. */
function swapFirstTwoAxes(values: Float32Array, A: number, B: number, inner: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let i = 0; i < A; i++) for (let j = 0; j < B; j++) out.set(values.subarray((i * B + j) * inner, (i * B + j + 1) * inner), (j * A + i) * inner);
  return out;
}

const decode: Command = {
  summary: 'Decode latents to RGB frames in [0, 1] with TAEHV (--decoder taew2_1.safetensors) or the Wan VAE (--vae); writes `frames` [1, F, 3, H, W] f32.',
  usage:
    'webdit decode (--decoder FILE | --vae PATH) --latents FILE --out FILE [--name latents] [--layout NTCHW|NCTHW] [--chunk-frames N] [--max-binding-mib N] [--carried-f16]\n' +
    '  --vae: wan_2.1_vae.safetensors (original or diffusers key names) or a diffusers folder (vae/config.json);\n' +
    '  --latents holds [1, T, 16, h, w] (NTCHW) or [1, 16, T, h, w] (NCTHW, as the Wan pipeline samples them: the default with --vae);\n' +
    '    --layout or the file\'s __metadata__.layout decide;\n' +
    '  --max-binding-mib caps one tensor (the Wan VAE then decodes in spatial pieces, with the same output);\n' +
    '  --carried-f16 keeps the Wan VAE\'s carried frames in f16 (half their memory; 2.7e-4 relative error on the golden);\n' +
    '  --out gets `frames` [1, 4T − 3, 3, 8h, 8w] (NTCHW, f32).',
  async run(options) {
    const decoderPath = options.string('decoder');
    const vaePath = options.string('vae');
    if ((decoderPath === undefined) === (vaePath === undefined)) throw new UsageError('decode: give --decoder FILE (TAEHV) or --vae PATH (the Wan VAE)');
    const maxBindingMib = options.number('max-binding-mib');
    const carriedF16 = options.flag('carried-f16');
    if (maxBindingMib !== undefined && !(maxBindingMib > 0)) throw new UsageError(`decode: --max-binding-mib must be positive, got ${maxBindingMib}`);
    const latentsPath = options.requiredString('latents');
    const outPath = options.requiredString('out');
    const name = options.string('name');
    const layout = options.string('layout');
    if (layout !== undefined && !LAYOUTS.includes(layout as LatentLayout)) throw new UsageError(`decode: --layout must be NTCHW or NCTHW, got "${layout}"`);
    const chunkFrames = options.integer('chunk-frames');
    if (chunkFrames !== undefined && chunkFrames < 1) throw new UsageError(`decode: --chunk-frames must be at least 1, got ${chunkFrames}`);
    options.finish();

    const latentsFile = await openSafetensors(await fileSource(latentsPath));
    const ctx = await createNodeContext();
    try {
      const started = performance.now();
      const decoder: VideoDecoder = vaePath ? await loadWanVaeFromPath(ctx, vaePath) : await TaehvDecoder.load(ctx, await fileSource(decoderPath!));
      try {
        const frames = await decodeLatentsFile(ctx, decoder, latentsFile, {
          name,
          layout: layout as LatentLayout | undefined,
          defaultLayout: vaePath ? 'NCTHW' : 'NTCHW',
          chunkFrames,
          maxBindingBytes: maxBindingMib === undefined ? undefined : Math.floor(maxBindingMib * 2 ** 20),
          carriedF16,
        });
        const bytes = encodeSafetensors(
          { frames: { dtype: 'F32', shape: frames.shape, data: frames.data } },
          { layout: 'NTCHW', frames: 'RGB in [0,1]', decoder: vaePath ?? decoderPath! },
        );
        await writeFile(outPath, bytes);
        const [, F, , H, W] = frames.shape;
        console.log(`decoded ${F} frames of ${W}×${H} in ${((performance.now() - started) / 1000).toFixed(1)} s → ${outPath}`);
      } finally {
        decoder.dispose();
      }
    } finally {
      ctx.destroy();
    }
  },
};
export default decode;
