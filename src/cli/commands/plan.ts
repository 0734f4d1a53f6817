import { readFile } from 'node:fs/promises';
import type { Command } from '../main.ts';
import { UsageError } from '../args.ts';
import { parseWanConfig } from '../../model/config.ts';
import { planMemory } from '../../model/plan.ts';
import { WAN21_VAE_CONFIG, parseWanVaeConfig } from '../../decoder/wan-vae-config.ts';
import { planWanVaeDecode } from '../../decoder/wan-vae-plan.ts';
import type { Options } from '../args.ts';

const MIB = 2 ** 20;

/** `plan --vae`: the Wan VAE decoder's memory for a video size (output frames and pixels). */
async function planVae(options: Options): Promise<void> {
  const configPath = options.string('vae-config');
  const frames = options.integer('frames');
  const height = options.integer('height');
  const width = options.integer('width');
  const limitMib = options.number('binding-limit-mib', 2048)!;
  const weightDType = options.string('dtype') ?? 'f32';
  const carriedF16 = options.flag('carried-f16');
  options.finish();
  if (frames === undefined || height === undefined || width === undefined) throw new UsageError('plan: --frames, --height and --width are required');
  if (weightDType !== 'f16' && weightDType !== 'f32' && weightDType !== 'bf16') throw new UsageError(`plan: --dtype must be f32, f16 or bf16, got ${weightDType}`);
  const config = configPath ? parseWanVaeConfig(await readFile(configPath, 'utf8'), configPath) : WAN21_VAE_CONFIG;
  const scale = 2 ** (config.dimMult.length - 1);
  const tScale = 2 ** config.temporalUpsample.filter(Boolean).length;
  if ((frames - 1) % tScale !== 0 || height % scale !== 0 || width % scale !== 0) {
    throw new UsageError(`plan: the Wan VAE makes 1 + ${tScale}·k frames of multiples of ${scale} pixels; got ${frames} frames of ${width}×${height}`);
  }
  const T = (frames - 1) / tScale + 1;
  const p = planWanVaeDecode(config, T, height / scale, width / scale, limitMib * MIB, weightDType === 'f32' ? 4 : 2, carriedF16 ? 2 : 4);
  const mib = (b: number) => Math.round((b / MIB) * 10) / 10;
  console.log(
    JSON.stringify(
      {
        decoder: 'Wan VAE',
        latents: [T, config.zDim, height / scale, width / scale],
        frames: [p.frames, 3, p.height, p.width],
        mib: { weights: mib(p.weightBytes), carriedFrames: mib(p.carriedBytes), chunk: mib(p.chunkBytes), outputFrames: mib(p.framesBytes), peak: mib(p.peakBytes) },
        bindingLimitMib: limitMib,
        spatialPieces: p.pieces.bands.length,
        haloLatentRows: p.pieces.haloLatentRows,
        largestTensorMib: mib(p.pieces.largestTensorBytes),
      },
      null,
      2,
    ),
  );
}

const plan: Command = {
  summary: 'Print the GPU memory a generation would need (weights, activations, attention, cache), without allocating it.',
  usage:
    'webdit plan --config FILE --frames N --height H --width W [--dtype f16|f32] [--text-len N]\n' +
    '       webdit plan --vae [--vae-config vae/config.json] --frames 81 --height 480 --width 832 [--binding-limit-mib 2048] [--dtype f32|f16|bf16] [--carried-f16]\n' +
    '  (--vae: the Wan VAE decoder\'s peak GPU memory, and its spatial pieces under the binding limit)',
  async run(options) {
    if (options.flag('vae')) return planVae(options);
    const configPath = options.requiredString('config');
    const frames = options.integer('frames');
    const height = options.integer('height');
    const width = options.integer('width');
    const dtype = options.string('dtype') ?? 'f16';
    const textLen = options.integer('text-len', 512);
    options.finish();
    if (frames === undefined || height === undefined || width === undefined) throw new UsageError('plan: --frames, --height and --width are required');
    if (dtype !== 'f16' && dtype !== 'f32') throw new UsageError(`plan: --dtype must be f16 or f32, got ${dtype}`);
    const config = parseWanConfig(JSON.parse(await readFile(configPath, 'utf8')), configPath);
    const result = planMemory(config, { frames, height, width }, { weightDType: dtype, textLen });
    const gib = (b: number) => Math.round((b / 2 ** 30) * 1000) / 1000;
    console.log(
      JSON.stringify(
        {
          ...result,
          gib: Object.fromEntries(Object.entries(result.bytes).map(([k, v]) => [k, gib(v)])),
          // A GPU's memory is not all ours: count 90% of it as usable.
          fits: Object.fromEntries(
            [8, 16, 24].map((gb) => [
              `${gb}GB`,
              {
                uncached: result.bytes.total < gb * 1e9 * 0.9,
                stackResidualCache: result.bytes.total + result.bytes.stackResidualCache < gb * 1e9 * 0.9,
                blockFeatureCache: result.bytes.total + result.bytes.blockFeatureCache < gb * 1e9 * 0.9,
              },
            ]),
          ),
          bindingLimitNeeded: result.largestTensorBytes,
        },
        null,
        2,
      ),
    );
  },
};
export default plan;
