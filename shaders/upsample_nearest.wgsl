// Nearest-neighbour 2× upsampling: out[p, Y, X] = x[p, ⌊Y/2⌋, ⌊X/2⌋], one invocation per output element.
// x:   [planes, H, W]    f32 (planes = N·C)
// out: [planes, 2H, 2W]  f32

struct Params { count: u32, H: u32, W: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = gid.x + gid.y * groups.x * 256u;
  if (i >= params.count) {
    return;
  }
  let w2 = params.W * 2u;
  let h2 = params.H * 2u;
  let ox = i % w2;
  let rest = i / w2;
  let oy = rest % h2;
  let plane = rest / h2;
  out[i] = x[(plane * params.H + oy / 2u) * params.W + ox / 2u];
}
