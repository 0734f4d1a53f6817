// The cache decision kernels (shaders/cache_decide_bwcache.wgsl, cache_decide_step.wgsl): one invocation
// over a few hundred words of decision state, writing the flags the conditional paths follow and each
// branch's record of computed blocks. The rules are the caches' (src/cache/policies/); this file only
// checks that the buffers have the layout the shaders index, so a wrong size fails here and not as
// an out-of-bounds read on the GPU.

import type { GpuContext } from '../context.ts';
import { formatShape, type Tensor } from '../tensor.ts';
import { expectDType, expectRank } from './check.ts';

/** "Not set" in u32 state words and options (no first trigger yet; the default tail). */
export const DECISION_NONE = 0xffffffff;
/** Decision slots (one per CFG branch, or slot 0 shared by joint branches). */
export const DECISION_SLOTS = 2;

/** Words of one decision slot's state: 8 scalars, then per block "below δ" and the reuse run length. */
export const stateWords = (numLayers: number) => 8 + 2 * numLayers;
/** Words of one decision slot's flags: stack compute, stack reuse, then per block compute and reuse. */
export const flagWords = (numLayers: number) => 2 + 2 * numLayers;
/** Words of one branch's record at one step: has-indicator, the indicator (f32 bits), computed per block. */
export const recordWords = (numLayers: number) => 2 + numLayers;

/** The buffers every decision kernel binds (layouts in the shaders' headers). */
export interface DecisionBuffers {
  /** f32 [2 · branches · steps · numLayers]: relative-L1 sums (Σ|a − b|, Σ|b|) per (branch, step, block). */
  sums: Tensor;
  /** u32 [branches · steps · recordWords]. */
  record: Tensor;
  /** u32 [DECISION_SLOTS · stateWords]. */
  state: Tensor;
  /** u32 [DECISION_SLOTS · flagWords]. */
  flags: Tensor;
  /** u32 [branches]: raised by the checked f16 stores. */
  overflow: Tensor;
}

interface RunShape {
  step: number;
  steps: number;
  numLayers: number;
}

function positiveInteger(op: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new Error(`${op}: ${name} must be a positive integer, got ${v}`);
}

function atLeast(op: string, name: string, t: Tensor, words: number): void {
  if (t.size < words) throw new Error(`${op}: ${name} ${formatShape(t.shape)} holds ${t.size} words, needs ${words}`);
}

/** Checks dtypes and sizes against the run; returns the branch count the records hold. */
function checkBuffers(op: string, buffers: DecisionBuffers, { step, steps, numLayers }: RunShape, lastStep: number): number {
  positiveInteger(op, 'steps', steps);
  positiveInteger(op, 'numLayers', numLayers);
  if (!Number.isInteger(step) || step < 0 || step > lastStep) throw new Error(`${op}: step ${step} outside 0..${lastStep}`);
  const { sums, record, state, flags, overflow } = buffers;
  expectDType(op, 'sums', sums, 'f32');
  for (const [name, t] of Object.entries({ record, state, flags, overflow })) {
    expectDType(op, name, t, 'u32');
    expectRank(op, name, t, 1);
  }
  const branches = overflow.size;
  if (branches < 1) throw new Error(`${op}: overflow must hold one flag per branch, got ${formatShape(overflow.shape)}`);
  atLeast(op, 'sums', sums, 2 * branches * steps * numLayers);
  atLeast(op, 'record', record, branches * steps * recordWords(numLayers));
  atLeast(op, 'state', state, DECISION_SLOTS * stateWords(numLayers));
  atLeast(op, 'flags', flags, DECISION_SLOTS * flagWords(numLayers));
  return branches;
}

function decisionBindings({ sums, record, state, flags, overflow }: DecisionBuffers): Record<keyof DecisionBuffers, Tensor> {
  return { sums, record, state, flags, overflow };
}

function index(op: string, name: string, v: number, below: number): void {
  if (!Number.isInteger(v) || v < 0 || v >= below) throw new Error(`${op}: ${name} ${v} outside 0..${below - 1}`);
}

export interface BwCacheDecision extends RunShape {
  /** R: most reused steps in a row (and per block). */
  maxReuse: number;
  /** Forced-compute tail length; DECISION_NONE for the default ⌈k/2⌉ of a first trigger at k. */
  tailSteps: number;
  threshold: number;
  dynamic: boolean;
  blockReuse: boolean;
  /** The decision slot written (and whose state is read). */
  slot: number;
  /** Branches firstBranch.. whose records the decision writes, and the first observeCount of them observed. */
  firstBranch: number;
  branchCount: number;
  observeCount: number;
  /** Whether every branch deciding has a residual stored (none: compute is forced). */
  hasResidual: boolean;
}

/**
 * BWCache's decision for `step` (step = steps: the final observation only). `follow` (u32 [numLayers]) is
 * the indicator block each block follows, itself for an indicator block.
 */
