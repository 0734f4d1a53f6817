// Swaps the two outer dimensions of a tensor viewed as [A, B, R]: out[b, a, r] = x[a, b, r].
// Moves latents from the model's [C, T, h·w] layout to the decoder's [T, C, h·w].
// x: [A·B·R], out: [B·A·R]; one invocation per element of a tile: a in [aStart, aStart + aCount),
// b in [bStart, bStart + bCount). The whole tensor is one tile; over the binding limit, x is bound from
// row aStart and out from row bStart, and the indices below are relative to those bindings.

struct Params { A: u32, B: u32, R: u32, aStart: u32, aCount: u32, bStart: u32, bCount: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = gid.x + gid.y * groups.x * 256u;
  let total = params.aCount * params.bCount * params.R;
  if (i >= total) { return; }
  let r = i % params.R;
  let ab = i / params.R;
  let lb = ab % params.bCount; // within the tile
  let la = ab / params.bCount;
  out[(lb * params.A + params.aStart + la) * params.R + r] = x[(la * params.B + params.bStart + lb) * params.R + r];
}
