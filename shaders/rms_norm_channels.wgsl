// RMS normalisation across channels at every pixel of channel-first frames (Wan VAE's RMS_norm:
// F.normalize over dim 1, times √C and a per-channel gain), optionally followed by SiLU:
//   y[n, c, p] = act( x[n, c, p] / max(‖x[n, :, p]‖₂, 1e-12) · √C · gamma[c] )
// One invocation per pixel (n, p); it reads its channels twice (stride P, so neighbouring invocations
// read neighbouring addresses).
// x: [N, C, P] f32, gamma: [C] f32, out: [N, C, P] f32
// ACTIVATION 0: none, 1: SiLU.

override ACTIVATION: u32 = 0u;

struct Params { N: u32, C: u32, P: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> gamma: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = gid.x + gid.y * groups.x * 256u;
  if (i >= params.N * params.P) {
    return;
  }
  let n = i / params.P;
  let p = i % params.P;
  let base = n * params.C * params.P + p;
  var squares = 0.0;
  for (var c = 0u; c < params.C; c++) {
    let v = x[base + c * params.P];
    squares += v * v;
  }
  // F.normalize's denominator: the norm, floored at eps = 1e-12.
  let scale = sqrt(f32(params.C)) / max(sqrt(squares), 1e-12);
  for (var c = 0u; c < params.C; c++) {
    var v = x[base + c * params.P] * scale * gamma[c];
    if (ACTIVATION == 1u) {
      v = v / (1.0 + exp(-v));
    }
    out[base + c * params.P] = v;
  }
}
