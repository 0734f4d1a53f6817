// 2-D convolution (stride 1, square kernel KSIZE ∈ {1, 3}), as an implicit GEMM:
//   out[n, co, y, x] = act( Σ_{ci, dy, dx} w[co, ci, dy, dx] · in[n, ci, y + dy − pad, x + dx − pad]
//                           + bias[co] + residual[n, co, y, x] )
// `in` is x's C1 channels followed by C2 appended channels (torch.cat([x, second], 1), read in place):
//   CONCAT 0: none (C2 = 0)
//   CONCAT 1: extra[n]                      (a second tensor)
//   CONCAT 2: x[n − 1], zeros at n = 0      (TAEHV memory: the block's input one frame earlier)
//   CONCAT 3: x[n − 1], extra[0] at n = 0   (the same, with the frame before a chunk carried over)
// Outside the image the input is zero (padding). GEMM view: rows = output channels, columns = output
// pixels (n, y, x), K = (C1 + C2)·KSIZE² in weight order (ci, dy, dx). A workgroup computes a
// TILE_CO × TILE_PX block: per K chunk of KT it stages the weight slice and the gathered input slice
// in workgroup memory as vec4s, then each invocation accumulates 4 × 4 outputs in four vec4 registers.
//
// x:        [N, C1, H, W]                 f32
// weight:   [Cout, C1 + C2, KSIZE, KSIZE] f32 bits, or f16 / bf16 packed two per u32 (WEIGHT_FORMAT)
// bias:     [Cout]                        f32 (read only when HAS_BIAS = 1)
// residual: [N, Cout, Ho, Wo]             f32 (read only when HAS_RESIDUAL = 1)
// extra:    [N, C2, H, W] (CONCAT 1) or [1, C2, H, W] (CONCAT 3) f32 (unread otherwise)
// out:      [N, Cout, Ho, Wo]             f32, Ho = H + 2·pad − KSIZE + 1 (likewise Wo)

override KSIZE: u32 = 3u;
override WEIGHT_FORMAT: u32 = 0u; // 0 f32, 1 f16, 2 bf16
override HAS_BIAS: u32 = 0u;
override HAS_RESIDUAL: u32 = 0u;
override ACTIVATION: u32 = 0u; // 0 none, 1 ReLU, 2 clamp to [0, 1]
override CONCAT: u32 = 0u;
// Tile shape: CO_THREADS × (256 / CO_THREADS) invocations. 16 → 64 channels × 64 pixels (PX_PER_THREAD 4,
// KT 16); 1 → 4 channels × 256 pixels (PX_PER_THREAD 1, KT 8) for convolutions with few output channels.
// Tile shape: CO_GROUPS × PX_GROUPS invocations, each computing 4 consecutive channels × 4 consecutive pixels.
// 16 × 16 → 64 channels × 64 pixels (KT 16); 1 × 64 → 4 channels × 256 pixels (KT 8), for few output channels.
override CO_GROUPS: u32 = 16u;
override PX_GROUPS: u32 = 16u;
override KT: u32 = 16u;
override WORKGROUP: u32 = CO_GROUPS * PX_GROUPS;
override TILE_CO: u32 = CO_GROUPS * 4u;
override TILE_PX: u32 = PX_GROUPS * 4u;
override TAPS: u32 = KSIZE * KSIZE;