export function decideBwCache(ctx: GpuContext, buffers: DecisionBuffers, follow: Tensor, d: BwCacheDecision): void {
  const op = 'decideBwCache';
  const branches = checkBuffers(op, buffers, d, d.steps);
  expectDType(op, 'follow', follow, 'u32');
  if (follow.size !== d.numLayers) throw new Error(`${op}: follow must hold one block per layer (${d.numLayers}), got ${formatShape(follow.shape)}`);
  positiveInteger(op, 'maxReuse', d.maxReuse);
  if (d.tailSteps !== DECISION_NONE && !(Number.isInteger(d.tailSteps) && d.tailSteps >= 0)) throw new Error(`${op}: tailSteps must be a non-negative integer or DECISION_NONE, got ${d.tailSteps}`);
  if (!(d.threshold >= 0)) throw new Error(`${op}: threshold must be a non-negative number, got ${d.threshold}`);
  index(op, 'slot', d.slot, DECISION_SLOTS);
  index(op, 'firstBranch', d.firstBranch, branches);
  positiveInteger(op, 'branchCount', d.branchCount);
  if (!Number.isInteger(d.observeCount) || d.observeCount < 0) throw new Error(`${op}: observeCount must be a non-negative integer, got ${d.observeCount}`);
  const reach = d.firstBranch + Math.max(d.branchCount, d.observeCount);
  if (reach > branches) throw new Error(`${op}: branches ${d.firstBranch}..${reach - 1} outside the ${branches} the records hold`);
  ctx.dispatch(
    { shader: 'cache_decide_bwcache' },
    {
      bindings: { ...decisionBindings(buffers), follow },
      uniforms: {
        step: d.step,
        steps: d.steps,
        numLayers: d.numLayers,
        maxReuse: d.maxReuse,
        tailSteps: d.tailSteps,
        threshold: d.threshold,
        dynamic: d.dynamic ? 1 : 0,
        blockReuse: d.blockReuse ? 1 : 0,
        slot: d.slot,
        firstBranch: d.firstBranch,
        branchCount: d.branchCount,
        observeCount: d.observeCount,
        hasResidual: d.hasResidual ? 1 : 0,
      },
      workgroups: 1,
      label: 'decide',
    },
  );
}

/** The per-step rules of cache_decide_step.wgsl, by its OP constant. */
const STEP_RULES = { static: 0, 'first-block': 1, teacache: 2 } as const;
export type StepRule = keyof typeof STEP_RULES;

export interface StepDecision extends RunShape {
  /** The branch: its decision slot, state and record. */
  branch: number;
  /** δ (first-block, teacache). */
  threshold?: number;
  /** Static: compute every interval-th step after the warm-up. */
  interval?: number;
  warmupSteps?: number;
  tailSteps?: number;
  /** Whether the indicator's sums slot of (branch, step, block 0) was measured this step. */
  hasProbe: boolean;
  hasResidual: boolean;
  /** TeaCache's rescaling polynomial, f32, numpy.polyval order. */
  coefficients?: Tensor;
}

/** A per-step rule's decision for one branch at `step`. */
export function decideStep(ctx: GpuContext, rule: StepRule, buffers: DecisionBuffers, d: StepDecision): void {
  const op = `decideStep(${rule})`;
  if (!Object.hasOwn(STEP_RULES, rule)) throw new Error(`decideStep: unknown rule "${rule}": use one of ${Object.keys(STEP_RULES).join(', ')}`);
  const branches = checkBuffers(op, buffers, d, d.steps - 1);
  index(op, 'branch', d.branch, Math.min(branches, DECISION_SLOTS));
  const { interval = 1, warmupSteps = 0, tailSteps = 0, threshold = 0, coefficients } = d;
  positiveInteger(op, 'interval', interval);
  for (const [name, v] of Object.entries({ warmupSteps, tailSteps })) {
    if (!Number.isInteger(v) || v < 0) throw new Error(`${op}: ${name} must be a non-negative integer, got ${v}`);
  }
  if (!(threshold >= 0)) throw new Error(`${op}: threshold must be a non-negative number, got ${threshold}`);
  if (rule === 'teacache') {
    if (!coefficients) throw new Error(`${op}: needs the rescaling coefficients`);
    expectDType(op, 'coefficients', coefficients, 'f32');
    if (coefficients.size < 1) throw new Error(`${op}: coefficients must hold at least one number`);
  } else if (coefficients) {
    throw new Error(`${op}: only teacache takes coefficients`);
  }
  ctx.dispatch(
    { shader: 'cache_decide_step', constants: { OP: STEP_RULES[rule] } },
    {
      // The shader declares the binding for every rule; the others never read it.
      bindings: { ...decisionBindings(buffers), coefficients: coefficients ?? buffers.sums },
      uniforms: {
        step: d.step,
        steps: d.steps,
        numLayers: d.numLayers,
        branch: d.branch,
        threshold,
        interval,
        warmupSteps,
        tailSteps,
        hasProbe: d.hasProbe ? 1 : 0,
        hasResidual: d.hasResidual ? 1 : 0,
        coefficientCount: coefficients?.size ?? 0,
      },
      workgroups: 1,
      label: 'decide',
    },
  );
}
