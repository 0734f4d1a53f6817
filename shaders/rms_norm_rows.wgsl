// RMS normalisation over the whole last dimension, with a weight (Wan's "rms_norm_across_heads":
// all heads of q or k together):
//   y = x / sqrt(mean(x²) + eps) · weight
// One invocation per row, no workgroup memory and no barrier: the path for CPU implementations such
// as SwiftShader, where a barrier suspends every 4-lane batch of a workgroup as a coroutine (see
// rms_norm.wgsl for the tree-reduced path GPUs take). Two sequential passes over the row: the sum of
// squares (four interleaved partial sums), then the output.
// x: [rows, cols], weight: [cols], out: [rows, cols]
// x and weight are read as 16-byte chunks: their buffers must hold whole chunks.

// cols % 4 == 0: every row starts on a chunk, so rows are read as vectors; otherwise value by value.
override ALIGNED: bool = true;

const THREADS: u32 = 4u; // rows per workgroup: one 4-lane batch, so short inputs still spread over cores

struct Params { rows: u32, cols: u32, eps: f32 }

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> weight: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

fn xAt(e: u32) -> f32 { return x[e / 4u][e % 4u]; }
fn weightAt(e: u32) -> f32 { return weight[e / 4u][e % 4u]; }

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
  let base = row * cols;

  if (ALIGNED) {
    let chunks = cols / 4u;
    let base4 = base / 4u;
    var squares = vec4<f32>(0.0);
    for (var c = 0u; c < chunks; c++) {
      let v = x[base4 + c];
      squares += v * v;
    }
    let invRms = inverseSqrt(((squares.x + squares.y) + (squares.z + squares.w)) / f32(cols) + params.eps);
    for (var c = 0u; c < chunks; c++) {
      let y = x[base4 + c] * invRms * weight[c];
      let o = base + 4u * c;
      out[o] = y.x;
      out[o + 1u] = y.y;
      out[o + 2u] = y.z;
      out[o + 3u] = y.w;
    }
    return;
  }

  var squares = vec4<f32>(0.0);
  var c = 0u;
  for (; c + 4u <= cols; c += 4u) {
    let v = vec4<f32>(xAt(base + c), xAt(base + c + 1u), xAt(base + c + 2u), xAt(base + c + 3u));
    squares += v * v;
  }
  for (; c < cols; c++) {
    let v = xAt(base + c);
    squares.x += v * v;
  }
  let invRms = inverseSqrt(((squares.x + squares.y) + (squares.z + squares.w)) / f32(cols) + params.eps);
  for (c = 0u; c < cols; c++) {
    out[base + c] = xAt(base + c) * invRms * weightAt(c);
  }
}
