// Copies 32-bit words: out[dstWord + i] = x[srcWord + i] for i < count. Used where a buffer copy must
// be skippable on the GPU (copyBufferToBuffer cannot be dispatched indirectly).
// x: source words; out: destination words (a different buffer)

struct Params { count: u32, srcWord: u32, dstWord: u32 }

@group(0) @binding(0) var<storage, read> x: array<u32>;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = gid.x + gid.y * groups.x * 256u;
  if (i < params.count) {
    out[params.dstWord + i] = x[params.srcWord + i];
  }
}
