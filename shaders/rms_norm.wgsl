// RMS normalisation over the whole last dimension, with a weight (Wan's "rms_norm_across_heads":
// all heads of q or k together):
//   y = x / sqrt(mean(x²) + eps) · weight
// One workgroup per row, of THREADS threads (a power of two, 32 to 256, chosen from the row length);
// the sum of squares is tree-reduced in workgroup memory.
// x: [rows, cols] act, weight: [cols] f32, out: [rows, cols] act; `act` is f32, or f16 with the
// template flag F16 (sums in f32, each output rounded once to f16).

#if F16
enable f16;
alias act = f16;
#else
alias act = f32;
#endif

override THREADS: u32 = 256u;

struct Params { rows: u32, cols: u32, eps: f32 }

@group(0) @binding(0) var<storage, read> x: array<act>;
@group(0) @binding(1) var<storage, read> weight: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<act>;
@group(0) @binding(3) var<uniform> params: Params;

var<workgroup> partial: array<f32, THREADS>;

fn workgroup_sum(v: f32, lid: u32) -> f32 {
  partial[lid] = v;
  workgroupBarrier();
  for (var stride = THREADS / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) {
      partial[lid] += partial[lid + stride];
    }
    workgroupBarrier();
  }
  return partial[0];
}

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
  let cols = params.cols;
  let base = row * cols;

  var squares = 0.0;
  for (var c = lid; c < cols; c += THREADS) {
    let v = f32(x[base + c]);
    squares += v * v;
  }
  let inv_rms = inverseSqrt(workgroup_sum(squares, lid) / f32(cols) + params.eps);

  for (var c = lid; c < cols; c += THREADS) {
    out[base + c] = act(f32(x[base + c]) * inv_rms * weight[c]);
  }
}
