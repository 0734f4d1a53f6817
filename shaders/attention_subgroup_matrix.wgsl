// Multi-head attention out = softmax(Q·Kᵀ·scale)·V on the matrix units (Dawn's
// chromium_experimental_subgroup_matrix), flash-style: Q·Kᵀ and P·V are subgroup-matrix products
// (f16 inputs, f32 sums); the online softmax runs in f32.
//   q: [Lq, H·d] f16   k, v: [Lk, H·d] f16   out: [Lq, H·d] f32   (head h at columns [h·d, (h+1)·d))
//   HEAD_DIM = d, a multiple of SIDE; params.scale = 1/√d
// One workgroup per (block of SIDE queries, head) of WG invocations: exactly one subgroup (the matrix
// paths are taken only where the adapter's subgroup size is fixed), so the read-modify-write of the
// accumulators through workgroup memory has one writer. Per block of SIDE keys:
//   1. stage K and V [SIDE keys][d] in workgroup memory (zero past Lk);
//   2. S = Q·Kᵀ [SIDE × SIDE] over d/SIDE matrix steps, stored to workgroup memory;
//   3. one invocation per query row: running max m and sum l, P = exp2(S·scale·log2e − m) as f16,
//      and the factor α = 2^(m_old − m_new) its accumulator row is rescaled by;
//   4. O = α·O + P·V, per SIDE-column block of the head, O kept in workgroup memory (f32).
// Keys past Lk get probability 0; rows past Lq are computed on zeros and never stored.

enable f16;
enable subgroups;
enable chromium_experimental_subgroup_matrix;

#if SIDE8
const SIDE: u32 = 8u;
#else
const SIDE: u32 = 16u;
#endif
const LOG2E: f32 = 1.4426950408889634;
const LOWEST: f32 = -3.0e38;

override WG: u32 = 32u;
override HEAD_DIM: u32 = 128u;

struct Params { queries: u32, keys: u32, heads: u32, scale: f32 }

@group(0) @binding(0) var<storage, read> q: array<f16>;
@group(0) @binding(1) var<storage, read> k: array<f16>;
@group(0) @binding(2) var<storage, read> v: array<f16>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

alias Left = subgroup_matrix_left<f16, SIDE, SIDE>;
alias Right = subgroup_matrix_right<f16, SIDE, SIDE>;
alias Result = subgroup_matrix_result<f32, SIDE, SIDE>;

var<workgroup> qTile: array<f16, SIDE * HEAD_DIM>;  // [query][dim]
var<workgroup> kTile: array<f16, SIDE * HEAD_DIM>;  // [key][dim]: Kᵀ as a column-major right matrix
var<workgroup> vTile: array<f16, SIDE * HEAD_DIM>;  // [key][dim]
var<workgroup> oTile: array<f32, SIDE * HEAD_DIM>;  // [query][dim] accumulators
var<workgroup> sTile: array<f32, SIDE * SIDE>;      // [query][key] scores
var<workgroup> pTile: array<f16, SIDE * SIDE>;      // [query][key] probabilities
var<workgroup> rowMax: array<f32, SIDE>;
var<workgroup> rowSum: array<f32, SIDE>;
var<workgroup> rowScale: array<f32, SIDE>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_index) lid: u32) {
  let first = group.x * SIDE;
  let head = group.y;
  let stride = params.heads * HEAD_DIM;
  let headStart = head * HEAD_DIM;
  let qScale = params.scale * LOG2E;

  for (var i = lid; i < SIDE * HEAD_DIM; i += WG) {
    let row = first + i / HEAD_DIM;
    var value = f16(0.0);
    if (row < params.queries) {
      value = q[row * stride + headStart + i % HEAD_DIM];
    }
    qTile[i] = value;
    oTile[i] = 0.0;
  }
  for (var r = lid; r < SIDE; r += WG) {
    rowMax[r] = LOWEST;
    rowSum[r] = 0.0;
  }

  for (var key0 = 0u; key0 < params.keys; key0 += SIDE) {
    for (var i = lid; i < SIDE * HEAD_DIM; i += WG) {
      let key = key0 + i / HEAD_DIM;
      var kv = f16(0.0);
      var vv = f16(0.0);
      if (key < params.keys) {
        let at = key * stride + headStart + i % HEAD_DIM;
        kv = k[at];
        vv = v[at];
      }
      kTile[i] = kv;
      vTile[i] = vv;
    }
    workgroupBarrier();

    var scores = Result();
    for (var d0 = 0u; d0 < HEAD_DIM; d0 += SIDE) {
      let left = subgroupMatrixLoad<Left, row_major>(&qTile, d0, HEAD_DIM);
      let right = subgroupMatrixLoad<Right, col_major>(&kTile, d0, HEAD_DIM);
      scores = subgroupMatrixMultiplyAccumulate(left, right, scores);
    }
    subgroupMatrixStore<row_major>(&sTile, 0u, scores, SIDE);
    workgroupBarrier();

    for (var r = lid; r < SIDE; r += WG) {
      var blockMax = LOWEST;
      for (var j = 0u; j < SIDE; j++) {
        if (key0 + j < params.keys) {
          blockMax = max(blockMax, sTile[r * SIDE + j] * qScale);
        }
      }
      let mNew = max(rowMax[r], blockMax);
      var sum = 0.0;
      for (var j = 0u; j < SIDE; j++) {
        var p = 0.0;
        if (key0 + j < params.keys) {
          p = exp2(sTile[r * SIDE + j] * qScale - mNew);
        }
        // The sum takes the f16-rounded probability, the one P·V multiplies by.
        let rounded = f16(p);
        pTile[r * SIDE + j] = rounded;
        sum += f32(rounded);
      }
      let alpha = exp2(rowMax[r] - mNew);
      rowScale[r] = alpha;
      rowSum[r] = rowSum[r] * alpha + sum;
      rowMax[r] = mNew;
    }
    workgroupBarrier();

    for (var i = lid; i < SIDE * HEAD_DIM; i += WG) {
      oTile[i] *= rowScale[i / HEAD_DIM];
    }
    workgroupBarrier();

    let probabilities = subgroupMatrixLoad<Left, row_major>(&pTile, 0u, SIDE);
    for (var d0 = 0u; d0 < HEAD_DIM; d0 += SIDE) {
      var acc = subgroupMatrixLoad<Result, row_major>(&oTile, d0, HEAD_DIM);
      let values = subgroupMatrixLoad<Right, row_major>(&vTile, d0, HEAD_DIM);
      acc = subgroupMatrixMultiplyAccumulate(probabilities, values, acc);
      subgroupMatrixStore<row_major>(&oTile, d0, acc, HEAD_DIM);
    }
    // The next block refills kTile, vTile and pTile and rescales oTile.
    workgroupBarrier();
  }

  for (var i = lid; i < SIDE * HEAD_DIM; i += WG) {
    let row = first + i / HEAD_DIM;
    if (row < params.queries) {
      out[row * stride + headStart + i % HEAD_DIM] = oTile[i] / rowSum[i / HEAD_DIM];
    }
  }
}
