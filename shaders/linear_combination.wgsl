// Linear combination of 1 to TERMS ≤ 4 same-shape f32 tensors: out = Σ coef_i · t_i.
// Each coefficient, a double on the host, arrives as two f32s (hi + lo) so it keeps ~48 bits. The
// sum runs in float-float arithmetic: every product hi·t is split exactly into value and rounding
// error (Dekker's product with Veltkamp splitting, no FMA needed), every addition likewise (Knuth's
// two-sum), and the errors are added back at the end. The result is then correct to about one f32
// rounding even where the terms cancel (CFG: (1 − g)·uncond + g·cond with cond ≈ uncond).
// A compiler that reassociated float arithmetic would silently fall back to plain f32 accuracy.
// Limit: |coef·t| and |t| must stay below ~8e34 (the split multiplies by 4097).
// t0..t3: [count] (slots past TERMS are bound to any buffer and not read), out: [count]

override TERMS: u32 = 1u;

struct Params { count: u32, hi0: f32, lo0: f32, hi1: f32, lo1: f32, hi2: f32, lo2: f32, hi3: f32, lo3: f32 }

@group(0) @binding(0) var<storage, read> t0: array<f32>;
@group(0) @binding(1) var<storage, read> t1: array<f32>;
@group(0) @binding(2) var<storage, read> t2: array<f32>;
@group(0) @binding(3) var<storage, read> t3: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;

// a = high + low, each with at most 12 significant bits, so products of halves are exact in f32.
fn split(a: f32) -> vec2f {
  let c = 4097.0 * a;
  let high = c - (c - a);
  return vec2f(high, a - high);
}

// The exact rounding error of p = a·b: a·b − p.
fn product_error(a: f32, b: f32, p: f32) -> f32 {
  let sa = split(a);
  let sb = split(b);
  return ((sa.x * sb.x - p) + sa.x * sb.y + sa.y * sb.x) + sa.y * sb.y;
}

// s = a + b rounded, and its exact rounding error.
fn two_sum(a: f32, b: f32) -> vec2f {
  let s = a + b;
  let bv = s - a;
  return vec2f(s, (a - (s - bv)) + (b - bv));
}

// acc = (sum, accumulated error); adds (hi + lo)·v.
fn add_term(acc: vec2f, v: f32, hi: f32, lo: f32) -> vec2f {
  let p = hi * v;
  let s = two_sum(acc.x, p);
  return vec2f(s.x, acc.y + (s.y + product_error(hi, v, p) + lo * v));
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = gid.x + gid.y * groups.x * 256u;
  if (i >= params.count) {
    return;
  }
  var acc = add_term(vec2f(0.0), t0[i], params.hi0, params.lo0);
  if (TERMS > 1u) {
    acc = add_term(acc, t1[i], params.hi1, params.lo1);
  }
  if (TERMS > 2u) {
    acc = add_term(acc, t2[i], params.hi2, params.lo2);
  }
  if (TERMS > 3u) {
    acc = add_term(acc, t3[i], params.hi3, params.lo3);
  }
  out[i] = acc.x + acc.y;
}
