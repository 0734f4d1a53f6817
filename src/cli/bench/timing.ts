// Fair timing of GPU work from two or more contenders in one process: each records `reps` runs of its
// operation and then waits until its device has finished them; trials alternate between contenders
// so background load hits them alike, and the median trial is reported.

export interface Contender {
  /** Records `reps` runs of the operation (uploads already done). */
  run(reps: number): void;
  /** Resolves when the GPU has finished everything recorded so far. */
  wait(): Promise<void>;
}

export interface TimingOptions {
  /** Untimed runs per contender first (pipeline compilation, first touch of buffers). */
  warmups: number;
  /** Timed trials per contender, alternating. */
  trials: number;
  /** Runs per trial, per contender, are chosen so that each trial lasts about this long (amortising the wait). */
  targetTrialMs: number;
  maxReps: number;
}

async function timeOnce(c: Contender, reps: number): Promise<number> {
  const start = performance.now();
  c.run(reps);
  await c.wait();
  return performance.now() - start;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Milliseconds per run for each contender (median over trials), and the runs per trial each used. */
export async function timeInterleaved(contenders: Contender[], options: TimingOptions): Promise<{ msPerRun: number[]; reps: number[] }> {
  const reps: number[] = [];
  for (const c of contenders) {
    let ms = 0;
    for (let i = 0; i < options.warmups; i++) ms = await timeOnce(c, 1);
    reps.push(Math.max(1, Math.min(options.maxReps, Math.round(options.targetTrialMs / Math.max(ms, 1e-3)))));
  }
  const samples: number[][] = contenders.map(() => []);
  for (let t = 0; t < options.trials; t++) {
    // Alternate the order too, so neither side always runs right after the other's burst.
    const order = contenders.map((_, i) => i);
    if (t % 2) order.reverse();
    for (const i of order) samples[i].push((await timeOnce(contenders[i], reps[i])) / reps[i]);
  }
  return { msPerRun: samples.map(median), reps };
}

/** Repeatable inputs in [−1, 1) for benchmarks (a linear congruential generator: fast, and values do not matter). */
export function randomData(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 2 ** 31 - 1;
  }
  return a;
}
