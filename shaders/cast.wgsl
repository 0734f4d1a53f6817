// Precision conversion for stored features: f32 → f16 packed two per word (OP 0), or back (OP 1).
// OP 0: x [count] f32 words → out [⌈count/2⌉] words, element 2i in the low half
// OP 1: x [⌈count/2⌉] packed words → out [count] f32
// One invocation per output word.

override OP: u32 = 0u;

struct Params { count: u32 }

@group(0) @binding(0) var<storage, read> x: array<u32>;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = gid.x + gid.y * groups.x * 256u;
  if (OP == 0u) {
    if (2u * i >= params.count) { return; }
    let lo = bitcast<f32>(x[2u * i]);
    var hi = 0.0;
    if (2u * i + 1u < params.count) { hi = bitcast<f32>(x[2u * i + 1u]); }
    out[i] = pack2x16float(vec2f(lo, hi));
  } else {
    if (i >= params.count) { return; }
    let pair = unpack2x16float(x[i / 2u]);
    out[i] = bitcast<u32>(select(pair.x, pair.y, (i & 1u) == 1u));
  }
}
