// Cuts a video into non-overlapping (pt, ph, pw) patches, one token per patch, so Conv3d with
// kernel = stride = patch becomes a matmul against its weight flattened to [dim, C·pt·ph·pw].
//   tokens[(f'·H' + h')·W' + w', ((c·pt + t)·ph + y)·pw + x] = video[c, f'·pt + t, h'·ph + y, w'·pw + x]
// One thread per input element on a (w, h, c·F + f) grid: reads are contiguous, writes scatter. The patch
// size is a pipeline constant (one per model), so splitting coordinates costs shifts and multiplies, not
// integer divisions, which CPU implementations such as SwiftShader run one lane at a time.
// video: [C, F, H, W], tokens: [F'·H'·W', C·pt·ph·pw] with F' = F/pt, H' = H/ph, W' = W/pw
// Under a binding limit the wrapper dispatches tiles: `video` bound from channel channelStart, `tokens`
// from the token row of frame frameStart (a multiple of pt), the grid's z over segmentFrames frames of each
// of the tile's channels; the indices below are relative to those bindings.

override PT: u32 = 1u;
override PH: u32 = 2u;
override PW: u32 = 2u;

struct Params { channels: u32, frames: u32, height: u32, width: u32, channelStart: u32, frameStart: u32, segmentFrames: u32 }

@group(0) @binding(0) var<storage, read> video: array<f32>;
@group(0) @binding(1) var<storage, read_write> tokens: array<f32>;
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
  let feature = (((params.channelStart + c) * PT + f % PT) * PH + h % PH) * PW + w % PW;
  let frame = params.frameStart + f;
  tokens[token * (params.channels * PT * PH * PW) + feature] = video[((c * params.frames + frame) * params.height + h) * params.width + w];
}
