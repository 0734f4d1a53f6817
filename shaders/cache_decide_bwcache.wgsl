// BWCache's decision for one step, on the GPU (src/cache/policies/bwcache.ts holds the same rule on the
// host as the reference). First observes step − 1: per branch, the mean relative L1 of the indicator
// blocks measured there (computed at step − 1 and at some step before), recorded as that branch's
// indicator; the schedule sees the largest mean of the observed branches and, per block, whether it was
// below δ in all of them. Then decides `step` (skipped when step = steps: the final observation only):
// compute until the first trigger k, then R reused + 1 computed (periodic) or up to R reused while the
// last computed step stayed below δ (dynamic), the tail always computed; with per-block reuse each block
// is skipped where its indicator (or that of the indicator block it follows) is below δ, at most R steps
// in a row, and its run count restarts on every step where it computes. A raised f16-overflow flag or a
// missing residual forces compute. Writes the step's flags and each branch's computed-block record.
// One invocation: a few hundred words of state.
// selected: [selectedCount] u32 indicator blocks;  follow: [L] u32, the indicator block block i follows
// sums:     [2·B·steps·L] f32, slot ((b·steps + s)·L + i) = (Σ|h − h_prev|, Σ|h_prev|)
// record:   [B·steps·(2 + L)] u32, per branch and step (hasIndicator, indicator f32 bits, computed[L])
// state:    [2·(8 + 2L)] u32 per decision slot: firstTrigger, consecutiveReuse, reuseLeft, overflowSeen,
//           4 spare, blockBelow[L], blockRun[L]
// flags:    [2·(2 + 2L)] u32 per decision slot: stackCompute, stackReuse, blockCompute[L], blockReuse[L]
// overflow: [B] u32, raised by the checked f16 cast of each branch's stored features

struct Params {
  step: u32, steps: u32, numLayers: u32, maxReuse: u32, tailSteps: u32, threshold: f32, dynamic: u32,
  blockReuse: u32, slot: u32, firstBranch: u32, branchCount: u32, observeCount: u32, hasResidual: u32,
}

@group(0) @binding(0) var<storage, read> follow: array<u32>;
@group(0) @binding(1) var<storage, read> sums: array<f32>;
@group(0) @binding(2) var<storage, read_write> record: array<u32>;
@group(0) @binding(3) var<storage, read_write> state: array<u32>;
@group(0) @binding(4) var<storage, read_write> flags: array<u32>;
@group(0) @binding(5) var<storage, read> overflow: array<u32>;
@group(0) @binding(6) var<uniform> params: Params;

const NONE = 0xffffffffu;

fn recordAt(b: u32, s: u32) -> u32 { return (b * params.steps + s) * (2u + params.numLayers); }

fn ratio(b: u32, s: u32, i: u32) -> f32 {
  let slot = (b * params.steps + s) * params.numLayers + i;
  let den = sums[2u * slot + 1u];
  // An all-zero previous feature has no relative change to speak of: count it as changed.
  if (den > 0.0) { return sums[2u * slot] / den; }
  return 1e30;
}

/** Block i of branch b was measured at step s: an indicator block, computed at s and at an earlier step. */
fn measured(b: u32, s: u32, i: u32) -> bool {
  if (follow[i] != i || record[recordAt(b, s) + 2u + i] == 0u) { return false; }
  for (var t = 0u; t < s; t++) {
    if (record[recordAt(b, t) + 2u + i] != 0u) { return true; }
  }
  return false;
}

fn observe(base: u32, s: u32) {
  let L = params.numLayers;
  let R = params.maxReuse;
  var observed = 0u;
  var worst = 0.0;
  for (var k = 0u; k < params.observeCount; k++) {
    let b = params.firstBranch + k;
    if (overflow[b] != 0u) { state[base + 3u] = 1u; }
    var count = 0u;
    var total = 0.0;
    for (var i = 0u; i < L; i++) {
      if (measured(b, s, i)) { count++; total += ratio(b, s, i); }
    }
    if (count > 0u) {
      let mean = total / f32(count);
      record[recordAt(b, s)] = 1u;
      record[recordAt(b, s) + 1u] = bitcast<u32>(mean);
      worst = select(max(worst, mean), mean, observed == 0u);
      observed++;
    }
  }
  if (observed == 0u) { return; }
  let below = worst < params.threshold;
  if (below && state[base] == NONE) {
    state[base] = s;
    state[base + 2u] = R;
  } else if (params.dynamic != 0u && state[base] != NONE) {
    state[base + 2u] = select(0u, R, below);
  }
  for (var i = 0u; i < L; i++) {
    var all = true;
    var allBelow = true;
    for (var k = 0u; k < params.observeCount; k++) {
      let b = params.firstBranch + k;
      if (!measured(b, s, i)) { all = false; } else if (!(ratio(b, s, i) < params.threshold)) { allBelow = false; }
    }
    if (all) { state[base + 8u + i] = select(0u, 1u, allBelow); }
  }
}

@compute @workgroup_size(1)
fn main() {
  let L = params.numLayers;
  let R = params.maxReuse;
  let step = params.step;
  let base = params.slot * (8u + 2u * L);
  if (step > 0u) { observe(base, step - 1u); }
  if (step >= params.steps) { return; }

  let first = state[base];
  var tailStart = params.steps;
  if (first != NONE) {
    var tail = params.tailSteps;
    if (tail == NONE) { tail = (first + 1u) / 2u; }
    tail = max(1u, tail);
    tailStart = params.steps - min(params.steps, tail);
  }
  let inTail = step >= tailStart || step + 1u == params.steps;
  var reuse = false;
  if (first != NONE && !inTail) {
    if (params.dynamic == 0u) {
      reuse = (step - first - 1u) % (R + 1u) < R;
    } else if (state[base + 2u] > 0u && state[base + 1u] < R) {
      state[base + 2u] -= 1u;
      reuse = true;
    }
  }
  state[base + 1u] = select(0u, state[base + 1u] + 1u, reuse);
  // Never reuse what overflowed f16, nor a residual not stored yet.
  reuse = reuse && state[base + 3u] == 0u && params.hasResidual != 0u;

  let f = params.slot * (2u + 2u * L);
  flags[f] = select(1u, 0u, reuse);
  flags[f + 1u] = select(0u, 1u, reuse);
  for (var i = 0u; i < L; i++) {
    var skip = reuse;
    if (params.blockReuse != 0u) {
      let run = state[base + 8u + L + i];
      skip = reuse && state[base + 8u + follow[i]] != 0u && run < R;
      state[base + 8u + L + i] = select(0u, run + 1u, skip);
    }
    flags[f + 2u + i] = select(1u, 0u, skip);
    flags[f + 2u + L + i] = select(0u, 1u, skip);
    for (var k = 0u; k < params.branchCount; k++) {
      record[recordAt(params.firstBranch + k, step) + 2u + i] = select(1u, 0u, skip);
    }
  }
}
