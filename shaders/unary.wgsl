// Elementwise activations, one per OP constant; `out` may alias nothing. Computed in f32; with the
// template flag F16 the tensors hold f16 (`act`), each result rounded once to f16.
// x: [count] act, out: [count] act
//   OP 0 SiLU        x·σ(x)
//   OP 1 GELU (tanh) 0.5·x·(1 + tanh(u)), u = √(2/π)·(x + 0.044715·x³), computed as x / (1 + e^(−2u))
//   OP 2 ReLU        max(x, 0)
//   OP 3 tanh-clamp  3·tanh(x/3)   (TAEHV's input clamp)
//   OP 4 clamp01     min(max(x, 0), 1)

#if F16
enable f16;
alias act = f16;
#else
alias act = f32;
#endif

override OP: u32 = 0u;

struct Params { count: u32 }

@group(0) @binding(0) var<storage, read> x: array<act>;
@group(0) @binding(1) var<storage, read_write> out: array<act>;
@group(0) @binding(2) var<uniform> params: Params;

// WGSL's tanh() overflows past |a| ≈ 88 on some drivers; this form never does.
fn safe_tanh(a: f32) -> f32 {
  let e = exp(-2.0 * abs(a));
  return sign(a) * (1.0 - e) / (1.0 + e);
}

fn apply(v: f32) -> f32 {
  switch OP {
    case 0u: { return v / (1.0 + exp(-v)); }
    // 0.5·(1 + tanh(u)) = σ(2u): no cancellation for negative v, and e^(−2u) = ∞ gives −0.
    case 1u: { return v / (1.0 + exp(-1.5957691216057308 * (v + 0.044715 * v * v * v))); }
    case 2u: { return max(v, 0.0); }
    case 3u: { return 3.0 * safe_tanh(v / 3.0); }
    default: { return clamp(v, 0.0, 1.0); }
  }
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = gid.x + gid.y * groups.x * 256u;
  if (i < params.count) {
    out[i] = act(apply(f32(x[i])));
  }
}
