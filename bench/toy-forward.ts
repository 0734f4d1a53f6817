// Times whole generations of the shipped toy model (public/models/toy: 256 tokens, width 128, 2 heads
// of 64, 3 blocks, text length 16) and prints GPU time per kernel from one profiled generation.
//
//   npx tsx bench/toy-forward.ts [--runs 3] [--steps 2]
//
// Each generation runs `steps` sampling steps with classifier-free guidance (two transformer forwards
// per step) and decodes. Reported per generation: wall time and this process's CPU time (on a CPU
// adapter such as SwiftShader the kernels run on this process's threads, so CPU time is the work itself
// and far less disturbed by other jobs on the cores than wall time). Prints JSON.
//
// One generation is `toyForwardGeneration` (exported for test/bench/toy-forward.test.ts): the public
// generate entry, so the model's condition channels and defaults come from the bundle as in the CLI.

import { pathToFileURL } from 'node:url';
import { createNodeContext } from '../src/gpu/node.ts';
import type { GpuContext } from '../src/gpu/context.ts';
import { directoryFolder } from '../src/weights/node-folder.ts';
import { loadBundle, type ModelBundle } from '../src/pipeline/bundle.ts';
import { generateVideo, type VideoResult } from '../src/pipeline/generate-video.ts';

export const TOY_FORWARD_PROMPT = 'a red circle moving left on a black background';

/** One timed generation: the model's defaults but `steps`, seed 1, no cache. */
export function toyForwardGeneration(ctx: GpuContext, bundle: ModelBundle, steps: number): Promise<VideoResult> {
  return generateVideo(ctx, bundle, { prompt: TOY_FORWARD_PROMPT, steps, seed: 1 });
}

const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const round = (v: number): number => Number(v.toPrecision(3));
const median = (values: number[]): number => {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const option = (name: string, fallback: number): number => {
    const at = args.indexOf(`--${name}`);
    return at >= 0 ? Number(args[at + 1]) : fallback;
  };
  const runs = option('runs', 3);
  const steps = option('steps', 2);
  const ctx = await createNodeContext();
  const bundle = await loadBundle(ctx, directoryFolder('public/models/toy'));

  // Warm-up: pipeline compilation, RoPE tables, pooled buffers.
  let start = performance.now();
  const { settings } = await toyForwardGeneration(ctx, bundle, steps);
  const firstMs = performance.now() - start;

  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < runs; i++) {
    const c = cpuMs();
    start = performance.now();
    await toyForwardGeneration(ctx, bundle, steps);
    wall.push(performance.now() - start);
    cpu.push(cpuMs() - c);
  }

  ctx.setProfiling(true);
  await toyForwardGeneration(ctx, bundle, steps);
  const kernels = await ctx.profiler!.report();
  ctx.setProfiling(false);
  const totalMs = kernels.reduce((sum, k) => sum + k.ms, 0);
  // Labels are scoped (block/attn/…): total them by the kernel name, their last part.
  const byKernel = new Map<string, { calls: number; ms: number }>();
  for (const k of kernels) {
    const name = k.label.split('/').pop()!;
    const t = byKernel.get(name) ?? { calls: 0, ms: 0 };
    t.calls += k.calls;
    t.ms += k.ms;
    byKernel.set(name, t);
  }

  console.log(
    JSON.stringify(
      {
        adapter: ctx.adapterInfo,
        generation: { steps, guidance: settings.guidance, frames: settings.frames, height: settings.height, width: settings.width },
        firstRunMs: round(firstMs),
        wallMs: { median: round(median(wall)), min: round(Math.min(...wall)), runs: wall.map(round) },
        cpuMs: { median: round(median(cpu)), min: round(Math.min(...cpu)), runs: cpu.map(round) },
        profiled: {
          note: 'one generation with profiling on (a pass per dispatch, so slower than the runs above); GPU time per kernel',
          totalKernelMs: round(totalMs),
          kernels: [...byKernel.entries()]
            .sort((a, b) => b[1].ms - a[1].ms)
            .map(([name, t]) => ({ kernel: name, calls: t.calls, ms: round(t.ms), msPerCall: round(t.ms / t.calls), share: round(t.ms / totalMs) })),
        },
      },
      null,
      2,
    ),
  );
  bundle.dispose();
  ctx.destroy();
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
