// out = a − b stored as cache storage, in one pass (no f32 difference in memory first):
//   HALF = true:  f16 packed two per word, element 2i in the low half, as cast_f16_checked.wgsl, and
//                 flags[flagIndex] raised when a difference is not finite or beyond ±65504;
//   HALF = false: the f32 difference (flags not touched).
// A single f32 subtraction is correctly rounded: the same value as linear_combination.wgsl's (1, −1).
// a, b: [count] f32; out: [⌈count/2⌉] words (HALF) or [count] f32 bits; flags: [F] u32

override HALF: bool = true;

struct Params { count: u32, flagIndex: u32 }

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;
@group(0) @binding(3) var<storage, read_write> flags: array<atomic<u32>>;
@group(0) @binding(4) var<uniform> params: Params;

const F16_MAX = 65504.0;

// Bits, not float compares: a compiler may assume floats are finite and drop a NaN test.
fn fits(bits: u32) -> bool {
  return (bits & 0x7f800000u) != 0x7f800000u && abs(bitcast<f32>(bits)) <= F16_MAX;
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = gid.x + gid.y * groups.x * 256u;
  if (!HALF) {
    if (i < params.count) { out[i] = bitcast<u32>(a[i] - b[i]); }
    return;
  }
  if (2u * i >= params.count) { return; }
  let lo = a[2u * i] - b[2u * i];
  var hi = 0.0;
  if (2u * i + 1u < params.count) { hi = a[2u * i + 1u] - b[2u * i + 1u]; }
  if (!fits(bitcast<u32>(lo)) || !fits(bitcast<u32>(hi))) { atomicOr(&flags[params.flagIndex], 1u); }
  out[i] = pack2x16float(vec2f(lo, hi));
}
