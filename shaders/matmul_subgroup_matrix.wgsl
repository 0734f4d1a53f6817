// Matrix product on the GPU's matrix units (Dawn's chromium_experimental_subgroup_matrix: Vulkan
// cooperative matrices, Metal simdgroup matrices): out = x · wᵀ (+ bias), f16 inputs, f32 sums.
//   x: [M, K] f16   w: [N, K] f16 (the packed f16 weights, read as WGSL f16)   bias: [N] f32
//   out: [M, N] f32
// One workgroup per BLOCK×BLOCK output tile (BLOCK = 2·SIDE), held as 2×2 result matrices of
// SIDE×SIDE. Per K-step of BLOCK, the workgroup stages an x tile [BLOCK rows][BLOCK k] and a w tile
// [BLOCK columns][BLOCK k] in workgroup memory, zero past M, N and K, so edge tiles need no masks in
// the matrix loads; the results go through workgroup memory to a bounds-checked store.
// The workgroup is WG invocations, the adapter's one subgroup size (src/gpu/features.ts takes the
// matrix paths only where the minimum and maximum sizes agree): one subgroup per workgroup.
// Every matrix call is in uniform control flow (the loop bounds are uniforms).
// SIDE comes from the adapter's configuration (src/gpu/features.ts: f16 → f32, square, 8 or 16):
// template flag SIDE8 for 8, else 16. The load/store form (layout as a template argument, stride in
// elements) is the one the pinned Dawn (webgpu 0.6.2) accepts.

enable f16;
enable subgroups;
enable chromium_experimental_subgroup_matrix;

#if SIDE8
const SIDE: u32 = 8u;
#else
const SIDE: u32 = 16u;
#endif
const BLOCK: u32 = 2u * SIDE;

override WG: u32 = 32u;
override HAS_BIAS: bool = false;

struct Params { M: u32, N: u32, K: u32 }

@group(0) @binding(0) var<storage, read> x: array<f16>;
@group(0) @binding(1) var<storage, read> w: array<f16>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

alias Left = subgroup_matrix_left<f16, SIDE, SIDE>;
alias Right = subgroup_matrix_right<f16, SIDE, SIDE>;
alias Result = subgroup_matrix_result<f32, SIDE, SIDE>;

var<workgroup> xTile: array<f16, BLOCK * BLOCK>;   // [row][k]
var<workgroup> wTile: array<f16, BLOCK * BLOCK>;   // [column][k]: a column-major right matrix
var<workgroup> outTile: array<f32, BLOCK * BLOCK>; // [row][column]

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row0 = group.y * BLOCK;
  let col0 = group.x * BLOCK;
  let M = params.M;
  let N = params.N;
  let K = params.K;
  var acc00 = Result();
  var acc01 = Result();
  var acc10 = Result();
  var acc11 = Result();
  for (var k0 = 0u; k0 < K; k0 += BLOCK) {
    for (var i = lid; i < BLOCK * BLOCK; i += WG) {
      let r = i / BLOCK;
      let k = k0 + i % BLOCK;
      var xv = f16(0.0);
      if (row0 + r < M && k < K) {
        xv = x[(row0 + r) * K + k];
      }
      xTile[i] = xv;
      var wv = f16(0.0);
      if (col0 + r < N && k < K) {
        wv = w[(col0 + r) * K + k];
      }
      wTile[i] = wv;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < BLOCK; kk += SIDE) {
      let a0 = subgroupMatrixLoad<Left, row_major>(&xTile, kk, BLOCK);
      let a1 = subgroupMatrixLoad<Left, row_major>(&xTile, SIDE * BLOCK + kk, BLOCK);
      let b0 = subgroupMatrixLoad<Right, col_major>(&wTile, kk, BLOCK);
      let b1 = subgroupMatrixLoad<Right, col_major>(&wTile, SIDE * BLOCK + kk, BLOCK);
      acc00 = subgroupMatrixMultiplyAccumulate(a0, b0, acc00);
      acc01 = subgroupMatrixMultiplyAccumulate(a0, b1, acc01);
      acc10 = subgroupMatrixMultiplyAccumulate(a1, b0, acc10);
      acc11 = subgroupMatrixMultiplyAccumulate(a1, b1, acc11);
    }
    // The next step refills the tiles these loads read.
    workgroupBarrier();
  }
  subgroupMatrixStore<row_major>(&outTile, 0u, acc00, BLOCK);
  subgroupMatrixStore<row_major>(&outTile, SIDE, acc01, BLOCK);
  subgroupMatrixStore<row_major>(&outTile, SIDE * BLOCK, acc10, BLOCK);
  subgroupMatrixStore<row_major>(&outTile, SIDE * BLOCK + SIDE, acc11, BLOCK);
  workgroupBarrier();
  for (var i = lid; i < BLOCK * BLOCK; i += WG) {
    let r = row0 + i / BLOCK;
    let c = col0 + i % BLOCK;
    if (r < M && c < N) {
      var v = outTile[i];
      if (HAS_BIAS) {
        v += bias[c];
      }
      out[r * N + c] = v;
    }
  }
}
