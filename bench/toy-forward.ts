// Times whole generations of the shipped toy model (public/models/toy: 256 tokens, width 128, 2 heads
// of 64, 3 blocks, text length 16) and prints GPU time per kernel from one profiled generation.
//
//   npx tsx bench/toy-forward.ts [--runs 3] [--steps 2]
//
// Each generation runs `steps` sampling steps with classifier-free guidance (two transformer forwards
// per step) and decodes. Reported per generation: wall time and this process's CPU time (on a CPU
// adapter such as SwiftShader the kernels run on this process's threads, so CPU time is the work itself
// and far less disturbed by other jobs on the cores than wall time). Prints JSON.

import { createNodeContext } from '../src/gpu/node.ts';
import { directoryFolder } from '../src/weights/node-folder.ts';
import { loadBundle } from '../src/pipeline/bundle.ts';
import { generate, type GenerateOptions } from '../src/pipeline/generate.ts';

const args = process.argv.slice(2);
const option = (name: string, fallback: number): number => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? Number(args[at + 1]) : fallback;
};
const runs = option('runs', 3);
const steps = option('steps', 2);

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

const ctx = await createNodeContext();
const bundle = await loadBundle(ctx, directoryFolder('public/models/toy'));
const options: GenerateOptions = {
  model: bundle.model,
  decoder: bundle.decoder,
  prompt: bundle.textEncoder!.encode('a red circle moving left on a black background'),
  textLen: bundle.textLen,
  frames: bundle.defaults.frames,
  height: bundle.defaults.height,
  width: bundle.defaults.width,
  steps,
  guidance: bundle.defaults.guidance,
  seed: 1,
  scheduler: bundle.scheduler,
};

// Warm-up: pipeline compilation, RoPE tables, pooled buffers.
let start = performance.now();
await generate(ctx, options);
const firstMs = performance.now() - start;

const wall: number[] = [];
const cpu: number[] = [];
for (let i = 0; i < runs; i++) {
  const c = cpuMs();
  start = performance.now();
  await generate(ctx, options);
  wall.push(performance.now() - start);
  cpu.push(cpuMs() - c);
}

ctx.setProfiling(true);
await generate(ctx, options);
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
      generation: { steps, guidance: options.guidance, frames: options.frames, height: options.height, width: options.width },
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
