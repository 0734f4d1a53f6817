#if SUBGROUPS
enable subgroups;
#endif

// Multi-head attention, out = softmax(Q·Kᵀ·scale)·V for each head, flash-style (the Lq×Lk score
// matrix is never formed), without workgroup memory or barriers: the path for CPU implementations
// such as SwiftShader, where a barrier suspends every 4-lane batch of a workgroup as a coroutine and
// where every dynamically indexed load costs a per-lane gather, so what pays is reuse in registers.
//   q:   [Lq, H·d]   k, v: [Lk, H·d]   out: [Lq, H·d]   (head h occupies columns [h·d, (h+1)·d))
//   params.headDim = d (≤ 4·MAX_CHUNKS), params.scale = 1/√d
//
// One invocation per (block of 4 query rows, head). It keeps its rows' q (pre-scaled into log2
// units, so the softmax uses exp2) and output accumulators as one 4×4 matrix per 4-column chunk of
// the head, and streams keys and values straight from storage, 16 keys at a time:
//   1. scores S (16 keys × 4 rows, four 4×4 blocks in registers) = Σ over chunks Kᵀ·Q;
//   2. online softmax of the block: running max m and sum l per row; the accumulators are rescaled
//      by 2^(m_old − m_new) once per block;
//   3. acc += V·P per chunk.
// Every invocation of a workgroup reads the same keys (broadcast loads on a GPU, cache hits on a CPU).
// Rows past Lq and keys past Lk are clamped to the last one for loading; those keys get probability
// 0 and those rows are never stored.
// With the template flag SUBGROUPS (adapters with subgroups) the 4 lanes of a quad share the K/V
// loads: for a block of 4 keys, lane i loads the chunk of key i and quadBroadcast hands it to the other
// three, so each lane issues one vector load where it would issue four (on SwiftShader a quad is one
// 4-lane batch, and a load with per-lane addresses costs a gather while a broadcast costs a shuffle).
// Every lane of a workgroup reads the same keys, so which queries the lanes of a quad own does not
// matter; no invocation returns early, so quads stay whole.

// Whole 16-byte chunks: d % 4 == 0, so every head starts on a chunk and K/V are read as vectors.
// Otherwise value by value (the tensors' buffers still hold whole chunks: the pool rounds them up).
override ALIGNED: bool = true;

const THREADS: u32 = 4u;                // one 4-lane batch per workgroup: few idle lanes for small Lq
const MAX_CHUNKS: u32 = 64u;            // d ≤ 256
const LOG2_E: f32 = 1.4426950408889634;
const LOWEST: f32 = -3.4e38;            // the running max before any key (finite: exp2 of it is 0)

struct Params { queries: u32, keys: u32, heads: u32, headDim: u32, scale: f32 }

@group(0) @binding(0) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> k: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> v: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

// Columns col…col+3 of the row whose head starts at element `at`, zero past the head's end.
fn qChunk(at: u32, col: u32) -> vec4<f32> {
  if (ALIGNED) { return q[(at + col) / 4u]; }
  var c = vec4<f32>(0.0);
  for (var i = 0u; i < 4u; i++) {
    let e = at + col + i;
    if (col + i < params.headDim) { c[i] = q[e / 4u][e % 4u]; }
  }
  return c;
}

fn kvChunk(isValue: bool, at: u32, col: u32) -> vec4<f32> {
  if (ALIGNED) {
    if (isValue) { return v[(at + col) / 4u]; }
    return k[(at + col) / 4u];
  }
  var c = vec4<f32>(0.0);
  for (var i = 0u; i < 4u; i++) {
    let e = at + col + i;
    if (col + i < params.headDim) {
      if (isValue) { c[i] = v[e / 4u][e % 4u]; } else { c[i] = k[e / 4u][e % 4u]; }
    }
  }
  return c;
}

// Element offset of key `key`'s head (clamped to the last key).
fn keyAt(key: u32, headStart: u32) -> u32 {
  return min(key, params.keys - 1u) * params.heads * params.headDim + headStart;
}

#if SUBGROUPS
// This invocation's lane within its quad (subgroup_invocation_id % 4).
var<private> quadLane: u32;

// Chunk `col` of K (or V) for keys first…first+3: column i is key first + i, loaded by lane i of
// the quad and broadcast to the others.
fn kvBlock(isValue: bool, first: u32, headStart: u32, col: u32) -> mat4x4<f32> {
  let mine = kvChunk(isValue, keyAt(first + quadLane, headStart), col);
  return mat4x4<f32>(quadBroadcast(mine, 0u), quadBroadcast(mine, 1u), quadBroadcast(mine, 2u), quadBroadcast(mine, 3u));
}
#else
// Chunk `col` of K (or V) for keys first…first+3: column i is key first + i.
fn kvBlock(isValue: bool, first: u32, headStart: u32, col: u32) -> mat4x4<f32> {
  return mat4x4<f32>(kvChunk(isValue, keyAt(first, headStart), col), kvChunk(isValue, keyAt(first + 1u, headStart), col),
                     kvChunk(isValue, keyAt(first + 2u, headStart), col), kvChunk(isValue, keyAt(first + 3u, headStart), col));
}
#endif

// s[j] holds query j's scores for 4 keys; keys at or past Lk become LOWEST.
fn masked(s: mat4x4<f32>, first: u32) -> mat4x4<f32> {
  let valid = vec4<u32>(first) + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(params.keys);
  return mat4x4<f32>(select(vec4<f32>(LOWEST), s[0], valid), select(vec4<f32>(LOWEST), s[1], valid),
                     select(vec4<f32>(LOWEST), s[2], valid), select(vec4<f32>(LOWEST), s[3], valid));
}

