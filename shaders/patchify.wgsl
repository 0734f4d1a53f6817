// Cuts a video into non-overlapping (pt, ph, pw) patches, one token per patch, so Conv3d with
// kernel = stride = patch becomes a matmul against its weight flattened to [dim, C·pt·ph·pw].
//   tokens[(f'·H' + h')·W' + w', ((c·pt + t)·ph + y)·pw + x] = video[c, f'·pt + t, h'·ph + y, w'·pw + x]
// One thread per output element (writes are contiguous; reads gather).
// video: [C, F, H, W], tokens: [F'·H'·W', C·pt·ph·pw] with F' = F/pt, H' = H/ph, W' = W/pw

struct Params { count: u32, channels: u32, frames: u32, height: u32, width: u32, pt: u32, ph: u32, pw: u32 }

@group(0) @binding(0) var<storage, read> video: array<f32>;
@group(0) @binding(1) var<storage, read_write> tokens: array<f32>;
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
  let grid_h = params.height / ph;
  let grid_w = params.width / pw;
  let features = params.channels * pt * ph * pw;

  let token = i / features;
  var k = i % features;
  let x = k % pw;
  k /= pw;
  let y = k % ph;
  k /= ph;
  let t = k % pt;
  let c = k / pt;
  let gw = token % grid_w;
  let gh = (token / grid_w) % grid_h;
  let gf = token / (grid_w * grid_h);

  let f = gf * pt + t;
  let h = gh * ph + y;
  let w = gw * pw + x;
  tokens[i] = video[((c * params.frames + f) * params.height + h) * params.width + w];
}
