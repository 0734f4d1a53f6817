// Linear layer with a fused epilogue: out[m, n] = residual[m, n] + gate[gateRow, n] · act(Σ_k x[m, k]·w[n, k] + bias[n]).
// Three paths (override PATH): register-blocked tiles fed two ways, and a vector path for a few rows.
//  - staged (GPUs): 16×16 threads own a 64×64 output tile, each thread a 4×4 block; K advances in
//    slices of 32 staged in workgroup memory transposed (k-major), so each k costs two vec4 reads from
//    workgroup memory for 16 FMAs.
//  - direct (CPU implementations such as SwiftShader, where a barrier suspends every 4-lane batch as
//    a coroutine and the CPU caches already do the staging): 8×8 threads own a 64×32 tile, each thread
//    an 8×4 block streamed straight from memory, 16 bytes of each of its 12 rows per step.
//  - vector (M ≤ 4, any adapter: timestep embeddings and projections): one thread per output column
//    streams its weight row once for every row of x; a tile would spend 16–64× the work on absent rows.
// Weights are f32, f16/bf16 (two halves per u32), or quantized codes decoded in registers as they are
// read (src/gpu/quantized.ts): int8/int4 with f16 scales per group of 2^params.groupShift columns (a power
// of two of at least 8, so the 8 codes decoded at once share one scale and a shift finds it), fp8 e4m3fn with one f32 scale applied to the sum.
// Accumulation is f32.
//   x:        [M, K]  act, read as 4-element chunks (16 bytes in f32, 8 in f16); `act` is f32, or f16
//             with the template flag F16 (f16 activations, each widened to f32 as it is read)
//   w:        [N, K]  f32 (4 per chunk), f16/bf16 (8 per chunk), int8/fp8 (16 per chunk) or int4 (32 per chunk), flat
//   scales:   int8/int4: [N, groupsPerRow] f16 packed two per word; fp8: [1] f32; else a dummy
//   bias:     [N]     f32 (HAS_BIAS; else a dummy)
//   gate:     [R, N]  f32, row params.gateRow (HAS_GATE; else a dummy)
//   residual: [M, N]  f32 (HAS_RESIDUAL; else a dummy)
//   out:      [M, N]  f32

#if F16
enable f16;
alias act = f16;
#else
alias act = f32;
#endif

// 0 f32, 1 f16, 2 bf16, 3 int8, 4 int4 (group scales), 5 fp8 e4m3fn (tensor scale).
override WEIGHT_FORMAT: u32 = 0u;
override IS_QUANTIZED: bool = WEIGHT_FORMAT >= 3u;
override HAS_BIAS: bool = false;
// 0 none, 1 GELU (tanh), 2 SiLU.
override ACTIVATION: u32 = 0u;
override HAS_GATE: bool = false;
override HAS_RESIDUAL: bool = false;
// 0 staged, 1 direct, 2 vector.
override PATH: u32 = 0u;
// Threads per workgroup, derived from PATH: 16×16 staged, 8×8 direct, 64 vector.
override GROUP_SIZE: u32 = select(64u, 256u, PATH == 0u);
// Every row of x and w starts on a 16-byte boundary (K % 4 == 0, and K % 8 == 0 for other weights):
// each thread's 8 consecutive k then lie in whole chunks, loaded as vectors. Otherwise element by element.
override ALIGNED: bool = false;

// groupShift (log2 of the group size) and groupsPerRow: the int8/int4 scale groups (unused by other formats).
struct Params { M: u32, N: u32, K: u32, gateRow: u32, groupShift: u32, groupsPerRow: u32 }

@group(0) @binding(0) var<storage, read> x: array<vec4<act>>;
@group(0) @binding(1) var<storage, read> w: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> scales: array<u32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> gate: array<f32>;
@group(0) @binding(5) var<storage, read> residual: array<f32>;
@group(0) @binding(6) var<storage, read_write> out: array<f32>;
@group(0) @binding(7) var<uniform> params: Params;

// Staged path: TILE×TILE outputs per workgroup, GROUP×GROUP threads, 4×4 outputs per thread.
const TILE = 64u;
const TILE_K = 32u;
const GROUP = 16u;
// Direct path: DIRECT_SIDE×DIRECT_SIDE threads, 8×4 outputs per thread (a 64×32 tile).
const DIRECT_SIDE = 8u;

