// Softmax of every row of a matrix, after scaling: out[r, j] = e^(s·x[r, j] − m) / Σ_k e^(s·x[r, k] − m),
// m = max_k s·x[r, k]. One workgroup of 256 threads per row: the max, then the sum, are tree-reduced
// in workgroup memory; the exponentials are recomputed in the last pass rather than stored.
// x: [rows, cols] f32, out: [rows, cols] f32

const THREADS: u32 = 256u;

struct Params { rows: u32, cols: u32, scale: f32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

var<workgroup> partial: array<f32, THREADS>;

@compute @workgroup_size(THREADS)
fn main(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) groups: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let row = wid.x + wid.y * groups.x;
  if (row >= params.rows) {
    return;
  }
  let base = row * params.cols;
  var m = -3.4e38;
  for (var c = lid; c < params.cols; c += THREADS) {
    m = max(m, params.scale * x[base + c]);
  }
  partial[lid] = m;
  workgroupBarrier();
  for (var stride = THREADS / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) {
      partial[lid] = max(partial[lid], partial[lid + stride]);
    }
    workgroupBarrier();
  }
  let row_max = partial[0];
  workgroupBarrier();
  var s = 0.0;
  for (var c = lid; c < params.cols; c += THREADS) {
    s += exp(params.scale * x[base + c] - row_max);
  }
  partial[lid] = s;
  workgroupBarrier();
  for (var stride = THREADS / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) {
      partial[lid] += partial[lid + stride];
    }
    workgroupBarrier();
  }
  let inv = 1.0 / partial[0];
  for (var c = lid; c < params.cols; c += THREADS) {
    out[base + c] = exp(params.scale * x[base + c] - row_max) * inv;
  }
}
