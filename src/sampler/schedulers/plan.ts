// A scheduler step as data: the host works out every coefficient (in double precision) and emits a
// plan of linear combinations; a `PlanExecutor` evaluates it on any backend that can form
// Σ coef·value — float64 arrays on the CPU for tests, f32 tensors on the GPU for inference. Both run
// the very same plan, so the CPU path validates the GPU one.

/** The step's inputs: owned by the caller, never kept or released by the executor. */
export type InputOperand = 'sample' | 'modelOutput';
/** Values kept from earlier steps: the last (corrected) sample and past x0 predictions, newest first. */
export type StateOperand = 'lastSample' | `history${number}`;
/** Values this step computes, in this order. */
export type ResultOperand = 'x0' | 'corrected' | 'next';
export type Operand = InputOperand | StateOperand | ResultOperand;

export interface Term {
  operand: Operand;
  coef: number;
}

export interface Combination {
  result: ResultOperand;
  terms: Term[];
}

export interface StepPlan {
  /** Index of this step in the schedule, its timestep and sigma, and the sigma it steps to. */
  stepIndex: number;
  timestep: number;
  sigma: number;
  sigmaNext: number;
  /** Evaluated in order; a combination may use the inputs, the kept state and earlier results. */
  combinations: Combination[];
  /** The result returned as the new sample (a fresh value the caller owns). */
  output: ResultOperand;
  /** The state after this step. Anything held before and not named here is released. */
  keep: { lastSample?: Operand; history: Operand[] };
}

/** What a backend must do: form a new value Σ coef·value (at least one term), and free one. */
export interface LinearAlgebra<T> {
  combine(terms: { value: T; coef: number }[]): T;
  release(value: T): void;
}

/**
 * Collects terms of a combination, merging repeated operands and dropping zero coefficients
 * (the reference multiplies those by finite values, so they contribute exactly nothing).
 */
export class TermBuilder {
  private readonly coefs = new Map<Operand, number>();

  add(operand: Operand, coef: number): this {
    if (!Number.isFinite(coef)) throw new Error(`scheduler: coefficient of ${operand} is ${coef}`);
    this.coefs.set(operand, (this.coefs.get(operand) ?? 0) + coef);
    return this;
  }

  terms(): Term[] {
    const all = [...this.coefs].map(([operand, coef]) => ({ operand, coef }));
    const nonzero = all.filter((t) => t.coef !== 0);
    return nonzero.length > 0 ? nonzero : all.slice(0, 1);
  }
}

/** Holds a scheduler's state values (last sample, x0 history) on one backend and runs plans. */
export class PlanExecutor<T> {
  private state = new Map<StateOperand, T>();

  constructor(readonly algebra: LinearAlgebra<T>) {}

  /** Number of values held between steps (tests check that history is released). */
  get heldValues(): number {
    return this.state.size;
  }

  run(plan: StepPlan, inputs: { sample: T; modelOutput: T }): T {
    const results = new Map<ResultOperand, T>();
    const lookup = (operand: Operand): T => {
      const v =
        operand === 'sample' || operand === 'modelOutput'
          ? inputs[operand]
          : operand === 'x0' || operand === 'corrected' || operand === 'next'
            ? results.get(operand)
            : this.state.get(operand);
      if (v === undefined) throw new Error(`scheduler step ${plan.stepIndex}: ${operand} is not available`);
      return v;
    };
    for (const c of plan.combinations) {
      if (c.terms.length === 0) throw new Error(`scheduler step ${plan.stepIndex}: empty combination for ${c.result}`);
      if (results.has(c.result)) throw new Error(`scheduler step ${plan.stepIndex}: ${c.result} computed twice`);
      results.set(c.result, this.algebra.combine(c.terms.map((t) => ({ value: lookup(t.operand), coef: t.coef }))));
    }
    const output = lookup(plan.output);

    const next = new Map<StateOperand, T>();
    const keepAs = (name: StateOperand, operand: Operand): void => {
      if (operand === 'sample' || operand === 'modelOutput') throw new Error(`scheduler: cannot keep the caller's ${operand}`);
      if (operand === plan.output) throw new Error(`scheduler: cannot keep the returned ${operand}`);
      next.set(name, lookup(operand));
    };
    if (plan.keep.lastSample) keepAs('lastSample', plan.keep.lastSample);
    plan.keep.history.forEach((operand, k) => keepAs(`history${k}`, operand));

    const keptValues = new Set(next.values());
    for (const v of this.state.values()) if (!keptValues.has(v)) this.algebra.release(v);
    for (const v of results.values()) if (v !== output && !keptValues.has(v)) this.algebra.release(v);
    this.state = next;
    return output;
  }

  /** Releases everything held. */
  reset(): void {
    for (const v of new Set(this.state.values())) this.algebra.release(v);
    this.state.clear();
  }
}

/** Float64 arrays on the CPU: the exact-arithmetic reference path for tests. */
export const float64Algebra: LinearAlgebra<Float64Array> = {
  combine(terms) {
    const out = new Float64Array(terms[0].value.length);
    for (const { value, coef } of terms) {
      if (value.length !== out.length) throw new Error(`combine: lengths ${value.length} and ${out.length} differ`);
      for (let i = 0; i < out.length; i++) out[i] += coef * value[i];
    }
    return out;
  },
  release() {},
};