// k-major slices: xTile[k * GROUP + i] holds rows 4i..4i+3 of the tile at slice column k.
var<workgroup> xTile: array<vec4<f32>, TILE_K * GROUP>;
var<workgroup> wTile: array<vec4<f32>, TILE_K * GROUP>;

// Two 16-bit weights packed in one word, low half first.
fn unpack_pair(word: u32) -> vec2<f32> {
  if (WEIGHT_FORMAT == 1u) {
    return unpack2x16float(word);
  }
  return vec2<f32>(bitcast<f32>(word << 16u), bitcast<f32>(word & 0xffff0000u));
}

// Element e of x (flat index), for ragged shapes.
fn x_at(e: u32) -> f32 {
  return f32(x[e >> 2u][e & 3u]);
}

// Chunk i of x (4 elements), widened to f32.
fn xChunk(i: u32) -> vec4<f32> {
  return vec4<f32>(x[i]);
}

// Element e of w (flat index), for ragged shapes.
fn w_at(e: u32) -> f32 {
  if (WEIGHT_FORMAT == 0u) {
    return bitcast<f32>(w[e >> 2u][e & 3u]);
  }
  let pair = unpack_pair(w[e >> 3u][(e >> 1u) & 3u]);
  return select(pair.x, pair.y, (e & 1u) == 1u);
}

// Word i of w (flat index).
fn w_word(i: u32) -> u32 {
  return w[i >> 2u][i & 3u];
}

// The four bytes of a word (lowest first) as int8 or fp8 e4m3fn values, unscaled. fp8: exponent 0 is
// subnormal (m·2⁻⁹); otherwise the bits move into an f32 with the exponent rebiased by 127 − 7 = 120.
// NaN codes (0x7f, 0xff) are refused when weights are loaded, so they need no case here.
fn decode_bytes(word: u32) -> vec4<f32> {
  if (WEIGHT_FORMAT == 3u) {
    return vec4<f32>(bitcast<vec4<i32>>(vec4<u32>(word) << vec4<u32>(24u, 16u, 8u, 0u)) >> vec4<u32>(24u));
  }
  let b = (vec4<u32>(word) >> vec4<u32>(0u, 8u, 16u, 24u)) & vec4<u32>(0xffu);
  let magnitude = b & vec4<u32>(0x7fu);
  let normal = bitcast<vec4<f32>>((magnitude << vec4<u32>(20u)) + vec4<u32>(120u << 23u));
  let subnormal = vec4<f32>(magnitude & vec4<u32>(7u)) * (1.0 / 512.0);
  let v = select(subnormal, normal, magnitude >= vec4<u32>(8u));
  return select(v, -v, (b & vec4<u32>(0x80u)) != vec4<u32>(0u));
}

// Eight int4 codes of a word (lowest nibble first), two's complement: codes 0-3 and 4-7.
fn decode_nibbles(word: u32) -> array<vec4<f32>, 2> {
  let lo = bitcast<vec4<i32>>(vec4<u32>(word) << vec4<u32>(28u, 24u, 20u, 16u)) >> vec4<u32>(28u);
  let hi = bitcast<vec4<i32>>(vec4<u32>(word) << vec4<u32>(12u, 8u, 4u, 0u)) >> vec4<u32>(28u);
  return array<vec4<f32>, 2>(vec4<f32>(lo), vec4<f32>(hi));
}

// The int8/int4 scale of row `row`, column k.
fn group_scale(row: u32, k: u32) -> f32 {
  let s = row * params.groupsPerRow + (k >> params.groupShift);
  return unpack2x16float(scales[s >> 1u])[s & 1u];
}

// Weights k0…k0+7 of row `row` of a quantized format (k0 % 8 == 0, K % 8 == 0): one int4 word or two
// int8/fp8 words, times the group's scale (fp8's tensor scale is applied to the sum, in store).
fn quantized8(row: u32, k0: u32) -> array<vec4<f32>, 2> {
  let e = row * params.K + k0;
  var q: array<vec4<f32>, 2>;
  if (WEIGHT_FORMAT == 4u) {
    q = decode_nibbles(w_word(e >> 3u));
  } else {
    q = array<vec4<f32>, 2>(decode_bytes(w_word(e >> 2u)), decode_bytes(w_word((e >> 2u) + 1u)));
  }
  if (WEIGHT_FORMAT != 5u) {
    let s = group_scale(row, k0);
    q[0] *= s;
    q[1] *= s;
  }
  return q;
}

