// Arms one segment of a conditional scope (GpuContext.conditional): copies the segment's indirect
// dispatch arguments from the host-written table when the flag is set, zeros them otherwise, so every
// dispatch of the segment either runs as recorded or is an empty dispatch.
// flags: [F] u32; the scope runs where flags[flagIndex] != 0
// table: from `base`: word 0 the segment's dispatch count n, then n (x, y, z) workgroup counts
// args:  the same layout as table (the indirect buffer the segment's dispatches read from base + 1 + 3k)

struct Params { flagIndex: u32, base: u32 }

@group(0) @binding(0) var<storage, read> flags: array<u32>;
@group(0) @binding(1) var<storage, read> table: array<u32>;
@group(0) @binding(2) var<storage, read_write> args: array<u32>;
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) lid: u32) {
  let words = 3u * table[params.base];
  let on = flags[params.flagIndex] != 0u;
  for (var k = lid; k < words; k += 64u) {
    let at = params.base + 1u + k;
    args[at] = select(0u, table[at], on);
  }
}
