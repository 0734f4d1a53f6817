// Inverse of patchify for the model's head output, whose features are channel-fastest (as Wan's
// proj_out lays them out): token (f', h', w') feature ((t·ph + y)·pw + x)·C + c goes to
//   video[c, f'·pt + t, h'·ph + y, w'·pw + x]
// One thread per output element (writes are contiguous; reads gather).
// tokens: [F'·H'·W', pt·ph·pw·C], video: [C, F'·pt, H'·ph, W'·pw]

struct Params { count: u32, channels: u32, frames: u32, height: u32, width: u32, pt: u32, ph: u32, pw: u32 }

@group(0) @binding(0) var<storage, read> tokens: array<f32>;
@group(0) @binding(1) var<storage, read_write> video: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = gid.x + gid.y * groups.x * 256u;
  if (i >= params.count) {
    return;
  }
  let pt = params.pt;
  let ph = params.ph;
  let pw = params.pw;
  let w = i % params.width;
  let h = (i / params.width) % params.height;
  let f = (i / (params.width * params.height)) % params.frames;
  let c = i / (params.width * params.height * params.frames);

  let token = ((f / pt) * (params.height / ph) + h / ph) * (params.width / pw) + w / pw;
  let feature = (((f % pt) * ph + h % ph) * pw + w % pw) * params.channels + c;
  video[i] = tokens[token * (pt * ph * pw * params.channels) + feature];
}