// Weight [row, k] for ragged shapes, in any format (fp8 unscaled, as above).
fn weight_at(row: u32, k: u32) -> f32 {
  let e = row * params.K + k;
  switch WEIGHT_FORMAT {
    case 3u: {
      return f32(bitcast<i32>(w_word(e >> 2u) << (24u - 8u * (e & 3u))) >> 24u) * group_scale(row, k);
    }
    case 4u: {
      return f32(bitcast<i32>(w_word(e >> 3u) << (28u - 4u * (e & 7u))) >> 28u) * group_scale(row, k);
    }
    case 5u: {
      return decode_bytes((w_word(e >> 2u) >> (8u * (e & 3u))) & 0xffu).x;
    }
    default: {
      return w_at(e);
    }
  }
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
      let lo = xChunk(c);
      v[0] = lo.x; v[1] = lo.y; v[2] = lo.z; v[3] = lo.w;
      if (k0 + 4u < K) {
        let hi = xChunk(c + 1u);
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
    } else if (IS_QUANTIZED) {
      if (k0 < K) {
        let q = quantized8(row, k0);
        v[0] = q[0].x; v[1] = q[0].y; v[2] = q[0].z; v[3] = q[0].w;
        v[4] = q[1].x; v[5] = q[1].y; v[6] = q[1].z; v[7] = q[1].w;
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
        v[j] = weight_at(row, k0 + j);
      }
    }
  }
  return v;
}

// GELU (tanh): 0.5·v·(1 + tanh(u)) written as v·σ(2u) = v / (1 + e^(−2u)), u = √(2/π)·(v + 0.044715·v³).
// The same function without tanh() (which overflows on some drivers) and without the cancellation
// of 1 + tanh(u) for negative v; e^(−2u) = ∞ gives −0, as the limit should.
fn gelu_tanh(v: f32) -> f32 {
  return v / (1.0 + exp(-1.5957691216057308 * (v + 0.044715 * v * v * v)));
}

fn activate(v: f32) -> f32 {
  switch ACTIVATION {
    case 1u: { return gelu_tanh(v); }
    case 2u: { return v / (1.0 + exp(-v)); }
    default: { return v; }
  }
}

