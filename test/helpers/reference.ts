// Float64 CPU references and comparison helpers for the kernel tests.

/** A seeded generator; each test run draws a fresh seed (printed on failure by `describeSeed`). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const runSeed = Number(process.env.WEBDIT_TEST_SEED ?? Math.floor(Math.random() * 2 ** 31));

/** Uniform values in [-scale, scale). */
export function randomArray(n: number, rand: () => number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (rand() * 2 - 1) * scale;
  return a;
}

/** ‖out − ref‖ / ‖ref‖; Infinity if anything is NaN, so poisoned (unwritten) elements fail. */
export function relativeError(out: ArrayLike<number>, ref: ArrayLike<number>): number {
  if (out.length !== ref.length) throw new Error(`length ${out.length} vs reference ${ref.length}`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < ref.length; i++) {
    const o = out[i];
    if (Number.isNaN(o) || Number.isNaN(ref[i])) return Infinity;
    num += (o - ref[i]) ** 2;
    den += ref[i] ** 2;
  }
  return den === 0 ? Math.sqrt(num) : Math.sqrt(num / den);
}

export function maxAbsDiff(out: ArrayLike<number>, ref: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < ref.length; i++) m = Math.max(m, Number.isNaN(out[i]) ? Infinity : Math.abs(out[i] - ref[i]));
  return m;
}
