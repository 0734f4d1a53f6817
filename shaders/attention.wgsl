// Multi-head attention, out = softmax(Q·Kᵀ·scale)·V for each head, computed flash-style: the
// Lq×Lk score matrix is never formed.
//   q:   [Lq, H·d]   k, v: [Lk, H·d]   out: [Lq, H·d]   (head h occupies columns [h·d, (h+1)·d))
//   params.scale = 1/√d
//
// One workgroup of 128 threads per (block of ROWS = 128/LANES query rows, head). Each row has LANES
// threads; lane c holds the row's q and output accumulator for the vec4 chunks c, c+LANES, … of the
// head in registers. Keys and values stream through shared memory, KEYS_PER_TILE rows at a time:
//   1. K tile → shared (with the V tile too when both fit);
//   2. each lane's partial q·k over its chunks, for every key of the tile → shared;
//   3. V tile → shared if not staged yet, while each lane sums its row's partials into scores and
//      updates the online softmax (running max m and sum l; the accumulator is rescaled by
//      2^(m_old − m_new));
//   4. accumulator += p·V.
// Scores are kept in log2 units (q is pre-multiplied by scale·log2 e) so the softmax uses exp2.
// Workgroup memory: 8 KiB tile + 8 KiB partials = 16 KiB, the WebGPU minimum.

// Head size d: it sizes the register slices and the tile, so each head size gets its own pipeline.
override HEAD_DIM: u32 = 64u;
// Threads per query row (1, 2 or 4), chosen by the wrapper to keep SLOTS near 8: more rows share
// each K/V tile when d is small, and the registers stay bounded when d is large.
override LANES: u32 = 4u;

const THREADS: u32 = 128u;
const MAX_SLOTS: u32 = 16u;             // vec4 chunks per lane: d ≤ 64·LANES
const TILE_VEC4S: u32 = 512u;           // shared K/V tile: 8 KiB
const MAX_KEYS_PER_TILE: u32 = 16u;
const LOG2_E: f32 = 1.4426950408889634;
const LOWEST: f32 = -3.4e38;            // the running max before any key (finite: exp2 of it is 0)

override ROWS: u32 = THREADS / LANES;   // query rows per workgroup
// vec4 chunks of the head held by each lane; a shared tile row is padded to LANES·SLOTS chunks.
override SLOTS: u32 = (HEAD_DIM + 4u * LANES - 1u) / (4u * LANES);
override ROW_VEC4S: u32 = SLOTS * LANES;
override KEYS_PER_TILE: u32 = min(MAX_KEYS_PER_TILE, TILE_VEC4S / ROW_VEC4S);
override TILE_USED: u32 = KEYS_PER_TILE * ROW_VEC4S;
// Small heads: K and V tiles side by side, staged together (one barrier fewer per tile).
override KV_TOGETHER: bool = 2u * TILE_USED <= TILE_VEC4S;
override V_OFFSET: u32 = select(0u, TILE_USED, KV_TOGETHER);

struct Params { queries: u32, keys: u32, heads: u32, scale: f32 }

@group(0) @binding(0) var<storage, read> q: array<f32>;
@group(0) @binding(1) var<storage, read> k: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

// K rows of the current tile [KEYS_PER_TILE][ROW_VEC4S] at 0, V rows at V_OFFSET; zero past d and Lk.
var<workgroup> tile: array<vec4<f32>, TILE_VEC4S>;
// Partial dot products [ROWS][MAX_KEYS_PER_TILE][LANES]. Scalars, not vec4 components: a lane
// writing one component of a shared vector may be compiled as a read-modify-write of all four.
var<workgroup> partials: array<f32, THREADS * MAX_KEYS_PER_TILE>;

// Four consecutive values of a row from column `col` of the head, zero past the head's end.
fn qChunk(rowStart: u32, col: u32) -> vec4<f32> {
  var c = vec4<f32>(0.0);
  for (var i = 0u; i < 4u; i++) {
    if (col + i < HEAD_DIM) { c[i] = q[rowStart + col + i]; }
  }
  return c;
}

fn kvChunk(isValue: bool, rowStart: u32, col: u32) -> vec4<f32> {
  var c = vec4<f32>(0.0);
  for (var i = 0u; i < 4u; i++) {
    if (col + i < HEAD_DIM) {
      if (isValue) { c[i] = v[rowStart + col + i]; } else { c[i] = k[rowStart + col + i]; }
    }
  }
  return c;
}

