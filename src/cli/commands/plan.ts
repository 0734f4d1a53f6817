import { checkVideoSize } from '../../pipeline/preflight.ts';
import { readFile } from 'node:fs/promises';
import type { Command } from '../main.ts';
import { UsageError } from '../args.ts';
import { parseWanConfig } from '../../model/config.ts';
import { defaultLatentScale, planMemory } from '../../model/plan.ts';
import { WAN21_VAE_CONFIG, parseWanVaeConfig } from '../../decoder/wan-vae-config.ts';
import { planWanVaeDecode } from '../../decoder/wan-vae-plan.ts';
import type { Options } from '../args.ts';
import { parseUmt5Config } from '../../model/umt5/config.ts';
import { planUmt5Memory } from '../../model/umt5/plan.ts';
import { directoryFolder } from '../../weights/node-folder.ts';
import { PRESETS, planGeneration, readWanFolderConfigs, refuseIfTooLarge, type CachePlan, type GenerationPlan, type PlanOptions, WAN21_FOLDER_CONFIGS, type WanFolderConfigs } from '../../pipeline/memory-plan.ts';

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
        spatialPieces: p.pieces.tiles.length,
        tileGrid: `${p.pieces.bands.length}×${p.pieces.strips.length}`,
        haloLatentRows: p.pieces.haloLatentRows,
        largestTensorMib: mib(p.pieces.largestTensorBytes),
      },
      null,
      2,
    ),
  );
}

/** `plan --model DIR`: a Wan2.1 folder's plan per stage, and the presets on 8 and 16 GB GPUs. */
async function planModel(options: Options): Promise<void> {
  const dir = options.requiredString('model');
  const released = (WAN21_FOLDER_CONFIGS as Record<string, WanFolderConfigs | undefined>)[dir.toLowerCase()];
  const frames = options.integer('frames');
  const height = options.integer('height');
  const width = options.integer('width');
  const memoryGib = options.number('memory-gib');
  const cache = (options.string('cache') ?? 'none') as CachePlan;
  const promptTokens = options.integer('prompt-tokens');
  const negativeTokens = options.integer('negative-tokens');
  const limitMib = options.number('binding-limit-mib', 2048)!;
  const releaseTransformer = options.flag('release-transformer');
  options.finish();
  if (!['none', 'stack', 'blocks'].includes(cache)) throw new UsageError(`plan: --cache must be none, stack or blocks, got ${cache}`);
  if ((frames === undefined) !== (height === undefined) || (frames === undefined) !== (width === undefined)) throw new UsageError('plan: give --frames, --height and --width together');
  const configs = released ?? (await readWanFolderConfigs(directoryFolder(dir)));
  const planOptions: PlanOptions = { cache, promptTokens, negativeTokens, maxBindingBytes: limitMib * MIB, releaseTransformer };
  const mib = (b: number) => Math.round((b / MIB) * 10) / 10;
  const describe = (p: GenerationPlan) => ({
    video: p.video,
    peakGpuMib: mib(p.peakGpuBytes),
    peakHostMib: mib(p.peakHostBytes),
    largestTensorMib: mib(p.largestTensorBytes),
    stages: Object.fromEntries(
      Object.entries(p.stages).map(([name, s]) => [name, { gpuMib: mib(s.gpuBytes), hostMib: mib(s.hostBytes), parts: Object.fromEntries(Object.entries(s.parts).map(([k, v]) => [k, mib(v)])) }]),
    ),
  });
  // A GPU's memory is not all ours: count 90% of it as usable.
  const usable = (gb: number) => gb * 1e9 * 0.9;
  const presets = PRESETS.map((preset) => {
    const p = planGeneration(configs, preset, planOptions);
    return { ...preset, peakGpuMib: mib(p.peakGpuBytes), fits8GB: p.peakGpuBytes <= usable(8), fits16GB: p.peakGpuBytes <= usable(16) };
  });
  const plan = frames === undefined ? undefined : planGeneration(configs, { frames, height: height!, width: width! }, planOptions);
  console.log(JSON.stringify({ plan: plan && describe(plan), presets, cache }, null, 2));
  if (plan && memoryGib !== undefined) refuseIfTooLarge(configs, plan, memoryGib * 2 ** 30, planOptions);
}

const TEXT_ENCODER_DTYPES = ['f16', 'bf16', 'f32'] as const;

