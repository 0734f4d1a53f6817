// What cache policies record with: per-branch features and residuals, the GPU buffers the decision
// kernels read and write (flags, state, records, indicator sums, f16-overflow flags), and the two paths
// of a step (compute the blocks / reuse a residual), each recorded under its GPU flag so that the one not
// taken costs empty dispatches. Layouts are those of shaders/cache_decide_*.wgsl.

import type { GpuContext } from '../gpu/context.ts';
import type { Tensor } from '../gpu/tensor.ts';
import { add } from '../gpu/kernels/add.ts';
import { castToHalfChecked } from '../gpu/kernels/cast.ts';
import { relativeL1, relativeL1AndStore } from '../gpu/kernels/reduce.ts';
import { subtractInto } from '../gpu/kernels/subtract-store.ts';
import {
  DECISION_NONE,
  DECISION_SLOTS,
  decideBwCache,
  decideStep,
  flagWords,
  recordWords,
  stateWords,
  type BwCacheDecision,
  type DecisionBuffers,
  type StepDecision,
  type StepRule,
} from '../gpu/kernels/cache-decide.ts';
import type { ModulatedInputSource, RunBlock } from './policies/types.ts';

export type Branch = 'cond' | 'uncond';
export const BRANCHES: Branch[] = ['cond', 'uncond'];
/** Profiler label group of the similarity-indicator kernels (reductions, stores' checks, decisions). */
export const INDICATOR_LABEL = 'indicator';

export { recordWords };

/** One CFG branch's stored tensors (never shared with the other branch). */
export class BranchCache {
  readonly prevFeatures: (Tensor | undefined)[];
  readonly blockResiduals: (Tensor | undefined)[];
  stackResidual: Tensor | undefined;
  /** First Block Cache: block 0's residual at the last fully computed step; TeaCache: block 0's last modulated input. */
  probe: Tensor | undefined;
  shapeKey = '';

  constructor(
    readonly name: Branch,
    /** Its slot in the runtime's buffers. */
    readonly index: number,
    numLayers: number,
  ) {
    this.prevFeatures = new Array(numLayers).fill(undefined);
    this.blockResiduals = new Array(numLayers).fill(undefined);
  }

  /** Drops features and residuals (a shape change makes them meaningless). */
  clearFeatures(): void {
    for (const list of [this.prevFeatures, this.blockResiduals]) {
      list.forEach((t, i) => {
        t?.release();
        list[i] = undefined;
      });
    }
    this.stackResidual?.release();
    this.stackResidual = undefined;
    this.probe?.release();
    this.probe = undefined;
  }

  tensors(): Tensor[] {
    return [...this.prevFeatures, ...this.blockResiduals, this.stackResidual, this.probe].filter((t): t is Tensor => t !== undefined);
  }
}

export class CacheRuntime {
  /** Decision flags, [2 slots · flagWords]: what the conditional paths follow. */
  readonly flags: Tensor;
  /** Decision state, [2 slots · stateWords]. */
  readonly state: Tensor;
  /** Per branch and step: indicator and computed blocks, [2 · steps · recordWords] (read once, after sampling). */
  readonly record: Tensor;
  /** Relative-L1 sums, slot ((branch · steps + step) · numLayers + block) → (Σ|a − b|, Σ|b|). */
  readonly sums: Tensor;
  /** Per branch: raised when a stored f16 feature was not finite or past the f16 range. */
  readonly overflow: Tensor;
  readonly branches = new Map<Branch, BranchCache>();

  constructor(
    readonly ctx: GpuContext,
    readonly steps: number,
    readonly numLayers: number,
    readonly storage: 'f16' | 'f32',
    /** Blocks whose features are measured when computed. */
    readonly indicatorBlocks: ReadonlySet<number>,
    readonly model?: ModulatedInputSource,
  ) {
    const initial = new Uint32Array(DECISION_SLOTS * stateWords(numLayers));
    for (let slot = 0; slot < DECISION_SLOTS; slot++) initial[slot * stateWords(numLayers)] = DECISION_NONE; // no first trigger yet
    this.state = ctx.upload(initial, [initial.length], 'u32', 'cache decision state');
    this.flags = ctx.zeros([DECISION_SLOTS * flagWords(numLayers)], 'u32', 'cache decision flags');
    this.record = ctx.zeros([2 * steps * recordWords(numLayers)], 'u32', 'cache records');
    this.sums = ctx.zeros([2 * 2 * steps * numLayers], 'f32', 'cache indicator sums');
    this.overflow = ctx.zeros([2], 'u32', 'cache f16 overflow');
  }

  /** The branch's cache, cleared when the hidden state's shape changed. */
  branch(name: Branch, hidden: Tensor): BranchCache {
    let b = this.branches.get(name);
    if (!b) {
      b = new BranchCache(name, BRANCHES.indexOf(name), this.numLayers);
      this.branches.set(name, b);
    }
    const key = hidden.shape.join('x');
    if (b.shapeKey && b.shapeKey !== key) b.clearFeatures();
    b.shapeKey = key;
    return b;
  }

  /** The buffers every decision kernel binds. */
  get decisionBuffers(): DecisionBuffers {
    return { sums: this.sums, record: this.record, state: this.state, flags: this.flags, overflow: this.overflow };
  }

  /** Dispatches BWCache's decision kernel, labelled as indicator work. */
  decideBwCache(follow: Tensor, decision: Omit<BwCacheDecision, 'steps' | 'numLayers'>): void {
    const d = { ...decision, steps: this.steps, numLayers: this.numLayers };
    this.ctx.withLabel(INDICATOR_LABEL, () => decideBwCache(this.ctx, this.decisionBuffers, follow, d));
  }

