// One branch's cache decision at one step for the policies that decide per step (the host rules they
// mirror are in src/cache/policies/): OP 0 static interval (compute the warm-up, every `interval`-th step
// after it, and the tail); OP 1 First Block Cache (reuse while block 0's residual changed less than δ
// against the last fully computed step); OP 2 TeaCache (accumulate |poly(change of block 0's modulated
// input)| over the steps, reuse while the sum stays below δ, restart it on each computed step). The
// change is the relative L1 a reduction left in the sums slot of (branch, step, block 0). A raised
// f16-overflow flag, a missing residual or a missing probe forces compute.
// coefficients: [coefficientCount] f32, numpy.polyval order (OP 2)
// sums:   [2·B·steps·L] f32, slot ((b·steps + s)·L + i) = (Σ|a − b|, Σ|b|)
// record: [B·steps·(2 + L)] u32, per branch and step (hasIndicator, indicator f32 bits, computed[L])
// state:  [2·(8 + 2L)] u32 per branch: word 3 overflowSeen, word 4 TeaCache's sum (f32 bits)
// flags:  [2·(2 + 2L)] u32 per branch: stackCompute, stackReuse, …
// overflow: [B] u32

override OP: u32 = 0u;

struct Params {
  step: u32, steps: u32, numLayers: u32, branch: u32, threshold: f32, interval: u32, warmupSteps: u32,
  tailSteps: u32, hasProbe: u32, hasResidual: u32, coefficientCount: u32,
}

@group(0) @binding(0) var<storage, read> coefficients: array<f32>;
@group(0) @binding(1) var<storage, read> sums: array<f32>;
@group(0) @binding(2) var<storage, read_write> record: array<u32>;
@group(0) @binding(3) var<storage, read_write> state: array<u32>;
@group(0) @binding(4) var<storage, read_write> flags: array<u32>;
@group(0) @binding(5) var<storage, read> overflow: array<u32>;
@group(0) @binding(6) var<uniform> params: Params;

@compute @workgroup_size(1)
fn main() {
  let L = params.numLayers;
  let b = params.branch;
  let step = params.step;
  let base = b * (8u + 2u * L);
  let rec = (b * params.steps + step) * (2u + L);
  if (overflow[b] != 0u) { state[base + 3u] = 1u; }

  var change = 0.0;
  if (params.hasProbe != 0u) {
    let slot = (b * params.steps + step) * L;
    let den = sums[2u * slot + 1u];
    change = select(1e30, sums[2u * slot] / den, den > 0.0);
    record[rec] = 1u;
    record[rec + 1u] = bitcast<u32>(change);
  }
  let edge = step < params.warmupSteps || step + params.tailSteps >= params.steps;
  var reuse = false;
  if (OP == 0u) {
    reuse = !edge && (step - params.warmupSteps) % params.interval != 0u;
  } else if (OP == 1u) {
    reuse = params.hasProbe != 0u && change < params.threshold;
  } else {
    var sum = bitcast<f32>(state[base + 4u]);
    if (params.hasProbe == 0u || edge) {
      sum = 0.0;
    } else {
      var y = 0.0;
      for (var k = 0u; k < params.coefficientCount; k++) { y = y * change + coefficients[k]; }
      sum += abs(y);
      if (sum < params.threshold) { reuse = true; } else { sum = 0.0; }
    }
    state[base + 4u] = bitcast<u32>(sum);
  }
  reuse = reuse && state[base + 3u] == 0u && params.hasResidual != 0u;

  let f = b * (2u + 2u * L);
  flags[f] = select(1u, 0u, reuse);
  flags[f + 1u] = select(0u, 1u, reuse);
  for (var i = 0u; i < L; i++) {
    // First Block Cache always runs block 0.
    record[rec + 2u + i] = select(1u, 0u, reuse && !(OP == 1u && i == 0u));
  }
}
