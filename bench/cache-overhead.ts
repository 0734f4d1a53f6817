// What a cache's GPU-decided paths cost on this adapter, measured two ways.
//
//   npx tsx bench/cache-overhead.ts [--specs 'none;bwcache;static'] [--repeats N] [--dispatches | --stores]
//
// Generations: each cache spec (`npx webdit bench --help`) on the shipped toy model, seed 0, run in turn
// `repeats` times over; per spec the median wall time and the median CPU time of this process (user +
// system), and both as a ratio to the first spec. On a CPU adapter (SwiftShader) the "GPU" is threads of
// this process, so the CPU time counts host recording and kernel work together. It moves less than wall
// time when other jobs share the machine (still a few percent between runs): compare variants in
// alternated runs.
// --dispatches: the cost of one dispatch of a small kernel (an add of 4096 floats) recorded directly,
// inside a conditional scope whose flag is set (it runs), and inside one whose flag is clear (skipped),
// as host recording time and as total CPU time per dispatch.
// --stores: what a computed step stores per 256×128 feature map (the toy's), f16 storage, directly and
// inside a taken conditional scope: an indicator block's measure and store (relativeL1 then the checked
// cast, against the fused relativeL1AndStore) and the residual (float-float linearCombination then the
// checked cast, against subtractInto); median host CPU and wall time per call.

import { createNodeContext } from '../src/gpu/node.ts';
import { add } from '../src/gpu/kernels/add.ts';
import { castToHalfChecked } from '../src/gpu/kernels/cast.ts';
import { linearCombination } from '../src/gpu/kernels/linear-combination.ts';
import { relativeL1, relativeL1AndStore } from '../src/gpu/kernels/reduce.ts';
import { subtractInto } from '../src/gpu/kernels/subtract-store.ts';
import type { GpuContext } from '../src/gpu/context.ts';
import { loadBundleFromArgs } from '../src/cli/model-args.ts';
import { generateVideo } from '../src/pipeline/generate-video.ts';
import { DEFAULT_PROMPT } from '../src/cli/commands/bench.ts';

const args = process.argv.slice(2);
const option = (name: string) => {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
};
const specs = (option('--specs') ?? 'none;bwcache').split(';');
const repeats = Number(option('--repeats') ?? 3);
if (!Number.isInteger(repeats) || repeats < 1) throw new Error(`--repeats must be a positive integer, got ${option('--repeats')}`);

const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const cpuSeconds = (since: NodeJS.CpuUsage) => {
  const c = process.cpuUsage(since);
  return (c.user + c.system) / 1e6;
};

async function dispatchCosts(ctx: GpuContext): Promise<void> {
  const N = 400;
  const [a, b, out] = [0, 1, 2].map(() => ctx.zeros([4096]));
  const flags = ctx.upload(Uint32Array.from([1, 0]), [2], 'u32');
  const variants: [string, () => void][] = [
    ['direct', () => Array.from({ length: N }, () => add(ctx, a, b, out))],
    ['conditional, taken', () => ctx.conditional(flags, 0, () => Array.from({ length: N }, () => add(ctx, a, b, out)))],
    ['conditional, skipped', () => ctx.conditional(flags, 1, () => Array.from({ length: N }, () => add(ctx, a, b, out)))],
  ];
  for (const [name, record] of variants) {
    const hostMs: number[] = [];
    const cpu: number[] = [];
    for (let r = 0; r < 7; r++) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      record();
      ctx.flush('bench');
      hostMs.push(performance.now() - t0);
      await ctx.sync();
      if (r >= 2) cpu.push(cpuSeconds(c0)); // the first two compile and warm up
    }
    const perDispatch = (s: number) => ((s * 1e6) / N).toFixed(0);
    console.log(JSON.stringify({ dispatch: name, hostRecordUs: perDispatch(median(hostMs.slice(2)) / 1000), cpuUs: perDispatch(median(cpu)) }));
  }
  [a, b, out, flags].forEach((t) => t.release());
}