/** The umT5 encoder's plan (streamed: one layer half on the GPU at a time), for `--text-encoder-config`. */
async function textEncoderPlan(path: string, promptTokens: number, negativeTokens: number, dtype: string) {
  if (!(TEXT_ENCODER_DTYPES as readonly string[]).includes(dtype)) throw new UsageError(`plan: --text-encoder-dtype must be f16, bf16 or f32, got ${dtype}`);
  if (promptTokens < 1 || negativeTokens < 0) throw new UsageError('plan: --prompt-tokens must be ≥ 1 and --negative-tokens ≥ 0');
  const config = parseUmt5Config(JSON.parse(await readFile(path, 'utf8')), path);
  const lengths = negativeTokens > 0 ? [promptTokens, negativeTokens] : [promptTokens];
  const plan = planUmt5Memory(config, { lengths, weightDType: dtype as (typeof TEXT_ENCODER_DTYPES)[number] });
  const mib = (b: number) => Math.round((b / 2 ** 20) * 10) / 10;
  return { ...plan, mib: Object.fromEntries(Object.entries(plan.bytes).map(([k, v]) => [k, mib(v)])) };
}

const plan: Command = {
  summary: 'Print the GPU memory a generation would need (weights, activations, attention, cache), without allocating it.',
  usage:
    'webdit plan --model (DIR | 1.3b | 14b) [--frames 33 --height 272 --width 480] [--memory-gib 8] [--cache none|stack|blocks] [--prompt-tokens N --negative-tokens N] [--binding-limit-mib 2048] [--release-transformer]\n' +
    '  (--model: a Wan2.1 diffusers folder; GPU and host memory per stage (encode, sample, decode), the presets on 8 and 16 GB GPUs; --memory-gib refuses a size that does not fit, naming the largest preset that does; ' +
    '--release-transformer: its weights freed for decoding, as generate --release-transformer does)\n' +
    '       webdit plan --config FILE --frames N --height H --width W [--dtype f16|f32] [--text-len N] ' +
    '[--text-encoder-config FILE [--prompt-tokens 40] [--negative-tokens N] [--text-encoder-dtype f16|bf16|f32]]\n' +
    '       webdit plan --vae [--vae-config vae/config.json] --frames 81 --height 480 --width 832 [--binding-limit-mib 2048] [--dtype f32|f16|bf16] [--carried-f16]\n' +
    '  (--vae: the Wan VAE decoder\'s peak GPU memory, and its spatial pieces under the binding limit)',
  async run(options) {
    if (options.flag('vae')) return planVae(options);
    if (options.string('model') !== undefined) return planModel(options);
    const encoderConfig = options.string('text-encoder-config');
    const promptTokens = options.integer('prompt-tokens', 40)!;
    const negativeTokens = options.integer('negative-tokens', 0)!;
    const encoderDType = options.string('text-encoder-dtype') ?? 'f16';
    const textEncoder = encoderConfig === undefined ? undefined : await textEncoderPlan(encoderConfig, promptTokens, negativeTokens, encoderDType);
    const configPath = encoderConfig === undefined ? options.requiredString('config') : options.string('config');
    if (configPath === undefined) {
      options.finish();
      console.log(JSON.stringify({ textEncoder }, null, 2));
      return;
    }
    const frames = options.integer('frames');
    const height = options.integer('height');
    const width = options.integer('width');
    const dtype = options.string('dtype') ?? 'f16';
    const textLen = options.integer('text-len', 512);
    options.finish();
    if (frames === undefined || height === undefined || width === undefined) throw new UsageError('plan: --frames, --height and --width are required');
    if (dtype !== 'f16' && dtype !== 'f32') throw new UsageError(`plan: --dtype must be f16 or f32, got ${dtype}`);
    let json: unknown;
    try {
      json = JSON.parse(await readFile(configPath, 'utf8'));
    } catch (e) {
      throw new Error(`${configPath}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : `not a JSON config (${(e as Error).message})`}`);
    }
    const config = parseWanConfig(json, configPath);
    try {
      checkVideoSize({ frames, height, width }, { temporal: defaultLatentScale(config).temporal, multiple: defaultLatentScale(config).spatial * Math.max(config.patchSize[1], config.patchSize[2]) });
    } catch (e) {
      throw new UsageError(`plan: ${(e as Error).message}`);
    }
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
          textEncoder,
        },
        null,
        2,
      ),
    );
  },
};
export default plan;
