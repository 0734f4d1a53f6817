// Layer normalisation over the last dimension (PyTorch LayerNorm: biased variance, eps inside the
// square root), with an optional affine weight/bias and an optional fused adaLN modulation:
//   n = (x − mean) / sqrt(var + eps)
//   y = (n·weight + bias)·(1 + table[scaleRow]) + table[shiftRow]
// One invocation per row, no workgroup memory and no barrier: the path for CPU implementations such
// as SwiftShader, where a barrier suspends every 4-lane batch of a workgroup as a coroutine (see
// layer_norm.wgsl for the tree-reduced path GPUs take). Three sequential passes over the row: the
// mean, the variance around it, the output. Values are taken relative to the row's first element
// (an exact f32 subtraction for nearby values), so a large common offset cancels before it can
// swamp the f32 sums; each pass keeps four interleaved partial sums.
// x: [rows, cols], out: [rows, cols], weight: [cols], bias: [cols], table: [R, cols]
// (weight, bias and table are read only when their override is set; otherwise any buffer is bound)
// x, weight, bias and table are read as 16-byte chunks: their buffers must hold whole chunks.

override HAS_WEIGHT: bool = false;
override HAS_BIAS: bool = false;
override HAS_MODULATION: bool = false;
// cols % 4 == 0: every row starts on a chunk, so rows are read as vectors; otherwise value by value.
override ALIGNED: bool = true;

const THREADS: u32 = 4u; // rows per workgroup: one 4-lane batch, so short inputs still spread over cores

struct Params { rows: u32, cols: u32, eps: f32, shiftRow: u32, scaleRow: u32 }

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> weight: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> bias: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> table: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;

// Element e of a chunked array (the unaligned path).
fn xAt(e: u32) -> f32 { return x[e / 4u][e % 4u]; }
fn weightAt(e: u32) -> f32 { return weight[e / 4u][e % 4u]; }
fn biasAt(e: u32) -> f32 { return bias[e / 4u][e % 4u]; }
fn tableAt(e: u32) -> f32 { return table[e / 4u][e % 4u]; }

fn sum4(v: vec4<f32>) -> f32 {
  return (v.x + v.y) + (v.z + v.w);
}

@compute @workgroup_size(THREADS)
fn main(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) groups: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let row = (wid.x + wid.y * groups.x) * THREADS + lid;
  if (row >= params.rows) {
    return;
  }
  let cols = params.cols;
  let n = f32(cols);
  let base = row * cols;

  if (ALIGNED) {
    let chunks = cols / 4u;
    let base4 = base / 4u;
    let pivot = x[base4].x;
    var sum = vec4<f32>(0.0);
    for (var c = 0u; c < chunks; c++) {
      sum += x[base4 + c] - pivot;
    }
    let mean = sum4(sum) / n; // relative to pivot
    var squares = vec4<f32>(0.0);
    for (var c = 0u; c < chunks; c++) {
      let d = (x[base4 + c] - pivot) - mean;
      squares += d * d;
    }
    let invStd = inverseSqrt(sum4(squares) / n + params.eps);
    for (var c = 0u; c < chunks; c++) {
      var y = ((x[base4 + c] - pivot) - mean) * invStd;
      if (HAS_WEIGHT) {
        y *= weight[c];
      }
      if (HAS_BIAS) {
        y += bias[c];
      }
      if (HAS_MODULATION) {
        y = y * (1.0 + table[params.scaleRow * chunks + c]) + table[params.shiftRow * chunks + c];
      }
      let o = base + 4u * c;
      out[o] = y.x;
      out[o + 1u] = y.y;
      out[o + 2u] = y.z;
      out[o + 3u] = y.w;
    }
    return;
  }

  let pivot = xAt(base);
  var sum = vec4<f32>(0.0);
  var c = 0u;
  for (; c + 4u <= cols; c += 4u) {
    sum += vec4<f32>(xAt(base + c), xAt(base + c + 1u), xAt(base + c + 2u), xAt(base + c + 3u)) - pivot;
  }
  for (; c < cols; c++) {
    sum.x += xAt(base + c) - pivot;
  }
  let mean = sum4(sum) / n;
  var squares = vec4<f32>(0.0);
  c = 0u;
  for (; c + 4u <= cols; c += 4u) {
    let d = (vec4<f32>(xAt(base + c), xAt(base + c + 1u), xAt(base + c + 2u), xAt(base + c + 3u)) - pivot) - mean;
    squares += d * d;
  }
  for (; c < cols; c++) {
    let d = (xAt(base + c) - pivot) - mean;
    squares.x += d * d;
  }
  let invStd = inverseSqrt(sum4(squares) / n + params.eps);
  for (c = 0u; c < cols; c++) {
    var y = ((xAt(base + c) - pivot) - mean) * invStd;
    if (HAS_WEIGHT) {
      y *= weightAt(c);
    }
    if (HAS_BIAS) {
      y += biasAt(c);
    }
    if (HAS_MODULATION) {
      y = y * (1.0 + tableAt(params.scaleRow * cols + c)) + tableAt(params.shiftRow * cols + c);
    }
    out[base + c] = y;
  }
}
