// Multi-head attention, out = softmax(Q·Kᵀ·scale)·V for each head, computed flash-style: the
// Lq×Lk score matrix is never formed.
//   q:   [Lq, H·d]   k, v: [Lk, H·d]   out: [Lq, H·d]   (head h occupies columns [h·d, (h+1)·d))
//   params.scale = 1/√d
//
// One workgroup per (block of 32 query rows, head). Each row has 4 threads ("lanes"); lane c holds
// the row's q and output accumulator for the vec4 chunks c, c+4, c+8, … of the head in registers.
// Keys and values stream through one shared tile, KEYS_PER_TILE rows at a time:
//   1. K tile → shared;  2. each lane's partial q·k for every key of the tile → shared;
//   3. V tile → shared, while each lane sums its row's partials into scores and updates the online
//      softmax (running max m and sum l; the accumulator is rescaled by 2^(m_old − m_new));
//   4. accumulator += p·V.
// Scores are kept in log2 units (q is pre-multiplied by scale·log2 e) so the softmax uses exp2.
// Workgroup memory: 8 KiB tile + 8 KiB partials = 16 KiB, the WebGPU minimum.

// Head size d: it sizes the register slices and the tile, so each head size gets its own pipeline.
override HEAD_DIM: u32 = 64u;

const ROWS: u32 = 32u;                  // query rows per workgroup
const LANES: u32 = 4u;                  // threads per query row
const THREADS: u32 = 128u;              // ROWS · LANES
const MAX_SLOTS: u32 = 16u;             // vec4 chunks per lane: d ≤ 256
const TILE_VEC4S: u32 = 512u;           // shared K/V tile: 8 KiB
const MAX_KEYS_PER_TILE: u32 = 16u;
const LOG2_E: f32 = 1.4426950408889634;
const LOWEST: f32 = -3.4e38;            // the running max before any key (finite: exp2 of it is 0)

// vec4 chunks of the head held by each lane; a shared tile row is padded to LANES·SLOTS chunks.
override SLOTS: u32 = (HEAD_DIM + 4u * LANES - 1u) / (4u * LANES);
override ROW_VEC4S: u32 = SLOTS * LANES;
override KEYS_PER_TILE: u32 = min(MAX_KEYS_PER_TILE, TILE_VEC4S / ROW_VEC4S);
override TILE_USED: u32 = KEYS_PER_TILE * ROW_VEC4S;

struct Params { queries: u32, keys: u32, heads: u32, scale: f32 }

@group(0) @binding(0) var<storage, read> q: array<f32>;
@group(0) @binding(1) var<storage, read> k: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

// K or V rows of the current tile: [KEYS_PER_TILE][ROW_VEC4S], zero past d and past Lk.
var<workgroup> tile: array<vec4<f32>, TILE_VEC4S>;
// Partial dot products [ROWS][MAX_KEYS_PER_TILE], one lane per vec4 component.
var<workgroup> partials: array<vec4<f32>, ROWS * MAX_KEYS_PER_TILE>;

// Four consecutive values of a row, from column `col` of the head, zero past the head's end.
fn qChunk(rowStart: u32, col: u32) -> vec4<f32> {
  var c = vec4<f32>(0.0);
  for (var i = 0u; i < 4u; i++) {
    if (col + i < HEAD_DIM) { c[i] = q[rowStart + col + i]; }
  }
  return c;
}

fn kChunk(rowStart: u32, col: u32) -> vec4<f32> {
  var c = vec4<f32>(0.0);
  for (var i = 0u; i < 4u; i++) {
    if (col + i < HEAD_DIM) { c[i] = k[rowStart + col + i]; }
  }
  return c;
}

fn vChunk(rowStart: u32, col: u32) -> vec4<f32> {
  var c = vec4<f32>(0.0);
  for (var i = 0u; i < 4u; i++) {
    if (col + i < HEAD_DIM) { c[i] = v[rowStart + col + i]; }
  }
  return c;
}