// Copies the K (or V) rows of keys [tileStart, tileStart + KEYS_PER_TILE) of the head into the tile.
fn stage(isValue: bool, tileStart: u32, tid: u32, headStart: u32) {
  let stride = params.heads * HEAD_DIM;
  let offset = select(0u, V_OFFSET, isValue);
  for (var i = tid; i < TILE_USED; i += THREADS) {
    let key = tileStart + i / ROW_VEC4S;
    var chunk = vec4<f32>(0.0);
    if (key < params.keys) { chunk = kvChunk(isValue, key * stride + headStart, (i % ROW_VEC4S) * 4u); }
    tile[offset + i] = chunk;
  }
}

@compute @workgroup_size(THREADS)
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_index) tid: u32) {
  let row = tid / LANES;
  let lane = tid % LANES;
  let query = group.x * ROWS + row;
  let headStart = group.y * HEAD_DIM;
  let queryStart = query * params.heads * HEAD_DIM + headStart;

  // This lane's slice of the query row, pre-scaled into log2 units.
  var qSlice: array<vec4<f32>, MAX_SLOTS>;
  var acc: array<vec4<f32>, MAX_SLOTS>;
  let qScale = params.scale * LOG2_E;
  for (var s = 0u; s < SLOTS; s++) {
    if (query < params.queries) {
      qSlice[s] = qChunk(queryStart, (lane + s * LANES) * 4u) * qScale;
    }
  }

  var runningMax = LOWEST;
  var runningSum = 0.0;
  var p: array<f32, MAX_KEYS_PER_TILE>;

  for (var tileStart = 0u; tileStart < params.keys; tileStart += KEYS_PER_TILE) {
    // 1. K tile (and V with it when both fit).
    stage(false, tileStart, tid, headStart);
    if (KV_TOGETHER) { stage(true, tileStart, tid, headStart); }
    workgroupBarrier();

    // 2. Partial q·k over this lane's chunks.
    for (var j = 0u; j < KEYS_PER_TILE; j++) {
      var d = vec4<f32>(0.0);
      for (var s = 0u; s < SLOTS; s++) {
        d = fma(qSlice[s], tile[j * ROW_VEC4S + lane + s * LANES], d);
      }
      partials[(row * MAX_KEYS_PER_TILE + j) * LANES + lane] = (d.x + d.y) + (d.z + d.w);
    }
    workgroupBarrier();

    // 3. V tile (over K, which step 2 has finished with), and the online softmax of the tile.
    if (!KV_TOGETHER) { stage(true, tileStart, tid, headStart); }
    let tileKeys = min(KEYS_PER_TILE, params.keys - tileStart);
    var tileMax = runningMax;
    for (var j = 0u; j < KEYS_PER_TILE; j++) {
      let at = (row * MAX_KEYS_PER_TILE + j) * LANES;
      var score = 0.0;
      for (var c = 0u; c < LANES; c++) { score += partials[at + c]; }
      p[j] = score;
      if (j < tileKeys) { tileMax = max(tileMax, score); }
    }
    let rescale = exp2(runningMax - tileMax);
    var tileSum = 0.0;
    for (var j = 0u; j < KEYS_PER_TILE; j++) {
      p[j] = select(0.0, exp2(p[j] - tileMax), j < tileKeys);
      tileSum += p[j];
    }
    runningSum = runningSum * rescale + tileSum;
    runningMax = tileMax;
    if (!KV_TOGETHER) { workgroupBarrier(); }

    // 4. acc = acc·rescale + p·V.
    for (var s = 0u; s < SLOTS; s++) {
      var a = acc[s] * rescale;
      for (var j = 0u; j < KEYS_PER_TILE; j++) {
        a = fma(vec4<f32>(p[j]), tile[V_OFFSET + j * ROW_VEC4S + lane + s * LANES], a);
      }
      acc[s] = a;
    }
    // The next tile's staging overwrites what step 4 reads, and step 2 the partials step 3 reads.
    workgroupBarrier();
  }

  if (query < params.queries) {
    let inv = 1.0 / runningSum;
    for (var s = 0u; s < SLOTS; s++) {
      let col = (lane + s * LANES) * 4u;
      let o = acc[s] * inv;
      for (var i = 0u; i < 4u; i++) {
        if (col + i < HEAD_DIM) { out[queryStart + col + i] = o[i]; }
      }
    }
  }
}
