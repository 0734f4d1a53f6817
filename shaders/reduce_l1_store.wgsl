// reduce_l1.wgsl's first pass fused with the store that follows it: Σ|a − b| and Σ|b| per workgroup
// (into partials[2g], partials[2g + 1], summed by reduce_l1.wgsl's FINAL pass; or, with one workgroup
// and the results bound as partials from partialBase = slot on, the result itself), and a then replaces
// b in the same pass, so the data is read once and a dispatch is saved.
//   B_F16 = false: b is f32; one element per thread and step, as reduce_l1.wgsl reads it (the same sums
//     for the same workgroup count).
//   B_F16 = true: b is f16 packed two per word (element 2i in the low half); each thread owns whole
//     words, so no word is read by one invocation while another writes it; the new word is packed as
//     cast_f16_checked.wgsl does, raising flags[flagIndex] for a value that is not finite or beyond
//     ±65504. Each workgroup sums the same elements as reduce_l1.wgsl's, split differently between its
//     threads: the sums can differ from it in their last bits.
// a: [count] f32; b: [count] f32 or [⌈count/2⌉] words (B_F16); partials: [2·partialCount]; flags: [F] u32
// Over the binding limit, it runs once per segment (even starts: whole words), each writing from
// partial partialBase on, as reduce_l1.wgsl's first pass.

override B_F16: bool = false;

struct Params { count: u32, partialCount: u32, zero: u32, partialBase: u32, flagIndex: u32 }

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read_write> b: array<u32>;
@group(0) @binding(2) var<storage, read_write> partials: array<f32>;
@group(0) @binding(3) var<storage, read_write> flags: array<atomic<u32>>;
@group(0) @binding(4) var<uniform> params: Params;

const THREADS = 256u;
const F16_MAX = 65504.0;

var<workgroup> shared_sums: array<vec2f, THREADS>;

// Kahan summation of two running sums at once, as in reduce_l1.wgsl.
struct Compensated { sum: vec2f, lost: vec2f }

// x, through an integer operation with a uniform (params.zero, always 0) the compiler cannot know is
// 0: without it, a compiler that simplifies (t − sum) − y to 0 drops the compensation.
fn opaque(x: vec2f) -> vec2f {
  return bitcast<vec2f>(bitcast<vec2u>(x) ^ vec2u(params.zero));
}

fn compensated_add(acc: Compensated, v: vec2f) -> Compensated {
  let y = v - acc.lost;
  let t = opaque(acc.sum + y);
  return Compensated(t, (t - acc.sum) - y);
}

// Bits, not float compares: a compiler may assume floats are finite and drop a NaN test.
fn fits(bits: u32) -> bool {
  return (bits & 0x7f800000u) != 0x7f800000u && abs(bitcast<f32>(bits)) <= F16_MAX;
}

@compute @workgroup_size(THREADS)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  var acc = Compensated(vec2f(0.0), vec2f(0.0));
  let stride = params.partialCount * THREADS;
  if (B_F16) {
    let words = (params.count + 1u) / 2u;
    var overflow = false;
    for (var w = wid.x * THREADS + lid; w < words; w += stride) {
      let old = unpack2x16float(b[w]);
      let lo = a[2u * w];
      acc = compensated_add(acc, vec2f(abs(lo - old.x), abs(old.x)));
      var hi = 0.0;
      if (2u * w + 1u < params.count) {
        hi = a[2u * w + 1u];
        acc = compensated_add(acc, vec2f(abs(hi - old.y), abs(old.y)));
      }
      overflow = overflow || !fits(bitcast<u32>(lo)) || !fits(bitcast<u32>(hi));
      b[w] = pack2x16float(vec2f(lo, hi));
    }
    if (overflow) { atomicOr(&flags[params.flagIndex], 1u); }
  } else {
    for (var i = wid.x * THREADS + lid; i < params.count; i += stride) {
      let old = bitcast<f32>(b[i]);
      let v = a[i];
      acc = compensated_add(acc, vec2f(abs(v - old), abs(old)));
      b[i] = bitcast<u32>(v);
    }
  }

  shared_sums[lid] = acc.sum - acc.lost;
  workgroupBarrier();
  for (var half = THREADS / 2u; half > 0u; half >>= 1u) {
    if (lid < half) {
      shared_sums[lid] += shared_sums[lid + half];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let at = 2u * (params.partialBase + wid.x);
    partials[at] = shared_sums[0].x;
    partials[at + 1u] = shared_sums[0].y;
  }
}
