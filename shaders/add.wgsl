// Elementwise sum of two tensors of the same shape: out = a + b (out aliases neither), summed in f32.
// a: [count] act, b: [count] f32 or (B_F16) f16 packed two per word, element 2i in the low half,
// so a cached f16 residual is added without widening it first. out: [count] act.
// `act` is f32, or f16 with the template flag F16 (the sum rounded once to f16).

#if F16
enable f16;
alias act = f16;
#else
alias act = f32;
#endif

override B_F16: bool = false;

struct Params { count: u32 }

@group(0) @binding(0) var<storage, read> a: array<act>;
@group(0) @binding(1) var<storage, read> b: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<act>;
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
    out[i] = act(f32(a[i]) + b_at(i));
  }
}