// Per query (column), the largest of its 4 scores.
fn columnMax(s: mat4x4<f32>) -> vec4<f32> {
  return vec4<f32>(max(max(s[0].x, s[0].y), max(s[0].z, s[0].w)), max(max(s[1].x, s[1].y), max(s[1].z, s[1].w)),
                   max(max(s[2].x, s[2].y), max(s[2].z, s[2].w)), max(max(s[3].x, s[3].y), max(s[3].z, s[3].w)));
}

fn columnSum(p: mat4x4<f32>) -> vec4<f32> {
  let one = vec4<f32>(1.0);
  return vec4<f32>(dot(p[0], one), dot(p[1], one), dot(p[2], one), dot(p[3], one));
}

fn probabilities(s: mat4x4<f32>, m: vec4<f32>) -> mat4x4<f32> {
  return mat4x4<f32>(exp2(s[0] - m.x), exp2(s[1] - m.y), exp2(s[2] - m.z), exp2(s[3] - m.w));
}

@compute @workgroup_size(THREADS)
#if SUBGROUPS
fn main(
  @builtin(workgroup_id) group: vec3u,
  @builtin(local_invocation_index) tid: u32,
  @builtin(subgroup_invocation_id) lane: u32,
) {
  quadLane = lane % 4u;
#else
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_index) tid: u32) {
#endif
  let d = params.headDim;
  let chunks = (d + 3u) / 4u;
  let first = (group.x * THREADS + tid) * 4u;   // this invocation's first query row
  let headStart = group.y * d;
  let stride = params.heads * d;
  let lastQuery = params.queries - 1u;
  let at0 = min(first, lastQuery) * stride + headStart;
  let at1 = min(first + 1u, lastQuery) * stride + headStart;
  let at2 = min(first + 2u, lastQuery) * stride + headStart;
  let at3 = min(first + 3u, lastQuery) * stride + headStart;

  // Column j of qs[c] / acc[c] is query first + j at columns 4c…4c+3.
  var qs: array<mat4x4<f32>, MAX_CHUNKS>;
  var acc: array<mat4x4<f32>, MAX_CHUNKS>;
  let qScale = params.scale * LOG2_E;
  for (var c = 0u; c < chunks; c++) {
    let col = c * 4u;
    qs[c] = mat4x4<f32>(qChunk(at0, col), qChunk(at1, col), qChunk(at2, col), qChunk(at3, col)) * qScale;
    acc[c] = mat4x4<f32>();
  }

  var runningMax = vec4<f32>(LOWEST);
  var runningSum = vec4<f32>(0.0);
  for (var key = 0u; key < params.keys; key += 16u) {
    // 1. Scores: s0 for keys key…key+3, s1 the next 4, and so on (column j: query first + j).
    var s0 = mat4x4<f32>();
    var s1 = mat4x4<f32>();
    var s2 = mat4x4<f32>();
    var s3 = mat4x4<f32>();
    for (var c = 0u; c < chunks; c++) {
      let col = c * 4u;
      let qc = qs[c];
      s0 += transpose(kvBlock(false, key, headStart, col)) * qc;
      s1 += transpose(kvBlock(false, key + 4u, headStart, col)) * qc;
      s2 += transpose(kvBlock(false, key + 8u, headStart, col)) * qc;
      s3 += transpose(kvBlock(false, key + 12u, headStart, col)) * qc;
    }
    s0 = masked(s0, key);
    s1 = masked(s1, key + 4u);
    s2 = masked(s2, key + 8u);
    s3 = masked(s3, key + 12u);

    // 2. Online softmax.
    let blockMax = max(max(columnMax(s0), columnMax(s1)), max(columnMax(s2), columnMax(s3)));
    let newMax = max(runningMax, blockMax);
    let rescale = exp2(runningMax - newMax);
    runningMax = newMax;
    let p0 = probabilities(s0, newMax);
    let p1 = probabilities(s1, newMax);
    let p2 = probabilities(s2, newMax);
    let p3 = probabilities(s3, newMax);
    runningSum = runningSum * rescale + ((columnSum(p0) + columnSum(p1)) + (columnSum(p2) + columnSum(p3)));

    // 3. acc = acc·rescale + V·P.
    for (var c = 0u; c < chunks; c++) {
      let col = c * 4u;
      let a = acc[c];
      acc[c] = mat4x4<f32>(a[0] * rescale.x, a[1] * rescale.y, a[2] * rescale.z, a[3] * rescale.w)
        + kvBlock(true, key, headStart, col) * p0 + kvBlock(true, key + 4u, headStart, col) * p1
        + kvBlock(true, key + 8u, headStart, col) * p2 + kvBlock(true, key + 12u, headStart, col) * p3;
    }
  }

  let inv = 1.0 / runningSum;
  for (var c = 0u; c < chunks; c++) {
    let o = acc[c];
    for (var i = 0u; i < 4u; i++) {
      let col = c * 4u + i;
      if (col < d) {
        if (first < params.queries) { out[at0 + col] = o[0][i] * inv.x; }
        if (first + 1u < params.queries) { out[at1 + col] = o[1][i] * inv.y; }
        if (first + 2u < params.queries) { out[at2 + col] = o[2][i] * inv.z; }
        if (first + 3u < params.queries) { out[at3 + col] = o[3][i] * inv.w; }
      }
    }
  }
}
