// The two sums of a relative L1 distance, in one pass over the data: Σ|a − b| and Σ|b|, written to
// out[2·slot] and out[2·slot + 1] (the ratio is taken later, on the GPU or the host).
// Two dispatches of 256-thread workgroups:
//   FINAL = false: workgroup g strides over the data (grid-stride loop, Kahan-compensated per
//     thread), tree-reduces its threads and writes its pair to partials[2g], partials[2g + 1];
//   FINAL = true: one workgroup sums the partialCount pairs the same way into the slot.
// a: [count] f32; b: [count] f32 or (B_F16) f16 packed two per word, element 2i in the low half (a
// cached feature map compared without widening it first); partials: [2·partialCount]; out: [2·S] (only
// the slot's pair is written)
// Over the binding limit, the first pass runs once per segment of a and b (bound as ranges, count their
// length) with its workgroups' pairs from partial partialBase on; the final pass then sums them all.

override FINAL: bool = false;
override B_F16: bool = false;

struct Params { count: u32, partialCount: u32, slot: u32, zero: u32, partialBase: u32 }

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<u32>;
@group(0) @binding(2) var<storage, read_write> partials: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

const THREADS = 256u;

var<workgroup> shared_sums: array<vec2f, THREADS>;

// Kahan summation of two running sums at once: `sum` and its compensation `lost`.
struct Compensated { sum: vec2f, lost: vec2f }

// x, through an integer operation with a uniform (params.zero, always 0) the compiler cannot know is
// 0: without it, a compiler that simplifies (t − sum) − y to 0 (NVIDIA's does) drops the compensation.
fn opaque(x: vec2f) -> vec2f {
  return bitcast<vec2f>(bitcast<vec2u>(x) ^ vec2u(params.zero));
}

fn compensated_add(acc: Compensated, v: vec2f) -> Compensated {
  let y = v - acc.lost;
  let t = opaque(acc.sum + y);
  return Compensated(t, (t - acc.sum) - y);
}

fn b_at(i: u32) -> f32 {
  if (B_F16) {
    let pair = unpack2x16float(b[i / 2u]);
    return select(pair.x, pair.y, (i & 1u) == 1u);
  }
  return bitcast<f32>(b[i]);
}

@compute @workgroup_size(THREADS)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  var acc = Compensated(vec2f(0.0), vec2f(0.0));
  if (FINAL) {
    for (var i = lid; i < params.partialCount; i += THREADS) {
      acc = compensated_add(acc, vec2f(partials[2u * i], partials[2u * i + 1u]));
    }
  } else {
    let stride = params.partialCount * THREADS;
    for (var i = wid.x * THREADS + lid; i < params.count; i += stride) {
      let bv = b_at(i);
      acc = compensated_add(acc, vec2f(abs(a[i] - bv), abs(bv)));
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
    let total = shared_sums[0];
    let at = select(2u * (params.partialBase + wid.x), 2u * params.slot, FINAL);
    if (FINAL) {
      out[at] = total.x;
      out[at + 1u] = total.y;
    } else {
      partials[at] = total.x;
      partials[at + 1u] = total.y;
    }
  }
}
