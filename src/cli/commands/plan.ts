import { checkVideoSize } from '../../pipeline/preflight.ts';
import { readFile } from 'node:fs/promises';
import type { Command } from '../main.ts';
import { UsageError } from '../args.ts';
import { parseWanConfig } from '../../model/config.ts';
import { defaultLatentScale, planMemory } from '../../model/plan.ts';

const plan: Command = {
  summary: 'Print the GPU memory a generation would need (weights, activations, attention, cache), without allocating it.',
  usage: 'webdit plan --config FILE --frames N --height H --width W [--dtype f16|f32] [--text-len N]',
  async run(options) {
    const configPath = options.requiredString('config');
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
        },
        null,
        2,
      ),
    );
  },
};
export default plan;
