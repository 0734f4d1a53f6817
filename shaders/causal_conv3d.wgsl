// Causal 3-D convolution (stride 1; time_taps ∈ {1, 3} frames, square spatial kernel ksize ∈ {1, 3},
// spatial zero padding pad), as wan/modules/vae.py's CausalConv3d runs it chunk by chunk:
//   out[n, co, y, x] = act( Σ_{ci, kt, dy, dx} w[co, ci, kt, dy, dx] · in[n + kt − (time_taps − 1), ci, y + dy − pad, x + dx − pad]
//                           + bias[co] + residual[n, co, y, x] )
// where `in` is the chunk x [n] preceded by the time_taps − 1 frames the conv carried over from the
// previous chunk (`past`, oldest first), or by zeros when has_past is 0 (the first chunk: causal padding).
// Kernel size, bias, residual and activation are uniforms, not override constants: one pipeline (per
// tile shape and weight format) serves every layer of the VAE, which keeps SwiftShader's compile
// time (seconds per pipeline) out of the decoder's first run.
// Outside the image the input is zero. GEMM view as conv2d.wgsl: rows = output channels, columns =
// output pixels (n, y, x), K = Cin·time_taps·ksize² in weight order (ci, kt, dy, dx); the same tiles.
// x:        [N, Cin, H, W] f32
// past:     [time_taps − 1, Cin, H, W] f32, or f16 packed two per u32 (PAST_FORMAT; read only when has_past is 1)
// weight:   [Cout, Cin, time_taps, ksize, ksize] f32, or f16/bf16 packed two per u32 (WEIGHT_FORMAT)
// bias:     [Cout] f32 (read when has_bias is 1)
// residual: [N, Cout, Ho, Wo] f32 (read when has_residual is 1)
// out:      [N, Cout, Ho, Wo] f32, Ho = H + 2·pad − ksize + 1 (likewise Wo)
// activation 0: none; 1: Wan frames, (clamp(v, −1, 1) + 1)/2 (the VAE's clamp, mapped to [0, 1]).

override WEIGHT_FORMAT: u32 = 0u; // 0 f32, 1 f16, 2 bf16
override PAST_FORMAT: u32 = 0u; // 0 f32, 1 f16 (carried frames kept at half the memory)
override CO_GROUPS: u32 = 8u;
override PX_GROUPS: u32 = 8u;
override KT: u32 = 16u;
override WORKGROUP: u32 = CO_GROUPS * PX_GROUPS;
override W_COLS: u32 = CO_GROUPS * 2u;
override X_COLS: u32 = PX_GROUPS * 2u;
override TILE_CO: u32 = W_COLS * 4u;
override TILE_PX: u32 = X_COLS * 4u;

