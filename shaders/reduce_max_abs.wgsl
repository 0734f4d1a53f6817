// max|a| over a large buffer, written to out[slot]. Compared as the u32 bits of |a| (sign cleared):
// for non-negative floats the integer order is the float order, and every NaN sorts above +∞, so a
// NaN anywhere comes out as NaN (a plain f32 max may drop it).
// Two dispatches of 256-thread workgroups:
//   FINAL = false: workgroup g strides over the data and writes its maximum's bits to partials[g];
//   FINAL = true: one workgroup reduces the partialCount partials into out[slot].
// a: [count], partials: [partialCount] (u32 bits), out: [S] (only out[slot] is written)
// Over the binding limit, the first pass runs once per segment of a (bound as a range, count its length)
// with its workgroups' maxima from partial partialBase on; the final pass then reduces them all.

override FINAL: bool = false;

struct Params { count: u32, partialCount: u32, slot: u32, partialBase: u32 }

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read_write> partials: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

const THREADS = 256u;

var<workgroup> shared_max: array<u32, THREADS>;

@compute @workgroup_size(THREADS)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  var best = 0u;
  if (FINAL) {
    for (var i = lid; i < params.partialCount; i += THREADS) {
      best = max(best, partials[i]);
    }
  } else {
    let stride = params.partialCount * THREADS;
    for (var i = wid.x * THREADS + lid; i < params.count; i += stride) {
      best = max(best, bitcast<u32>(a[i]) & 0x7fffffffu);
    }
  }

  shared_max[lid] = best;
  workgroupBarrier();
  for (var half = THREADS / 2u; half > 0u; half >>= 1u) {
    if (lid < half) {
      shared_max[lid] = max(shared_max[lid], shared_max[lid + half]);
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    if (FINAL) {
      out[params.slot] = bitcast<f32>(shared_max[0]);
    } else {
      partials[params.partialBase + wid.x] = shared_max[0];
    }
  }
}
