// Copies a block of columns between two row-major matrices: out[r, outOffset + c] = x[r, inOffset + c]
// for r < rows, c < cols. One invocation per element; columns of out outside the block are untouched.
// Gathers a group of heads (or output columns) into a tensor of its own and scatters it back.
// x:   [rows, inStride] f32 (or a range of its rows)
// out: [rows, outStride] f32 (or a range of its rows)

struct Params { rows: u32, cols: u32, inStride: u32, inOffset: u32, outStride: u32, outOffset: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = gid.x + gid.y * groups.x * 256u;
  if (i >= params.rows * params.cols) {
    return;
  }
  let r = i / params.cols;
  let c = i % params.cols;
  out[r * params.outStride + params.outOffset + c] = x[r * params.inStride + params.inOffset + c];
}
