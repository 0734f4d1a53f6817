// Multi-head self-attention over several packed sequences with a relative-position bias (T5/umT5):
//   out[i] = Σ_j softmax_j(scale·q_i·k_j + bias[h, pos_j − pos_i + span − 1]) · v_j
// over the keys j of query i's own sequence only (the other sequences' keys are masked out: this is
// the padding mask when the sequences of a batch are packed without padding). T5 uses scale = 1.
//   q, k, v, out: [T, H·d]        (head h occupies columns [h·d, (h+1)·d); T tokens of all sequences)
//   bias:         [H, 2·span − 1] (the bias of each relative offset −(span−1)…span−1, per head)
//   tokens:       [T, 2] u32      (sequence index, position in that sequence < span)
// One invocation per (query token, head): online softmax over the keys in one pass, the output
// accumulated in registers (d ≤ MAX_HEAD_DIM). Meant for the few dozen to few hundred tokens of a
// text prompt, not for long sequences.

const MAX_HEAD_DIM: u32 = 256u;
const WORKGROUP: u32 = 64u;

struct Params { tokens: u32, heads: u32, headDim: u32, span: u32, scale: f32 }

@group(0) @binding(0) var<storage, read> q: array<f32>;
@group(0) @binding(1) var<storage, read> k: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> tokens: array<u32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;
@group(0) @binding(6) var<uniform> params: Params;

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let index = (wid.x + wid.y * groups.x) * WORKGROUP + lid;
  if (index >= params.tokens * params.heads) {
    return;
  }
  let i = index / params.heads;
  let h = index % params.heads;
  let d = params.headDim;
  let stride = params.heads * d;
  let qAt = i * stride + h * d;
  let sequence = tokens[2u * i];
  // bias index of key position p: p − pos_i + span − 1 (never negative: pos_i < span)
  let biasBase = h * (2u * params.span - 1u) + params.span - 1u - tokens[2u * i + 1u];

  var acc: array<f32, MAX_HEAD_DIM>;
  for (var c = 0u; c < d; c++) {
    acc[c] = 0.0;
  }
  var runningMax = -3.4e38;
  var runningSum = 0.0;
  for (var j = 0u; j < params.tokens; j++) {
    if (tokens[2u * j] != sequence) {
      continue;
    }
    let kAt = j * stride + h * d;
    var dot = 0.0;
    for (var c = 0u; c < d; c++) {
      dot += q[qAt + c] * k[kAt + c];
    }
    let score = params.scale * dot + bias[biasBase + tokens[2u * j + 1u]];
    let newMax = max(runningMax, score);
    let rescale = exp(runningMax - newMax);
    let p = exp(score - newMax);
    runningMax = newMax;
    runningSum = runningSum * rescale + p;
    for (var c = 0u; c < d; c++) {
      acc[c] = acc[c] * rescale + p * v[kAt + c];
    }
  }
  // A query always sees itself, so runningSum ≥ 1.
  let inv = 1.0 / runningSum;
  for (var c = 0u; c < d; c++) {
    out[qAt + c] = acc[c] * inv;
  }
}
