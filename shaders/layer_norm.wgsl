// Layer normalisation over the last dimension (PyTorch LayerNorm: biased variance, eps inside the
// square root), with an optional affine weight/bias and an optional fused adaLN modulation:
//   n = (x − mean) / sqrt(var + eps)
//   y = (n·weight + bias)·(1 + table[scaleRow]) + table[shiftRow]
// One workgroup per row, of THREADS threads (a power of two, 32 to 256, chosen from the row length
// so short rows do not pay for idle threads at every barrier). Two passes over the row, each
// tree-reduced in workgroup memory: the mean, then the variance around it. Values are taken
// relative to the row's first element (an exact f32 subtraction for nearby values), so a large
// common offset cancels before it can swamp the f32 sums.
// x: [rows, cols] act, out: [rows, cols] act, weight: [cols], bias: [cols], table: [R, cols] f32
// (weight, bias and table are read only when their override is set; otherwise any buffer is bound).
// `act` is f32, or f16 with the template flag F16 (sums in f32, each output rounded once to f16).

#if F16
enable f16;
alias act = f16;
#else
alias act = f32;
#endif

override HAS_WEIGHT: bool = false;
override HAS_BIAS: bool = false;
override HAS_MODULATION: bool = false;
override THREADS: u32 = 256u;

struct Params { rows: u32, cols: u32, eps: f32, shiftRow: u32, scaleRow: u32 }

@group(0) @binding(0) var<storage, read> x: array<act>;
@group(0) @binding(1) var<storage, read> weight: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read> table: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<act>;
@group(0) @binding(5) var<uniform> params: Params;

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
  let total = partial[0];
  workgroupBarrier(); // every thread has read the total before `partial` is reused
  return total;
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
  let pivot = f32(x[base]);

  var sum = 0.0;
  for (var c = lid; c < cols; c += THREADS) {
    sum += f32(x[base + c]) - pivot;
  }
  let mean = workgroup_sum(sum, lid) / f32(cols); // relative to pivot

  var squares = 0.0;
  for (var c = lid; c < cols; c += THREADS) {
    let d = (f32(x[base + c]) - pivot) - mean;
    squares += d * d;
  }
  let inv_std = inverseSqrt(workgroup_sum(squares, lid) / f32(cols) + params.eps);

  for (var c = lid; c < cols; c += THREADS) {
    var y = ((f32(x[base + c]) - pivot) - mean) * inv_std;
    if (HAS_WEIGHT) {
      y *= weight[c];
    }
    if (HAS_BIAS) {
      y += bias[c];
    }
    if (HAS_MODULATION) {
      y = y * (1.0 + table[params.scaleRow * cols + c]) + table[params.shiftRow * cols + c];
    }
    out[base + c] = act(y);
  }
}