fn store(m: u32, n: u32, acc: f32) {
  let N = params.N;
  var v = acc;
  if (WEIGHT_FORMAT == 5u) {
    v *= bitcast<f32>(scales[0]);
  }
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

fn staged(group: vec3u, thread: u32) {
  let M = params.M;
  let N = params.N;
  let K = params.K;
  let local = vec2<u32>(thread % GROUP, thread / GROUP);
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

  // The next slice is fetched into registers while this one is multiplied, hiding memory latency.
  var xs = load_x8(m0 + loadRow, loadK, M);
  var ws = load_w8(n0 + loadRow, loadK, N);
  for (var k0 = 0u; k0 < K; k0 += TILE_K) {
    workgroupBarrier(); // every thread is done reading the previous slice
    for (var j = 0u; j < 8u; j++) {
      xTile[(loadK + j) * GROUP + slot][lane] = xs[j];
      wTile[(loadK + j) * GROUP + slot][lane] = ws[j];
    }
    workgroupBarrier();
    xs = load_x8(m0 + loadRow, k0 + TILE_K + loadK, M);
    ws = load_w8(n0 + loadRow, k0 + TILE_K + loadK, N);
    for (var k = 0u; k < TILE_K; k++) {
      let a = xTile[k * GROUP + local.y];
      let b = wTile[k * GROUP + local.x];
      acc0 = fma(vec4<f32>(a.x), b, acc0);
      acc1 = fma(vec4<f32>(a.y), b, acc1);
      acc2 = fma(vec4<f32>(a.z), b, acc2);
      acc3 = fma(vec4<f32>(a.w), b, acc3);
    }
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

fn direct(group: vec3u, thread: u32) {
  let M = params.M;
  let N = params.N;
  let K = params.K;
  let m = (group.y * DIRECT_SIDE + thread / DIRECT_SIDE) * 8u;
  let n = (group.x * DIRECT_SIDE + thread % DIRECT_SIDE) * 4u;
  // Element offsets of this thread's rows; rows past the end repeat the last one (never stored).
  var xRow: array<u32, 8>;
  for (var r = 0u; r < 8u; r++) {
    xRow[r] = min(m + r, M - 1u) * K;
  }
  let wIndex = min(vec4<u32>(n) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(N - 1u));
  let wRow = wIndex * K;
  // acc[j][r] = Σ_k x[m + r (+ 4), k] · w[n + j, k]: a vec4 times a 4×4 matrix is four dot products.
  var accLo = mat4x4<f32>();
  var accHi = mat4x4<f32>();
  if (ALIGNED && WEIGHT_FORMAT == 0u) {
    let x0 = xRow[0] / 4u; let x1 = xRow[1] / 4u; let x2 = xRow[2] / 4u; let x3 = xRow[3] / 4u;
    let x4 = xRow[4] / 4u; let x5 = xRow[5] / 4u; let x6 = xRow[6] / 4u; let x7 = xRow[7] / 4u;
    let w4 = wRow / 4u;
    for (var c = 0u; c < K / 4u; c++) {
      let b = mat4x4<f32>(bitcast<vec4<f32>>(w[w4.x + c]), bitcast<vec4<f32>>(w[w4.y + c]),
                          bitcast<vec4<f32>>(w[w4.z + c]), bitcast<vec4<f32>>(w[w4.w + c]));
      accLo += transpose(mat4x4<f32>(xChunk(x0 + c), xChunk(x1 + c), xChunk(x2 + c), xChunk(x3 + c))) * b;
      accHi += transpose(mat4x4<f32>(xChunk(x4 + c), xChunk(x5 + c), xChunk(x6 + c), xChunk(x7 + c))) * b;
    }
  } else if (ALIGNED && IS_QUANTIZED) {
    let x0 = xRow[0] / 4u; let x1 = xRow[1] / 4u; let x2 = xRow[2] / 4u; let x3 = xRow[3] / 4u;
    let x4 = xRow[4] / 4u; let x5 = xRow[5] / 4u; let x6 = xRow[6] / 4u; let x7 = xRow[7] / 4u;
    for (var c = 0u; c < K / 8u; c++) {
      let q0 = quantized8(wIndex.x, 8u * c); let q1 = quantized8(wIndex.y, 8u * c);
      let q2 = quantized8(wIndex.z, 8u * c); let q3 = quantized8(wIndex.w, 8u * c);
      let bLo = mat4x4<f32>(q0[0], q1[0], q2[0], q3[0]);
      let bHi = mat4x4<f32>(q0[1], q1[1], q2[1], q3[1]);
      let k = 2u * c;
      accLo += transpose(mat4x4<f32>(xChunk(x0 + k), xChunk(x1 + k), xChunk(x2 + k), xChunk(x3 + k))) * bLo
             + transpose(mat4x4<f32>(xChunk(x0 + k + 1u), xChunk(x1 + k + 1u), xChunk(x2 + k + 1u), xChunk(x3 + k + 1u))) * bHi;
      accHi += transpose(mat4x4<f32>(xChunk(x4 + k), xChunk(x5 + k), xChunk(x6 + k), xChunk(x7 + k))) * bLo
             + transpose(mat4x4<f32>(xChunk(x4 + k + 1u), xChunk(x5 + k + 1u), xChunk(x6 + k + 1u), xChunk(x7 + k + 1u))) * bHi;
    }
  } else if (ALIGNED) {
    let x0 = xRow[0] / 4u; let x1 = xRow[1] / 4u; let x2 = xRow[2] / 4u; let x3 = xRow[3] / 4u;
    let x4 = xRow[4] / 4u; let x5 = xRow[5] / 4u; let x6 = xRow[6] / 4u; let x7 = xRow[7] / 4u;
    let w8 = wRow / 8u;
    for (var c = 0u; c < K / 8u; c++) {
      // One 16-byte chunk holds 8 weights: k = 8c…8c+3 in .xy, 8c+4…8c+7 in .zw.
      let q0 = w[w8.x + c]; let q1 = w[w8.y + c]; let q2 = w[w8.z + c]; let q3 = w[w8.w + c];
      let bLo = mat4x4<f32>(vec4(unpack_pair(q0.x), unpack_pair(q0.y)), vec4(unpack_pair(q1.x), unpack_pair(q1.y)),
                            vec4(unpack_pair(q2.x), unpack_pair(q2.y)), vec4(unpack_pair(q3.x), unpack_pair(q3.y)));
      let bHi = mat4x4<f32>(vec4(unpack_pair(q0.z), unpack_pair(q0.w)), vec4(unpack_pair(q1.z), unpack_pair(q1.w)),
                            vec4(unpack_pair(q2.z), unpack_pair(q2.w)), vec4(unpack_pair(q3.z), unpack_pair(q3.w)));
      let k = 2u * c;
      accLo += transpose(mat4x4<f32>(xChunk(x0 + k), xChunk(x1 + k), xChunk(x2 + k), xChunk(x3 + k))) * bLo
             + transpose(mat4x4<f32>(xChunk(x0 + k + 1u), xChunk(x1 + k + 1u), xChunk(x2 + k + 1u), xChunk(x3 + k + 1u))) * bHi;
      accHi += transpose(mat4x4<f32>(xChunk(x4 + k), xChunk(x5 + k), xChunk(x6 + k), xChunk(x7 + k))) * bLo
             + transpose(mat4x4<f32>(xChunk(x4 + k + 1u), xChunk(x5 + k + 1u), xChunk(x6 + k + 1u), xChunk(x7 + k + 1u))) * bHi;
    }
  } else {
    for (var k = 0u; k < K; k++) {
      let b = vec4<f32>(weight_at(wIndex.x, k), weight_at(wIndex.y, k), weight_at(wIndex.z, k), weight_at(wIndex.w, k));
      let aLo = vec4<f32>(x_at(xRow[0] + k), x_at(xRow[1] + k), x_at(xRow[2] + k), x_at(xRow[3] + k));
      let aHi = vec4<f32>(x_at(xRow[4] + k), x_at(xRow[5] + k), x_at(xRow[6] + k), x_at(xRow[7] + k));
      accLo += mat4x4<f32>(aLo * b.x, aLo * b.y, aLo * b.z, aLo * b.w);
      accHi += mat4x4<f32>(aHi * b.x, aHi * b.y, aHi * b.z, aHi * b.w);
    }
  }
  for (var j = 0u; j < 4u; j++) {
    if (n + j < N) {
      for (var r = 0u; r < 4u; r++) {
        if (m + r < M) {
          store(m + r, n + j, accLo[j][r]);
        }
        if (m + 4u + r < M) {
          store(m + 4u + r, n + j, accHi[j][r]);
        }
      }
    }
  }
}

// Most rows of x the vector path takes (its accumulators are one vec4).
const VECTOR_ROWS = 4u;

fn vector(n: u32) {
  let M = min(params.M, VECTOR_ROWS);
  let N = params.N;
  let K = params.K;
  if (n >= N) {
    return;
  }
  var acc = vec4<f32>(0.0); // acc[m] = Σ_k x[m, k] · w[n, k]
  if (ALIGNED && WEIGHT_FORMAT == 0u) {
    let chunks = K / 4u;
    for (var c = 0u; c < chunks; c++) {
      let b = bitcast<vec4<f32>>(w[n * chunks + c]);
      for (var m = 0u; m < M; m++) {
        acc[m] += dot(xChunk(m * chunks + c), b);
      }
    }
  } else if (ALIGNED && IS_QUANTIZED) {
    for (var c = 0u; c < K / 8u; c++) {
      let q = quantized8(n, 8u * c);
      for (var m = 0u; m < M; m++) {
        let xc = m * (K / 4u) + 2u * c;
        acc[m] += dot(xChunk(xc), q[0]) + dot(xChunk(xc + 1u), q[1]);
      }
    }
  } else if (ALIGNED) {
    let chunks = K / 8u;
    for (var c = 0u; c < chunks; c++) {
      // One 16-byte chunk holds 8 weights: k = 8c…8c+3 in .xy, 8c+4…8c+7 in .zw.
      let q = w[n * chunks + c];
      let lo = vec4(unpack_pair(q.x), unpack_pair(q.y));
      let hi = vec4(unpack_pair(q.z), unpack_pair(q.w));
      for (var m = 0u; m < M; m++) {
        let xc = m * (K / 4u) + 2u * c;
        acc[m] += dot(xChunk(xc), lo) + dot(xChunk(xc + 1u), hi);
      }
    }
  } else {
    for (var k = 0u; k < K; k++) {
      let b = weight_at(n, k);
      for (var m = 0u; m < M; m++) {
        acc[m] += x_at(m * K + k) * b;
      }
    }
  }
  for (var m = 0u; m < M; m++) {
    store(m, n, acc[m]);
  }
}

@compute @workgroup_size(GROUP_SIZE)
fn main(
  @builtin(workgroup_id) group: vec3u,
  @builtin(num_workgroups) groups: vec3u,
  @builtin(local_invocation_index) thread: u32,
) {
  switch PATH {
    case 0u: { staged(group, thread); }
    case 1u: { direct(group, thread); }
    default: { vector((group.x + group.y * groups.x) * GROUP_SIZE + thread); }
  }
}
