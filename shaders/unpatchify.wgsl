// Inverse of patchify for the model's head output, whose features are channel-fastest (as Wan's
// proj_out lays them out): token (f', h', w') feature ((t·ph + y)·pw + x)·C + c goes to
//   video[c, f'·pt + t, h'·ph + y, w'·pw + x]
// One thread per output element on a (w, h, c·F + f) grid: writes are contiguous, reads gather. The patch
// size is a pipeline constant, as in patchify.wgsl, so no per-element integer division by it.
// tokens: [F'·H'·W', pt·ph·pw·C], video: [C, F'·pt, H'·ph, W'·pw]
// Under a binding limit the wrapper dispatches tiles, as for patchify.wgsl: `video` bound from channel
// channelStart, `tokens` from the token row of frame frameStart, the grid's z over segmentFrames frames.

override PT: u32 = 1u;
override PH: u32 = 2u;
override PW: u32 = 2u;

struct Params { channels: u32, frames: u32, height: u32, width: u32, channelStart: u32, frameStart: u32, segmentFrames: u32 }

@group(0) @binding(0) var<storage, read> tokens: array<f32>;
@group(0) @binding(1) var<storage, read_write> video: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(16, 16, 1)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let w = gid.x;
  let h = gid.y;
  if (w >= params.width || h >= params.height) {
    return;
  }
  let c = gid.z / params.segmentFrames; // within the tile
  let f = gid.z % params.segmentFrames;
  let token = ((f / PT) * (params.height / PH) + h / PH) * (params.width / PW) + w / PW;
  let feature = (((f % PT) * PH + h % PH) * PW + w % PW) * params.channels + params.channelStart + c;
  let frame = params.frameStart + f;
  video[((c * params.frames + frame) * params.height + h) * params.width + w] = tokens[token * (PT * PH * PW * params.channels) + feature];
}
