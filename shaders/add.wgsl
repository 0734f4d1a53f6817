// Elementwise sum of two tensors of the same shape: out = a + b (out aliases neither).
// a: [count] f32, b: [count] f32 or (B_F16) f16 packed two per word, element 2i in the low half,
// so a cached f16 residual is added without widening it first. out: [count] f32.

override B_F16: bool = false;

struct Params { count: u32 }

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

fn b_at(i: u32) -> f32 {
  if (B_F16) {
    let pair = unpack2x16float(b[i / 2u]);
    return select(pair.x, pair.y, (i & 1u) == 1u);
  }
  return bitcast<f32>(b[i]);
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = gid.x + gid.y * groups.x * 256u;
  if (i < params.count) {
    out[i] = a[i] + b_at(i);
  }
}