  /** Dispatches a per-step rule's decision kernel for one branch at one step, labelled as indicator work. */
  decideStep(rule: StepRule, decision: Omit<StepDecision, 'steps' | 'numLayers'>): void {
    const d = { ...decision, steps: this.steps, numLayers: this.numLayers };
    this.ctx.withLabel(INDICATOR_LABEL, () => decideStep(this.ctx, rule, this.decisionBuffers, d));
  }

  /** Index of a flag in `flags` for decision slot `slot`. */
  flagIndex(slot: number, which: 'stack-compute' | 'stack-reuse' | 'block-compute' | 'block-reuse', block = 0): number {
    const base = slot * flagWords(this.numLayers);
    if (which === 'stack-compute') return base;
    if (which === 'stack-reuse') return base + 1;
    return base + 2 + (which === 'block-reuse' ? this.numLayers : 0) + block;
  }

  /** Relative L1 of `current` against `previous` into the sums slot of (branch, step, block). */
  measure(b: BranchCache, step: number, block: number, current: Tensor, previous: Tensor): void {
    const slot = (b.index * this.steps + step) * this.numLayers + block;
    this.ctx.withLabel(INDICATOR_LABEL, () => relativeL1(this.ctx, current, previous, this.sums, slot));
  }

  /** Copies `t` into cache storage (reusing `previous`); f16 stores raise the branch's overflow flag. */
  store(b: BranchCache, t: Tensor, previous: Tensor | undefined): Tensor {
    const target = previous ?? this.ctx.empty(t.shape, this.storage, 'cached features');
    if (this.storage === 'f16') castToHalfChecked(this.ctx, t, target, this.overflow, b.index);
    else this.ctx.copy(t, target);
    return target;
  }

  /** Stores `output − input` as cache storage (into `previous` when there is one), in one dispatch. */
  private storeResidual(b: BranchCache, output: Tensor, input: Tensor, previous: Tensor | undefined): Tensor {
    const target = previous ?? this.ctx.empty(output.shape, this.storage, 'cached features');
    return subtractInto(this.ctx, output, input, target, this.overflow, b.index);
  }

  /**
   * Measures `t` against `previous` (its value at an earlier step) into the sums slot of (branch, step,
   * block) and stores it over `previous`, in one pass over the data; without `previous`, only stores.
   * Returns the stored tensor.
   */
  measureAndStore(b: BranchCache, step: number, block: number, t: Tensor, previous: Tensor | undefined): Tensor {
    if (!previous) return this.store(b, t, undefined);
    const slot = (b.index * this.steps + step) * this.numLayers + block;
    this.ctx.withLabel(INDICATOR_LABEL, () => relativeL1AndStore(this.ctx, t, previous, this.sums, slot, this.overflow, b.index));
    return previous;
  }

  /**
   * Blocks `first`.. as one unit: the compute path runs them (measuring the indicator blocks) and stores
   * the stack residual; the reuse path adds the stored residual to `input` into the same output tensor.
   * Until a residual is stored, or where the host knows the rule computes (`forced`: the decision kernel
   * then sets the compute flag whatever it measured), only the compute path is recorded, with no scope.
   */
  stackPaths(b: BranchCache, step: number, input: Tensor, runBlock: RunBlock, first: number, slot: number, forced = false): Tensor {
    const compute = () => {
      let h = input;
      for (let i = first; i < this.numLayers; i++) {
        const next = runBlock(i, h);
        if (h !== input) h.release();
        h = next;
        if (this.indicatorBlocks.has(i)) b.prevFeatures[i] = this.measureAndStore(b, step, i, h, b.prevFeatures[i]);
      }
      b.stackResidual = this.storeResidual(b, h, input, b.stackResidual);
      return h;
    };
    const cached = b.stackResidual;
    if (!cached || forced || first >= this.numLayers) return compute();
    const out = this.ctx.conditional(this.flags, this.flagIndex(slot, 'stack-compute'), compute);
    this.ctx.conditional(this.flags, this.flagIndex(slot, 'stack-reuse'), () => add(this.ctx, input, cached, out));
    return out;
  }

  /** Each block on its own: computed (its residual stored, measured if an indicator block) or its stored residual added; `forced` as in `stackPaths`. */
  blockPaths(b: BranchCache, step: number, input: Tensor, runBlock: RunBlock, slot: number, forced = false): Tensor {
    let h = input;
    for (let i = 0; i < this.numLayers; i++) {
      const cached = b.blockResiduals[i];
      const blockInput = h;
      const compute = () => {
        const next = runBlock(i, blockInput);
        b.blockResiduals[i] = this.storeResidual(b, next, blockInput, cached);
        if (this.indicatorBlocks.has(i)) b.prevFeatures[i] = this.measureAndStore(b, step, i, next, b.prevFeatures[i]);
        return next;
      };
      let next: Tensor;
      if (!cached || forced) next = compute();
      else {
        next = this.ctx.conditional(this.flags, this.flagIndex(slot, 'block-compute', i), compute);
        this.ctx.conditional(this.flags, this.flagIndex(slot, 'block-reuse', i), () => add(this.ctx, blockInput, cached, next));
      }
      if (h !== input) h.release();
      h = next;
    }
    return h;
  }

  /** Bytes the cache holds now (stored tensors and the decision buffers). */
  bytes(): number {
    let bytes = 0;
    for (const b of this.branches.values()) for (const t of b.tensors()) bytes += t.byteLength;
    for (const t of [this.flags, this.state, this.record, this.sums, this.overflow]) bytes += t.byteLength;
    return bytes;
  }

  dispose(): void {
    for (const b of this.branches.values()) b.clearFeatures();
    this.branches.clear();
    for (const t of [this.flags, this.state, this.record, this.sums, this.overflow]) t.release();
  }
}