@compute @workgroup_size(THREADS)
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_index) tid: u32) {
  let row = tid / LANES;
  let lane = tid % LANES;
  let query = group.x * ROWS + row;
  let stride = params.heads * HEAD_DIM;
  let headStart = group.y * HEAD_DIM;

  // This lane's slice of the query row, pre-scaled into log2 units.
  var qSlice: array<vec4<f32>, MAX_SLOTS>;
  var acc: array<vec4<f32>, MAX_SLOTS>;
  let qScale = params.scale * LOG2_E;
  for (var s = 0u; s < SLOTS; s++) {
    let col = (lane + s * LANES) * 4u;
    if (query < params.queries) {
      qSlice[s] = qChunk(query * stride + headStart, col) * qScale;
    } else {
      qSlice[s] = vec4<f32>(0.0);
    }
    acc[s] = vec4<f32>(0.0);
  }

  var runningMax = LOWEST;
  var runningSum = 0.0;
  var p: array<f32, MAX_KEYS_PER_TILE>;

  for (var tileStart = 0u; tileStart < params.keys; tileStart += KEYS_PER_TILE) {
    // 1. K tile.
    for (var i = tid; i < TILE_USED; i += THREADS) {
      let key = tileStart + i / ROW_VEC4S;
      var chunk = vec4<f32>(0.0);
      if (key < params.keys) { chunk = kChunk(key * stride + headStart, (i % ROW_VEC4S) * 4u); }
      tile[i] = chunk;
    }
    workgroupBarrier();

    // 2. Partial q·k over this lane's chunks.
    for (var j = 0u; j < KEYS_PER_TILE; j++) {
      var d = vec4<f32>(0.0);
      for (var s = 0u; s < SLOTS; s++) {
        d = fma(qSlice[s], tile[j * ROW_VEC4S + lane + s * LANES], d);
      }
      partials[row * MAX_KEYS_PER_TILE + j][lane] = (d.x + d.y) + (d.z + d.w);
    }
    workgroupBarrier();

    // 3. V tile, and the online softmax over the tile's scores.
    for (var i = tid; i < TILE_USED; i += THREADS) {
      let key = tileStart + i / ROW_VEC4S;
      var chunk = vec4<f32>(0.0);
      if (key < params.keys) { chunk = vChunk(key * stride + headStart, (i % ROW_VEC4S) * 4u); }
      tile[i] = chunk;
    }
    let tileKeys = min(KEYS_PER_TILE, params.keys - tileStart);
    var tileMax = runningMax;
    for (var j = 0u; j < KEYS_PER_TILE; j++) {
      let parts = partials[row * MAX_KEYS_PER_TILE + j];
      p[j] = (parts.x + parts.y) + (parts.z + parts.w);
      if (j < tileKeys) { tileMax = max(tileMax, p[j]); }
    }
    let rescale = exp2(runningMax - tileMax);
    var tileSum = 0.0;
    for (var j = 0u; j < KEYS_PER_TILE; j++) {
      p[j] = select(0.0, exp2(p[j] - tileMax), j < tileKeys);
      tileSum += p[j];
    }
    runningSum = runningSum * rescale + tileSum;
    runningMax = tileMax;
    workgroupBarrier();

    // 4. acc = acc·rescale + p·V.
    for (var s = 0u; s < SLOTS; s++) {
      var a = acc[s] * rescale;
      for (var j = 0u; j < KEYS_PER_TILE; j++) {
        a = fma(vec4<f32>(p[j]), tile[j * ROW_VEC4S + lane + s * LANES], a);
      }
      acc[s] = a;
    }
    workgroupBarrier();
  }

  if (query < params.queries) {
    let inv = 1.0 / runningSum;
    let rowStart = query * stride + headStart;
    for (var s = 0u; s < SLOTS; s++) {
      let col = (lane + s * LANES) * 4u;
      let o = acc[s] * inv;
      for (var i = 0u; i < 4u; i++) {
        if (col + i < HEAD_DIM) { out[rowStart + col + i] = o[i]; }
      }
    }
  }
}
