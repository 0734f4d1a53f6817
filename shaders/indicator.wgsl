// The cache's similarity indicator from the relative-L1 slots the reductions left on the GPU:
// ratio_i = Σ|h − h_prev| / Σ|h_prev| for each listed block, their mean, and a bitmask of the blocks
// whose ratio is below the threshold — one small result, so at most one read per step crosses to the host.
// sums:   [2·S] f32, slot s = (Σ|a−b|, Σ|b|)
// blocks: [count] u32 block indices; block b's slot is slotBase + b
// out:    per step, [1 + ⌈maxBlock/32⌉] u32 from outBase: word 0 the mean (f32 bits), then the
//         below-threshold bitmask (one record per step, so decisions can be read late, together)

struct Params { slotBase: u32, count: u32, words: u32, threshold: f32, outBase: u32 }

@group(0) @binding(0) var<storage, read> sums: array<f32>;
@group(0) @binding(1) var<storage, read> blocks: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(1)
fn main() {
  for (var w = 0u; w < params.words; w++) { out[params.outBase + 1u + w] = 0u; }
  var total = 0.0;
  for (var i = 0u; i < params.count; i++) {
    let b = blocks[i];
    let slot = params.slotBase + b;
    let den = sums[2u * slot + 1u];
    // An all-zero previous feature has no relative change to speak of: count it as changed.
    var ratio = 1e30;
    if (den > 0.0) { ratio = sums[2u * slot] / den; }
    total += ratio;
    if (ratio < params.threshold) {
      out[params.outBase + 1u + b / 32u] |= 1u << (b % 32u);
    }
  }
  out[params.outBase] = bitcast<u32>(total / f32(max(params.count, 1u)));
}
