import { readFile } from 'node:fs/promises';
import type { Command } from '../main.ts';
import { UsageError } from '../args.ts';
import { parseWanConfig } from '../../model/config.ts';
import { planMemory } from '../../model/plan.ts';
import { parseUmt5Config } from '../../model/umt5/config.ts';
import { planUmt5Memory } from '../../model/umt5/plan.ts';

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
    'webdit plan --config FILE --frames N --height H --width W [--dtype f16|f32] [--text-len N] ' +
    '[--text-encoder-config FILE [--prompt-tokens 40] [--negative-tokens N] [--text-encoder-dtype f16|bf16|f32]]',
  async run(options) {
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
          textEncoder,
        },
        null,
        2,
      ),
    );
  },
};
export default plan;
