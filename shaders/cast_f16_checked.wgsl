// f32 → f16 packed two per word, as cast.wgsl's OP 0, and raises flags[flagIndex] when an element is not
// finite or beyond ±65504 (pack2x16float would give ±inf or an undefined value): the cache then never
// reuses what it stored (see src/cache).
// x: [count] f32 words; out: [⌈count/2⌉] words, element 2i in the low half; flags: [F] u32

struct Params { count: u32, flagIndex: u32 }

@group(0) @binding(0) var<storage, read> x: array<u32>;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
@group(0) @binding(2) var<storage, read_write> flags: array<atomic<u32>>;
@group(0) @binding(3) var<uniform> params: Params;

const F16_MAX = 65504.0;

// Bits, not float compares: a compiler may assume floats are finite and drop a NaN test.
fn fits(bits: u32) -> bool {
  return (bits & 0x7f800000u) != 0x7f800000u && abs(bitcast<f32>(bits)) <= F16_MAX;
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = gid.x + gid.y * groups.x * 256u;
  if (2u * i >= params.count) { return; }
  let lo = x[2u * i];
  var hi = 0u;
  if (2u * i + 1u < params.count) { hi = x[2u * i + 1u]; }
  if (!fits(lo) || !fits(hi)) { atomicOr(&flags[params.flagIndex], 1u); }
  out[i] = pack2x16float(vec2f(bitcast<f32>(lo), bitcast<f32>(hi)));
}