struct Params {
  C1: u32,
  C2: u32,
  H: u32,
  W: u32,
  Cout: u32,
  Ho: u32,
  Wo: u32,
  pad: u32,
  K: u32,
  pixels: u32,
  tiles_co: u32,
  tiles_px: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> weight: array<u32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read> residual: array<f32>;
@group(0) @binding(4) var<storage, read> extra: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;
@group(0) @binding(6) var<uniform> params: Params;

// Sized for the larger tile shape: weights [KT][CO_GROUPS] as 16·16 or 8·1, inputs [KT][PX_GROUPS] as 16·16 or 8·64.
var<workgroup> w_tile: array<vec4f, 256>;
var<workgroup> x_tile: array<vec4f, 512>;

fn weight_at(i: u32) -> f32 {
  if (WEIGHT_FORMAT == 0u) {
    return bitcast<f32>(weight[i]);
  }
  let word = weight[i >> 1u];
  if (WEIGHT_FORMAT == 1u) {
    let pair = unpack2x16float(word);
    return select(pair.x, pair.y, (i & 1u) == 1u);
  }
  return bitcast<f32>(select(word << 16u, word & 0xffff0000u, (i & 1u) == 1u));
}

// Where one output pixel's 3×3 window starts, and in which frame; `ok` is false past the last pixel.
struct Gather {
  n: u32,
  iy0: i32,
  ix0: i32,
  ok: bool,
}

fn gather_for(p: u32) -> Gather {
  let out_plane = params.Ho * params.Wo;
  let r = p % out_plane;
  return Gather(p / out_plane, i32(r / params.Wo) - i32(params.pad), i32(r % params.Wo) - i32(params.pad), p < params.pixels);
}

// The input value of channel ci (of cat[x, second]) at frame g.n, window offset (dy, dx).
fn input_at(g: Gather, ci: u32, dy: i32, dx: i32) -> f32 {
  let iy = g.iy0 + dy;
  let ix = g.ix0 + dx;
  if (!g.ok || iy < 0 || ix < 0 || iy >= i32(params.H) || ix >= i32(params.W)) {
    return 0.0;
  }
  let plane = params.H * params.W;
  let pix = u32(iy) * params.W + u32(ix);
  if (ci < params.C1) {
    return x[(g.n * params.C1 + ci) * plane + pix];
  }
  let c = ci - params.C1;
  switch CONCAT {
    case 1u: {
      return extra[(g.n * params.C2 + c) * plane + pix];
    }
    case 2u: {
      if (g.n == 0u) {
        return 0.0;
      }
      return x[((g.n - 1u) * params.C1 + c) * plane + pix];
    }
    case 3u: {
      if (g.n == 0u) {
        return extra[c * plane + pix];
      }
      return x[((g.n - 1u) * params.C1 + c) * plane + pix];
    }
    default: {
      return 0.0;
    }
  }
}

fn activate(v: f32) -> f32 {
  switch ACTIVATION {
    case 1u: { return max(v, 0.0); }
    case 2u: { return clamp(v, 0.0, 1.0); }
    default: { return v; }
  }
}

fn store(co: u32, p: u32, b: f32, v: f32) {
  if (co >= params.Cout || p >= params.pixels) {
    return;
  }
  let out_plane = params.Ho * params.Wo;
  let idx = ((p / out_plane) * params.Cout + co) * out_plane + p % out_plane;
  var s = v + b;
  if (HAS_RESIDUAL == 1u) {
    s += residual[idx];
  }
  out[idx] = activate(s);
}

fn bias_at(co: u32) -> f32 {
  if (HAS_BIAS == 1u && co < params.Cout) {
    return bias[co];
  }
  return 0.0;
}

@compute @workgroup_size(WORKGROUP)
fn main(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) groups: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let group = wid.x + wid.y * groups.x;
  if (group >= params.tiles_co * params.tiles_px) {
    return;
  }
  // Channel tiles vary fastest, so neighbouring workgroups gather the same input pixels.
  let co0 = (group % params.tiles_co) * TILE_CO;
  let px0 = (group / params.tiles_co) * TILE_PX;

  // The four pixels this invocation gathers into x_tile (WORKGROUP is a multiple of PX_GROUPS).
  let load_group = lid % PX_GROUPS;
  let load_p = px0 + load_group * 4u;
  let g0 = gather_for(load_p);
  let g1 = gather_for(load_p + 1u);
  let g2 = gather_for(load_p + 2u);
  let g3 = gather_for(load_p + 3u);

  let co_group = lid / PX_GROUPS;
  let px_group = lid % PX_GROUPS;
  var acc0 = vec4f(0.0);
  var acc1 = vec4f(0.0);
  var acc2 = vec4f(0.0);
  var acc3 = vec4f(0.0);

  for (var k0 = 0u; k0 < params.K; k0 += KT) {
    // Weight slice: 4 consecutive output channels of one k.
    for (var e = lid; e < KT * CO_GROUPS; e += WORKGROUP) {
      let kl = e % KT;
      let k = k0 + kl;
      let co = co0 + (e / KT) * 4u;
      var v = vec4f(0.0);
      if (k < params.K) {
        let row = co * params.K + k;
        if (co < params.Cout) { v.x = weight_at(row); }
        if (co + 1u < params.Cout) { v.y = weight_at(row + params.K); }
        if (co + 2u < params.Cout) { v.z = weight_at(row + 2u * params.K); }
        if (co + 3u < params.Cout) { v.w = weight_at(row + 3u * params.K); }
      }
      w_tile[kl * CO_GROUPS + e / KT] = v;
    }
    // Input slice: one k (channel and tap) at this invocation's 4 pixels.
    for (var kl = lid / PX_GROUPS; kl < KT; kl += WORKGROUP / PX_GROUPS) {
      let k = k0 + kl;
      var v = vec4f(0.0);
      if (k < params.K) {
        let ci = k / TAPS;
        let tap = k % TAPS;
        let dy = i32(tap / KSIZE);
        let dx = i32(tap % KSIZE);
        v = vec4f(input_at(g0, ci, dy, dx), input_at(g1, ci, dy, dx), input_at(g2, ci, dy, dx), input_at(g3, ci, dy, dx));
      }
      x_tile[kl * PX_GROUPS + load_group] = v;
    }
    workgroupBarrier();

    for (var kk = 0u; kk < KT; kk++) {
      let w = w_tile[kk * CO_GROUPS + co_group];
      let xv = x_tile[kk * PX_GROUPS + px_group];
      acc0 = fma(vec4f(w.x), xv, acc0);
      acc1 = fma(vec4f(w.y), xv, acc1);
      acc2 = fma(vec4f(w.z), xv, acc2);
      acc3 = fma(vec4f(w.w), xv, acc3);
    }
    workgroupBarrier();
  }

  let co = co0 + co_group * 4u;
  let p = px0 + px_group * 4u;
  let accs = array<vec4f, 4>(acc0, acc1, acc2, acc3);
  for (var i = 0u; i < 4u; i++) {
    let b = bias_at(co + i);
    let a = accs[i];
    store(co + i, p, b, a.x);
    store(co + i, p + 1u, b, a.y);
    store(co + i, p + 2u, b, a.z);
    store(co + i, p + 3u, b, a.w);
  }
}
