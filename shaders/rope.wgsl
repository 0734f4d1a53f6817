// Wan's 3-D rotary embedding on interleaved pairs. For token l, head h and pair j of the head's
// d values, with a = x[2j], b = x[2j+1] and the angle's cos c and sin s from row l of the tables:
//   out[2j] = a·c − b·s,   out[2j+1] = a·s + b·c
// One invocation per pair; the tables are shared by all heads of a token.
//   x, out:    [L, H·d] as [L·H·d/2] pairs (head h at columns [h·d, (h+1)·d))
//   cos, sin:  [L, d/2]

struct Params { pairs: u32, pairsPerHead: u32, pairsPerToken: u32 }

@group(0) @binding(0) var<storage, read> x: array<vec2<f32>>;
@group(0) @binding(1) var<storage, read> cos: array<f32>;
@group(0) @binding(2) var<storage, read> sin: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<vec2<f32>>;
@group(0) @binding(4) var<uniform> params: Params;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let pair = gid.x + gid.y * groups.x * 256u;
  if (pair >= params.pairs) {
    return;
  }
  let token = pair / params.pairsPerToken;
  let j = pair % params.pairsPerHead;
  let angle = token * params.pairsPerHead + j;
  let c = cos[angle];
  let s = sin[angle];
  let ab = x[pair];
  out[pair] = vec2<f32>(ab.x * c - ab.y * s, ab.x * s + ab.y * c);
}
