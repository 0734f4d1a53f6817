// Times every path of the attention, layerNorm and rmsNorm kernels on the toy model's shapes (and,
// with --wan, Wan2.1-sized ones) in one process, trials interleaved between paths.
//
//   npx tsx bench/attention-norms.ts [--trials 7] [--wan]
//
// Two clocks per run: wall time, and the process's CPU time (user + system). On a CPU adapter such as
// SwiftShader the kernel runs on this process's threads, so CPU time is the work itself, much less
// disturbed than wall time when other jobs share the cores; on a GPU only wall time means anything.
// Each trial records `reps` runs (chosen per path so that a trial lasts about 60 ms, amortising the
// submission and the wait) and waits for them (ctx.sync()); times are per run. Pipeline compilation is
// excluded: one untimed run per path first, whose wall time is printed as `firstMs`. Prints JSON.

import { createNodeContext } from '../src/gpu/node.ts';
import type { GpuContext } from '../src/gpu/context.ts';
import type { Tensor } from '../src/gpu/tensor.ts';
import { attention, preferredAttentionPath, type AttentionPath } from '../src/gpu/kernels/attention.ts';
import { layerNorm, preferredNormPath, type NormPath } from '../src/gpu/kernels/layer-norm.ts';
import { rmsNorm } from '../src/gpu/kernels/rms-norm.ts';
import { randomData } from '../src/cli/bench/timing.ts';

interface Contender {
  name: string;
  run(): void;
}

const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

const round = (v: number): number => Number(v.toPrecision(3));

async function timePaths(ctx: GpuContext, contenders: Contender[], trials: number): Promise<object[]> {
  const first: number[] = [];
  const reps: number[] = [];
  for (const c of contenders) {
    let start = performance.now();
    c.run();
    await ctx.sync();
    first.push(performance.now() - start);
    start = performance.now();
    c.run();
    await ctx.sync();
    reps.push(Math.max(1, Math.min(50, Math.round(60 / (performance.now() - start)))));
  }
  const wall: number[][] = contenders.map(() => []);
  const cpu: number[][] = contenders.map(() => []);
  for (let t = 0; t < trials; t++) {
    const order = contenders.map((_, i) => i);
    if (t % 2) order.reverse();
    for (const i of order) {
      const [w, c] = [performance.now(), cpuMs()];
      for (let r = 0; r < reps[i]; r++) contenders[i].run();
      await ctx.sync();
      wall[i].push((performance.now() - w) / reps[i]);
      cpu[i].push((cpuMs() - c) / reps[i]);
    }
  }
  return contenders.map((c, i) => ({
    path: c.name,
    wallMs: round(median(wall[i])),
    wallMinMs: round(Math.min(...wall[i])),
    cpuMs: round(median(cpu[i])),
    cpuMinMs: round(Math.min(...cpu[i])),
    firstMs: round(first[i]),
    reps: reps[i],
  }));
}

const log = (message: string): void => void process.stderr.write(`${message}\n`);

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const trialsAt = args.indexOf('--trials');
  const trials = trialsAt >= 0 ? Number(args[trialsAt + 1]) : 7;
  const wan = args.includes('--wan');
  const ctx = await createNodeContext();
  const attentionPaths: AttentionPath[] = ['tiled', 'direct', ...(ctx.features.has('subgroups') ? ['direct-subgroups' as const] : [])];
  const normPaths: NormPath[] = ['tree', 'rows'];
  const results: object[] = [];
  const keep: Tensor[] = [];
  const upload = (rows: number, cols: number, seed: number): Tensor => {
    const t = ctx.upload(randomData(rows * cols, seed), [rows, cols]);
    keep.push(t);
    return t;
  };

  const attentionCases = [
    { what: 'toy self-attention', queries: 256, keys: 256, heads: 2, headDim: 64 },
    { what: 'toy cross-attention', queries: 256, keys: 16, heads: 2, headDim: 64 },
    ...(wan ? [{ what: 'Wan-sized self-attention', queries: 1024, keys: 1024, heads: 12, headDim: 128 }] : []),
  ];
  for (const c of attentionCases) {
    const width = c.heads * c.headDim;
    const [q, k, v, out] = [upload(c.queries, width, 1), upload(c.keys, width, 2), upload(c.keys, width, 3), upload(c.queries, width, 4)];
    log(`attention ${c.queries}×${c.keys}, ${c.heads} heads of ${c.headDim} …`);
    const contenders = attentionPaths.map((path) => ({ name: path, run: () => void attention(ctx, q, k, v, c.heads, out, { path }) }));
    // The Wan-sized case takes tens of seconds per run on the tiled path of a CPU adapter.
    const timings = await timePaths(ctx, contenders, c.queries > 256 ? Math.min(trials, 2) : trials);
    results.push({ kernel: 'attention', ...c, flops: 4 * c.queries * c.keys * c.headDim * c.heads, timings });
  }

  const normCases = [
    { what: 'toy adaLN (modulated layerNorm)', kernel: 'layerNorm', rows: 256, cols: 128, variant: 'modulation' },
    { what: 'toy affine layerNorm', kernel: 'layerNorm', rows: 256, cols: 128, variant: 'affine' },
    { what: 'toy q/k rmsNorm', kernel: 'rmsNorm', rows: 256, cols: 128, variant: '' },
    { what: 'toy text k rmsNorm', kernel: 'rmsNorm', rows: 16, cols: 128, variant: '' },
    ...(wan
      ? [
          { what: 'Wan-sized adaLN', kernel: 'layerNorm', rows: 1024, cols: 1536, variant: 'modulation' },
          { what: 'Wan-sized rmsNorm', kernel: 'rmsNorm', rows: 1024, cols: 1536, variant: '' },
        ]
      : []),
  ];
  for (const c of normCases) {
    const x = upload(c.rows, c.cols, 5);
    const out = upload(c.rows, c.cols, 6);
    const weight = upload(1, c.cols, 7).reshape([c.cols]);
    const bias = upload(1, c.cols, 8).reshape([c.cols]);
    const table = upload(6, c.cols, 9);
    log(`${c.kernel} [${c.rows}, ${c.cols}] ${c.variant} …`);
    const contenders = normPaths.map((path) => ({
      name: path,
      run: () =>
        void (c.kernel === 'rmsNorm'
          ? rmsNorm(ctx, x, weight, 1e-6, out, { path })
          : c.variant === 'affine'
            ? layerNorm(ctx, x, { eps: 1e-6, weight, bias, out, path })
            : layerNorm(ctx, x, { eps: 1e-6, modulation: { table, shiftRow: 0, scaleRow: 1 }, out, path })),
    }));
    results.push({ ...c, timings: await timePaths(ctx, contenders, c.rows > 256 ? Math.min(trials, 3) : trials) });
  }
  keep.forEach((t) => t.release());
  console.log(
    JSON.stringify(
      {
        adapter: ctx.adapterInfo,
        preferred: { attention: preferredAttentionPath(ctx), norms: preferredNormPath(ctx) },
        timing: `median (and min) of ${trials} trials interleaved between paths, wall and process CPU time per run in ms`,
        results,
      },
      null,
      2,
    ),
  );
  ctx.destroy();
}

await main();
