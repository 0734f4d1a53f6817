// Linear combination of 1 to TERMS ≤ 4 same-shape f32 tensors: out = Σ coef_i · t_i.
// Each coefficient, a double on the host, arrives as three f32s: two of at most 12 significant bits
// (c1, c2) and the rest (c3), so it keeps ~48 bits. Each value v is split by masking into two halves
// of at most 12 significant bits, so the four products c1·v_high … c2·v_low are exact in f32; they are
// summed with Knuth's two-sum, whose rounding errors are collected and added back at the end. The
// result is then correct to about one f32 rounding even where the terms cancel (CFG:
// (1 − g)·uncond + g·cond with cond ≈ uncond).
// GPU compilers may treat float arithmetic as real-number algebra: fuse a multiply and an add into an
// FMA, or simplify (a + b) − a to b, which turns the two-sum's error into 0. WGSL cannot forbid either
// (no `precise`), and NVIDIA's Vulkan compiler does both: plain f32 accuracy came back on an H100.
// So every product here is exact (a fused one gives the same value), and each two-sum's rounded sum
// passes through `opaque`, whose result the compiler cannot relate to its input.
// t0..t3: [count] (slots past TERMS are bound to any buffer and not read), out: [count]

override TERMS: u32 = 1u;

struct Params {
  count: u32,
  zero: u32, // always 0; see opaque
  c1_0: f32, c2_0: f32, c3_0: f32,
  c1_1: f32, c2_1: f32, c3_1: f32,
  c1_2: f32, c2_2: f32, c3_2: f32,
  c1_3: f32, c2_3: f32, c3_3: f32,
}

@group(0) @binding(0) var<storage, read> t0: array<f32>;
@group(0) @binding(1) var<storage, read> t1: array<f32>;
@group(0) @binding(2) var<storage, read> t2: array<f32>;
@group(0) @binding(3) var<storage, read> t3: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;

// x, through an integer operation with a uniform the compiler cannot know is 0.
fn opaque(x: f32) -> f32 {
  return bitcast<f32>(bitcast<u32>(x) ^ params.zero);
}

// (sum, collected rounding errors) + b: the new sum is fl(sum + b), its exact error joins the rest.
fn add_exact(acc: vec2f, b: f32) -> vec2f {
  let s = opaque(acc.x + b);
  let bv = opaque(s - acc.x);
  return vec2f(s, acc.y + ((acc.x - (s - bv)) + (b - bv)));
}

// Adds (c1 + c2 + c3)·v.
fn add_term(acc: vec2f, v: f32, c1: f32, c2: f32, c3: f32) -> vec2f {
  let high = bitcast<f32>(bitcast<u32>(v) & 0xfffff000u); // sign, exponent and the top 11 stored bits
  let low = v - high; // exact: the other 12 bits
  var a = add_exact(acc, c1 * high);
  a = add_exact(a, c1 * low);
  a = add_exact(a, c2 * high);
  a = add_exact(a, c2 * low);
  return vec2f(a.x, a.y + c3 * v); // c3·v is ~2⁻²⁴ of the term: its own rounding does not matter
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = gid.x + gid.y * groups.x * 256u;
  if (i >= params.count) {
    return;
  }
  var acc = add_term(vec2f(0.0), t0[i], params.c1_0, params.c2_0, params.c3_0);
  if (TERMS > 1u) {
    acc = add_term(acc, t1[i], params.c1_1, params.c2_1, params.c3_1);
  }
  if (TERMS > 2u) {
    acc = add_term(acc, t2[i], params.c1_2, params.c2_2, params.c3_2);
  }
  if (TERMS > 3u) {
    acc = add_term(acc, t3[i], params.c1_3, params.c2_3, params.c3_3);
  }
  out[i] = acc.x + acc.y;
}