async function storeCosts(ctx: GpuContext): Promise<void> {
  const n = 256 * 128;
  const N = 40;
  const random = () => Float32Array.from({ length: n }, () => Math.random() * 2 - 1);
  const [h, input] = [ctx.upload(random(), [n]), ctx.upload(random(), [n])];
  const [previous, residual] = [ctx.zeros([n], 'f16'), ctx.zeros([n], 'f16')];
  const overflow = ctx.zeros([2], 'u32');
  const flags = ctx.upload(Uint32Array.from([1]), [1], 'u32');
  const sums = ctx.zeros([2]);
  const variants: [string, () => void][] = [
    ['measure + store: relativeL1, checked cast', () => (relativeL1(ctx, h, previous, sums, 0), castToHalfChecked(ctx, h, previous, overflow, 0))],
    ['measure + store: relativeL1AndStore', () => relativeL1AndStore(ctx, h, previous, sums, 0, overflow, 0)],
    [
      'residual: linearCombination, checked cast',
      () => {
        const r = linearCombination(ctx, [{ tensor: h, coef: 1 }, { tensor: input, coef: -1 }]);
        castToHalfChecked(ctx, r, residual, overflow, 1);
        r.release();
      },
    ],
    ['residual: subtractInto', () => subtractInto(ctx, h, input, residual, overflow, 1)],
  ];
  const times = new Map<string, { cpu: number[]; wall: number[] }>();
  for (let r = 0; r < 9; r++) {
    for (const [name, record] of variants) {
      for (const scoped of [false, true]) {
        const key = `${name}${scoped ? ' (in a taken conditional)' : ''}`;
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        for (let i = 0; i < N; i++) scoped ? ctx.conditional(flags, 0, record) : record();
        ctx.flush('bench');
        await ctx.sync();
        if (!times.has(key)) times.set(key, { cpu: [], wall: [] });
        if (r >= 2) {
          times.get(key)!.cpu.push((cpuSeconds(c0) * 1e6) / N); // the first two compile and warm up
          times.get(key)!.wall.push(((performance.now() - t0) * 1000) / N);
        }
      }
    }
  }
  for (const [store, t] of times) console.log(JSON.stringify({ store, cpuUs: Math.round(median(t.cpu)), wallUs: Math.round(median(t.wall)) }));
  [h, input, previous, residual, overflow, flags, sums].forEach((t) => t.release());
}

const ctx = await createNodeContext();
if (args.includes('--dispatches')) {
  await dispatchCosts(ctx);
} else if (args.includes('--stores')) {
  await storeCosts(ctx);
} else {
  const bundle = await loadBundleFromArgs(ctx, undefined, undefined);
  for (const cache of specs) await generateVideo(ctx, bundle, { prompt: DEFAULT_PROMPT, seed: 0, cache, steps: 4 }); // compiles every kernel
  const times = new Map(specs.map((s) => [s, { wall: [] as number[], cpu: [] as number[] }]));
  for (let r = 0; r < repeats; r++) {
    for (const cache of specs) {
      const c0 = process.cpuUsage();
      const result = await generateVideo(ctx, bundle, { prompt: DEFAULT_PROMPT, seed: 0, cache });
      times.get(cache)!.cpu.push(cpuSeconds(c0));
      times.get(cache)!.wall.push(result.seconds);
    }
  }
  const base = times.get(specs[0])!;
  for (const [spec, t] of times) {
    const [wall, cpu] = [median(t.wall), median(t.cpu)];
    console.log(JSON.stringify({ spec, wallSeconds: +wall.toFixed(3), cpuSeconds: +cpu.toFixed(3), wallRatio: +(median(base.wall) / wall).toFixed(3), cpuRatio: +(median(base.cpu) / cpu).toFixed(3) }));
  }
  bundle.dispose();
}
ctx.destroy();
