// Per-step wall times of whole generations on the shipped toy model, one line of JSON per generation:
// the policy, the generation's seconds, which steps computed the blocks (C) or reused them (r), and each
// step's milliseconds as generate() reports its progress. Shows where a cache's time goes (a reused
// step's fixed cost, the steps before the first trigger) and, on a real GPU, the host's share.
//
//   npx tsx bench/step-times.ts ['none;bwcache;static'] [--repeats N]
//
// The prompt is the bench's. Policies are cache specs (`npx webdit bench --help`), run in order,
// `repeats` times over; the first generation of the process also compiles every kernel.

import { createNodeContext } from '../src/gpu/node.ts';
import { loadBundleFromArgs } from '../src/cli/model-args.ts';
import { generateVideo } from '../src/pipeline/generate-video.ts';
import { DEFAULT_PROMPT } from '../src/cli/commands/bench.ts';

const args = process.argv.slice(2);
const at = args.indexOf('--repeats');
const repeats = at >= 0 ? Number(args[at + 1]) : 1;
const specs = (args.find((a, i) => !a.startsWith('--') && args[i - 1] !== '--repeats') ?? 'none;bwcache;static').split(';');

const ctx = await createNodeContext();
const bundle = await loadBundleFromArgs(ctx, undefined, undefined);
for (let r = 0; r < repeats; r++) {
  for (const spec of specs) {
    const stepMs: number[] = [];
    let last = 0;
    const result = await generateVideo(ctx, bundle, {
      prompt: DEFAULT_PROMPT,
      seed: 0,
      cache: spec,
      onProgress: (p) => {
        stepMs.push(Number((p.elapsedMs - last).toFixed(2)));
        last = p.elapsedMs;
      },
    });
    const computed = result.stats.branches.cond?.computed.map((blocks) => (blocks.some(Boolean) ? 'C' : 'r')).join('') ?? 'C'.repeat(result.settings.steps);
    console.log(JSON.stringify({ policy: spec, seconds: Number(result.seconds.toFixed(4)), steps: computed, stepMs }));
  }
}
bundle.dispose();
ctx.destroy();
