// Linear layer with a fused epilogue: out[m, n] = residual[m, n] + gate[gateRow, n] · act(Σ_k x[m, k]·w[n, k] + bias[n]).
// Register-blocked tiling: a workgroup of 16×16 threads owns a 64×64 output tile, each thread a 4×4
// block; K advances in slices of 32, staged in workgroup memory transposed (k-major) so that the inner
// loop reads one vec4 of x rows and one vec4 of w rows per k and does 16 FMAs. Weights are f32 or
// f16/bf16 (two halves per u32); accumulation is f32.
//   x:        [M, K]  f32, read as 16-byte chunks
//   w:        [N, K]  f32 (4 per chunk) or f16/bf16 (8 per chunk), read as 16-byte chunks
//   bias:     [N]     f32 (HAS_BIAS; else a dummy)
//   gate:     [R, N]  f32, row params.gateRow (HAS_GATE; else a dummy)
//   residual: [M, N]  f32 (HAS_RESIDUAL; else a dummy)
//   out:      [M, N]  f32

// 0 f32, 1 f16, 2 bf16.
override WEIGHT_FORMAT: u32 = 0u;
override HAS_BIAS: bool = false;
// 0 none, 1 GELU (tanh), 2 SiLU.
override ACTIVATION: u32 = 0u;
override HAS_GATE: bool = false;
override HAS_RESIDUAL: bool = false;
// Every row of x and w starts on a 16-byte boundary (K % 4 == 0, and K % 8 == 0 for 16-bit weights):
// each thread's 8 consecutive k then lie in whole chunks, loaded as vectors. Otherwise element by element.
override ALIGNED: bool = false;

struct Params { M: u32, N: u32, K: u32, gateRow: u32 }

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> w: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read> gate: array<f32>;
@group(0) @binding(4) var<storage, read> residual: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;
@group(0) @binding(6) var<uniform> params: Params;

const TILE = 64u;
const TILE_K = 32u;
const GROUP = 16u; // threads per side; each thread owns TILE / GROUP = 4 rows and 4 columns

// k-major slices: xTile[k * GROUP + i] holds rows 4i..4i+3 of the tile at slice column k.
var<workgroup> xTile: array<vec4<f32>, TILE_K * GROUP>;
var<workgroup> wTile: array<vec4<f32>, TILE_K * GROUP>;

fn half_to_f32(word: u32, high: bool) -> f32 {
  if (WEIGHT_FORMAT == 1u) {
    let pair = unpack2x16float(word);
    return select(pair.x, pair.y, high);
  }
  return bitcast<f32>(select(word << 16u, word & 0xffff0000u, high));
}

// Two 16-bit weights packed in one word, low half first.
fn unpack_pair(word: u32) -> vec2<f32> {
  if (WEIGHT_FORMAT == 1u) {
    return unpack2x16float(word);
  }
  return vec2<f32>(bitcast<f32>(word << 16u), bitcast<f32>(word & 0xffff0000u));
}

// Element e of x (flat index), for ragged shapes.
fn x_at(e: u32) -> f32 {
  return x[e >> 2u][e & 3u];
}

// Element e of w (flat index), for ragged shapes.
fn w_at(e: u32) -> f32 {
  if (WEIGHT_FORMAT == 0u) {
    return bitcast<f32>(w[e >> 2u][e & 3u]);
  }
  return half_to_f32(w[e >> 3u][(e >> 1u) & 3u], (e & 1u) == 1u);
}

// Eight consecutive values of row `row` starting at column k0 (k0 % 8 == 0), zero outside [0, rows)×[0, K).
fn load_x8(row: u32, k0: u32, rows: u32) -> array<f32, 8> {
  var v: array<f32, 8>;
  let K = params.K;
  if (row >= rows) {
    return v;
  }
  if (ALIGNED) {
    if (k0 < K) {
      let c = (row * K + k0) >> 2u;
      let lo = x[c];
      v[0] = lo.x; v[1] = lo.y; v[2] = lo.z; v[3] = lo.w;
      if (k0 + 4u < K) {
        let hi = x[c + 1u];
        v[4] = hi.x; v[5] = hi.y; v[6] = hi.z; v[7] = hi.w;
      }
    }
  } else {
    for (var j = 0u; j < 8u; j++) {
      if (k0 + j < K) {
        v[j] = x_at(row * K + k0 + j);
      }
    }
  }
  return v;
}

