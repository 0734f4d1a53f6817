import { checkModelPath, checkOutputPath } from '../check-paths.ts';
import { writeFile } from 'node:fs/promises';
import type { Command } from '../main.ts';
import { UsageError } from '../args.ts';
import { createNodeContext } from '../../gpu/node.ts';
import { runCacheBenchmark, type BenchReport } from '../../pipeline/bench.ts';
import { frontSvg, frontText } from '../../pipeline/bench-front.ts';
import { expandCacheSpec, splitCacheSpecs } from '../../cache/spec.ts';
import { loadBundleFromArgs, promptFromArgs, samplingFromArgs } from '../model-args.ts';

const DEFAULT_POLICIES = 'none,bwcache,static,first-block,teacache';
export const DEFAULT_PROMPT = 'a red circle moving right on a black background';

function table(report: BenchReport): string {
  const rows = report.policies.map((p) =>
    [
      p.label.padEnd(28),
      `${p.seconds.toFixed(2)}s`.padStart(8),
      `${p.speedup.toFixed(2)}×`.padStart(7),
      `${p.speedupRange[0].toFixed(2)}–${p.speedupRange[1].toFixed(2)}`.padStart(10),
      `${(p.computedFraction * 100).toFixed(0)}%`.padStart(6),
      p.psnr === Infinity ? '     ∞' : p.psnr.toFixed(1).padStart(6),
      p.ssim.toFixed(4).padStart(7),
      p.indicatorTimeShare === null ? '      -' : `${(p.indicatorTimeShare * 100).toFixed(2)}%`.padStart(7),
      `${(p.cacheOverhead * 100).toFixed(1)}%`.padStart(7),
      `${(p.cacheOverheadOfPeak * 100).toFixed(1)}%`.padStart(7),
    ].join(' '),
  );
  return ['policy                           time speedup  (rounds)  comp.   PSNR    SSIM  indic.  cache/weights  cache/peak', ...rows].join('\n');
}

const bench: Command = {
  summary: 'Run cache policies on the same seeds and compare speed and quality against the uncached run (JSON with --json).',
  usage:
    'webdit bench [--model DIR] [--decoder FILE] [--prompt TEXT | --embeds FILE] [--steps N] [--seeds 0,1] [--repeats N] ' +
    `[--policies ${DEFAULT_POLICIES}] [--frames F --height H --width W --guidance G] [--no-profile] [--json] [--out FILE] [--svg FILE]; ` +
    'a policy may sweep one numeric option as start:end:step, e.g. bwcache:threshold=0.05:0.3:0.05 or static:interval=2:4:1',
  async run(options) {
    const modelDir = options.string('model');
    const decoderPath = options.string('decoder');
    const text = options.string('prompt');
    const embeds = options.string('embeds');
    const negativeEmbeds = options.string('negative-embeds');
    const seedsArg = options.string('seeds') ?? '0,1';
    const policies = splitCacheSpecs(options.string('policies') ?? DEFAULT_POLICIES);
    try {
      for (const p of policies) expandCacheSpec(p);
    } catch (e) {
      throw new UsageError(`bench: ${(e as Error).message}`);
    }
    const json = options.flag('json');
    const noProfile = options.flag('no-profile');
    const repeats = options.integer('repeats', 1)!;
    if (repeats < 1) throw new UsageError(`bench: --repeats must be at least 1, got ${repeats}`);
    const outPath = options.string('out');
    const svgPath = options.string('svg');
    const seeds = seedsArg.split(',').map((s) => Number(s.trim()));
    if (seeds.some((s) => !Number.isInteger(s) || s < 0)) throw new UsageError(`bench: --seeds must be non-negative integers, got "${seedsArg}"`);
    const sampling = samplingFromArgs(options);
    options.finish();
    if (modelDir !== undefined) checkModelPath('bench', modelDir);
    for (const path of [outPath, svgPath]) if (path !== undefined) checkOutputPath('bench', path);
    const ctx = await createNodeContext();
    const bundle = await loadBundleFromArgs(ctx, modelDir, decoderPath);
    try {
      const promptText = embeds === undefined ? (text ?? DEFAULT_PROMPT) : undefined;
      const { prompt, negative } = await promptFromArgs(bundle, promptText, embeds, undefined, negativeEmbeds);
      const report = await runCacheBenchmark(ctx, bundle, {
        prompt,
        negativePrompt: negative,
        seeds,
        repeats,
        policies,
        ...sampling,
        profile: !noProfile,
        onProgress: (m) => process.stderr.write(`bench: ${m}\n`),
      });
      const text2 = JSON.stringify(report, (_, v) => (v === Infinity ? 'Infinity' : v), 2);
      if (outPath) await writeFile(outPath, text2);
      const points = report.policies.map((p) => ({ spec: p.label, policy: p.policy, speedup: p.speedup, psnr: p.psnr }));
      if (svgPath) await writeFile(svgPath, frontSvg(points));
      if (json) console.log(text2);
      else console.log(`${table(report)}\n\n${frontText(points)}`);
    } finally {
      bundle.dispose();
      ctx.destroy();
    }
  },
};
export default bench;
