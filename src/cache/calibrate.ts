// TeaCache calibration: on an uncached run of the loaded model, pair the relative L1 change of block 0's
// modulated input (what TeaCache watches, cheap) with the relative L1 change of the block stack's output
// (what reuse actually costs), step to step, and fit a polynomial mapping the first to the second.

import type { GpuContext } from '../gpu/context.ts';
import type { Tensor } from '../gpu/tensor.ts';
import { relativeL1 } from '../gpu/kernels/reduce.ts';
import { defaultBlockStack, type BlockStackRunner } from '../model/transformer.ts';
import type { Branch, CachedModel } from './manager.ts';

export interface CalibrationSample {
  /** Relative L1 change of block 0's modulated input. */
  input: number;
  /** Relative L1 change of the block stack's output. */
  output: number;
}

export class TeaCacheCalibrator {
  private readonly sums: Tensor;
  private readonly previous = new Map<string, Tensor>();
  private readonly slots: { branch: Branch; step: number }[] = [];

  constructor(
    private readonly ctx: GpuContext,
    private readonly model: CachedModel,
    private readonly steps: number,
  ) {
    // Slots: (branch, step) → two pairs: [input sums, output sums].
    this.sums = ctx.zeros([2 * 2 * 2 * steps], 'f32', 'calibration sums');
  }

  private slot(branch: Branch, step: number, which: 0 | 1): number {
    return ((branch === 'cond' ? 0 : 1) * this.steps + step) * 2 + which;
  }

  private measure(key: string, t: Tensor, slot: number): boolean {
    const prev = this.previous.get(key);
    if (prev) relativeL1(this.ctx, t, prev, this.sums, slot);
    const copy = prev ?? this.ctx.empty(t.shape, 'f32', `calibration ${key}`);
    this.ctx.copy(t, copy);
    this.previous.set(key, copy);
    return prev !== undefined;
  }

  runner(branch: Branch, step: number): BlockStackRunner {
    const stack = defaultBlockStack(this.model.config.numLayers);
    return async (hidden, runBlock, stepState) => {
      const probe = this.model.modulatedInput(0, hidden, stepState);
      const measured = this.measure(`${branch}/input`, probe, this.slot(branch, step, 0));
      probe.release();
      const out = await stack(hidden, runBlock, stepState);
      this.measure(`${branch}/output`, out, this.slot(branch, step, 1));
      if (measured) this.slots.push({ branch, step });
      return out;
    };
  }

  /** Reads the measurements (one read for the whole run). */
  async samples(): Promise<CalibrationSample[]> {
    const sums = await this.ctx.read(this.sums);
    const ratio = (slot: number) => sums[2 * slot] / sums[2 * slot + 1];
    return this.slots.map(({ branch, step }) => ({ input: ratio(this.slot(branch, step, 0)), output: ratio(this.slot(branch, step, 1)) }));
  }

  dispose(): void {
    this.sums.release();
    for (const t of this.previous.values()) t.release();
    this.previous.clear();
  }
}

/** Least-squares polynomial fit (numpy.polyfit order: highest power first), in double precision. */
export function fitPolynomial(xs: number[], ys: number[], degree: number): number[] {
  if (xs.length !== ys.length) throw new Error('fitPolynomial: xs and ys differ in length');
  if (xs.length <= degree) throw new Error(`fitPolynomial: ${xs.length} samples cannot fit degree ${degree}`);
  const n = degree + 1;
  // Normal equations A·c = b with A[i][j] = Σ x^(i+j), b[i] = Σ y·x^i (powers ascending); scaled for conditioning.
  const scale = Math.max(...xs.map(Math.abs)) || 1;
  const a = Array.from({ length: n }, () => new Array(n + 1).fill(0));
  for (let k = 0; k < xs.length; k++) {
    const x = xs[k] / scale;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) a[i][j] += x ** (i + j);
      a[i][n] += ys[k] * x ** i;
    }
  }
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(a[r][col]) > Math.abs(a[pivot][col])) pivot = r;
    [a[col], a[pivot]] = [a[pivot], a[col]];
    if (Math.abs(a[col][col]) < 1e-300) throw new Error('fitPolynomial: the samples do not determine the polynomial (too few distinct x)');
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const f = a[r][col] / a[col][col];
      for (let c = col; c <= n; c++) a[r][c] -= f * a[col][c];
    }
  }
  const ascending = a.map((row, i) => row[n] / row[i] / scale ** i);
  return ascending.reverse();
}