fn load_w8(row: u32, k0: u32, rows: u32) -> array<f32, 8> {
  var v: array<f32, 8>;
  let K = params.K;
  if (row >= rows) {
    return v;
  }
  if (ALIGNED) {
    if (WEIGHT_FORMAT == 0u) {
      if (k0 < K) {
        let c = (row * K + k0) >> 2u;
        let lo = bitcast<vec4<f32>>(w[c]);
        v[0] = lo.x; v[1] = lo.y; v[2] = lo.z; v[3] = lo.w;
        if (k0 + 4u < K) {
          let hi = bitcast<vec4<f32>>(w[c + 1u]);
          v[4] = hi.x; v[5] = hi.y; v[6] = hi.z; v[7] = hi.w;
        }
      }
    } else if (k0 < K) {
      let words = w[(row * K + k0) >> 3u];
      let a = unpack_pair(words.x);
      let b = unpack_pair(words.y);
      let c = unpack_pair(words.z);
      let d = unpack_pair(words.w);
      v[0] = a.x; v[1] = a.y; v[2] = b.x; v[3] = b.y;
      v[4] = c.x; v[5] = c.y; v[6] = d.x; v[7] = d.y;
    }
  } else {
    for (var j = 0u; j < 8u; j++) {
      if (k0 + j < K) {
        v[j] = w_at(row * K + k0 + j);
      }
    }
  }
  return v;
}

// WGSL's tanh() overflows past |a| ≈ 88 on some drivers; this form never does.
fn safe_tanh(a: f32) -> f32 {
  let e = exp(-2.0 * abs(a));
  return sign(a) * (1.0 - e) / (1.0 + e);
}

fn activate(v: f32) -> f32 {
  switch ACTIVATION {
    case 1u: { return 0.5 * v * (1.0 + safe_tanh(0.7978845608028654 * (v + 0.044715 * v * v * v))); }
    case 2u: { return v / (1.0 + exp(-v)); }
    default: { return v; }
  }
}

fn store(m: u32, n: u32, acc: f32) {
  let N = params.N;
  var v = acc;
  if (HAS_BIAS) {
    v += bias[n];
  }
  v = activate(v);
  if (HAS_GATE) {
    v *= gate[params.gateRow * N + n];
  }
  if (HAS_RESIDUAL) {
    v += residual[m * N + n];
  }
  out[m * N + n] = v;
}

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_id) local: vec3u,
        @builtin(local_invocation_index) thread: u32) {
  let M = params.M;
  let N = params.N;
  let K = params.K;
  let m0 = group.y * TILE;
  let n0 = group.x * TILE;

  // Staging: thread t loads 8 consecutive k of tile row t / 4 (columns 8·(t % 4)…) for x and for w.
  let loadRow = thread >> 2u;
  let loadK = (thread & 3u) * 8u;
  let slot = loadRow >> 2u;
  let lane = loadRow & 3u;

  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);

  for (var k0 = 0u; k0 < K; k0 += TILE_K) {
    let xs = load_x8(m0 + loadRow, k0 + loadK, M);
    let ws = load_w8(n0 + loadRow, k0 + loadK, N);
    for (var j = 0u; j < 8u; j++) {
      xTile[(loadK + j) * GROUP + slot][lane] = xs[j];
      wTile[(loadK + j) * GROUP + slot][lane] = ws[j];
    }
    workgroupBarrier();
    for (var k = 0u; k < TILE_K; k++) {
      let a = xTile[k * GROUP + local.y];
      let b = wTile[k * GROUP + local.x];
      acc0 = fma(vec4<f32>(a.x), b, acc0);
      acc1 = fma(vec4<f32>(a.y), b, acc1);
      acc2 = fma(vec4<f32>(a.z), b, acc2);
      acc3 = fma(vec4<f32>(a.w), b, acc3);
    }
    workgroupBarrier();
  }

  let m = m0 + local.y * 4u;
  let n = n0 + local.x * 4u;
  let rows = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
  for (var i = 0u; i < 4u; i++) {
    if (m + i < M) {
      for (var j = 0u; j < 4u; j++) {
        if (n + j < N) {
          store(m + i, n + j, rows[i][j]);
        }
      }
    }
  }
}