struct Params {
  Cin: u32,
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
  has_past: u32,
  time_taps: u32,
  ksize: u32,
  has_bias: u32,
  has_residual: u32,
  activation: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> past: array<u32>;
@group(0) @binding(2) var<storage, read> weight: array<u32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> residual: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;
@group(0) @binding(6) var<uniform> params: Params;

// [KT][W_COLS] and [KT][X_COLS], sized for the larger tile shape (16·16 and 16·16, or 4·2 and 4·64).
// Kept small: SwiftShader's compile time grows with workgroup memory (about 1.4 s per 16 KiB).
var<workgroup> w_tile: array<vec4f, 256>;
var<workgroup> x_tile: array<vec4f, 256>;

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

// Where one output pixel's window starts, and in which frame; `ok` is false past the last pixel.
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

// The input value of channel ci at time tap kt (frame n + kt − (time_taps − 1)), window offset (dy, dx).
fn input_at(g: Gather, ci: u32, kt: u32, dy: i32, dx: i32) -> f32 {
  let iy = g.iy0 + dy;
  let ix = g.ix0 + dx;
  if (!g.ok || iy < 0 || ix < 0 || iy >= i32(params.H) || ix >= i32(params.W)) {
    return 0.0;
  }
  let plane = params.H * params.W;
  let pix = u32(iy) * params.W + u32(ix);
  let frame = i32(g.n + kt) - i32(params.time_taps - 1u);
  if (frame >= 0) {
    return x[(u32(frame) * params.Cin + ci) * plane + pix];
  }
  if (params.has_past == 0u) {
    return 0.0;
  }
  let j = (u32(frame + i32(params.time_taps - 1u)) * params.Cin + ci) * plane + pix;
  if (PAST_FORMAT == 0u) {
    return bitcast<f32>(past[j]);
  }
  let pair = unpack2x16float(past[j >> 1u]);
  return select(pair.x, pair.y, (j & 1u) == 1u);
}

fn activate(v: f32) -> f32 {
  if (params.activation == 1u) {
    return (clamp(v, -1.0, 1.0) + 1.0) * 0.5;
  }
  return v;
}

fn bias_at(co: u32) -> f32 {
  if (params.has_bias == 1u && co < params.Cout) {
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

  let cg = lid / PX_GROUPS;
  let pg = lid % PX_GROUPS;
  var acc00 = mat4x4f(); // channels cg, pixels pg
  var acc01 = mat4x4f(); // channels cg, pixels pg + PX_GROUPS
  var acc10 = mat4x4f(); // channels cg + CO_GROUPS, pixels pg
  var acc11 = mat4x4f();

  for (var k0 = 0u; k0 < params.K; k0 += KT) {
    // Weight slice: 4 consecutive output channels of one k; consecutive invocations take consecutive k.
    for (var e = lid; e < KT * W_COLS; e += WORKGROUP) {
      let kl = e % KT;
      let col = e / KT;
      let k = k0 + kl;
      let co = co0 + col * 4u;
      var v = vec4f(0.0);
      if (k < params.K) {
        for (var j = 0u; j < 4u && co + j < params.Cout; j++) {
          v[j] = weight_at((co + j) * params.K + k);
        }
      }
      w_tile[kl * W_COLS + col] = v;
    }
    // Input slice: one k (channel and tap) at 4 consecutive pixels; consecutive invocations take
    // consecutive pixels.
    for (var e = lid; e < KT * X_COLS; e += WORKGROUP) {
      let kl = e / X_COLS;
      let col = e % X_COLS;
      let k = k0 + kl;
      var v = vec4f(0.0);
      if (k < params.K) {
        let plane_taps = params.ksize * params.ksize;
        let taps = params.time_taps * plane_taps;
        let ci = k / taps;
        let tap = k % taps;
        let kt = tap / plane_taps;
        let dy = i32((tap % plane_taps) / params.ksize);
        let dx = i32(tap % params.ksize);
        // A loop, not four calls: SwiftShader inlines every call site, and compiling takes seconds.
        for (var j = 0u; j < 4u; j++) {
          v[j] = input_at(gather_for(px0 + col * 4u + j), ci, kt, dy, dx);
        }
      }
      x_tile[kl * X_COLS + col] = v;
    }
    workgroupBarrier();

    for (var kk = 0u; kk < KT; kk++) {
      let w0 = w_tile[kk * W_COLS + cg];
      let w1 = w_tile[kk * W_COLS + cg + CO_GROUPS];
      let x0 = x_tile[kk * X_COLS + pg];
      let x1 = x_tile[kk * X_COLS + pg + PX_GROUPS];
      acc00 += mat4x4f(w0.x * x0, w0.y * x0, w0.z * x0, w0.w * x0);
      acc01 += mat4x4f(w0.x * x1, w0.y * x1, w0.z * x1, w0.w * x1);
      acc10 += mat4x4f(w1.x * x0, w1.y * x0, w1.z * x0, w1.w * x0);
      acc11 += mat4x4f(w1.x * x1, w1.y * x1, w1.z * x1, w1.w * x1);
    }
    workgroupBarrier();
  }

  // Epilogue as loops over the four blocks (one copy of the code; runs once per invocation).
  let blocks = array<mat4x4f, 4>(acc00, acc01, acc10, acc11);
  let out_plane = params.Ho * params.Wo;
  for (var blk = 0u; blk < 4u; blk++) {
    let acc = blocks[blk];
    let co_base = co0 + (cg + (blk / 2u) * CO_GROUPS) * 4u;
    let p_base = px0 + (pg + (blk % 2u) * PX_GROUPS) * 4u;
    // Column c of a block holds channel co_base + c at pixels p_base .. p_base + 3.
    for (var c = 0u; c < 4u; c++) {
      let co = co_base + c;
      if (co >= params.Cout) {
        break;
      }
      let b = bias_at(co);
      for (var j = 0u; j < 4u; j++) {
        let p = p_base + j;
        if (p >= params.pixels) {
          break;
        }
        let idx = ((p / out_plane) * params.Cout + co) * out_plane + p % out_plane;
        var v = acc[c][j] + b;
        if (params.has_residual == 1u) {
          v += residual[idx];
        }
        out[idx] = activate(v);
      }
    }
  }
}
