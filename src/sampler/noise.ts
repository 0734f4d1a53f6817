// Seeded Gaussian noise for the initial latent, reproducible from the seed alone.
//
// Generator: xoshiro128** (Blackman & Vigna, 2018; 32-bit words, period 2^128 − 1), its state
// seeded from the seed by SplitMix64, as the authors recommend. Each normal pair takes four 32-bit
// outputs: two 53-bit uniforms u1, u2 ∈ [0, 1), then Box–Muller in double precision,
//   r = √(−2·ln(1 − u1)),  z₀ = r·cos(2πu2),  z₁ = r·sin(2πu2),
// rounded to float32. Values are produced in pairs in order, so a shorter draw is a prefix of a
// longer one with the same seed.
//
// Reproducibility: the integer work is exact (Math.imul, shifts, BigInt for seeding) and sqrt is
// correctly rounded everywhere. Math.log, cos and sin are not specified to the last bit, but V8
// implements them with its own fdlibm port, identical on every platform, so Node and Chromium-based
// browsers (both V8) give identical values. Other engines may differ in the last bit of a double,
// which almost never survives the rounding to float32.

const TWO_PI = 2 * Math.PI;
const MASK64 = (1n << 64n) - 1n;

/** SplitMix64 (Steele, Lea & Flood): a 64-bit stream used only to fill the xoshiro state. */
export function splitMix64(seed: bigint): () => bigint {
  let state = seed & MASK64;
  return () => {
    state = (state + 0x9e3779b97f4a7c15n) & MASK64;
    let z = state;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
    return z ^ (z >> 31n);
  };
}

/** xoshiro128** from a 128-bit state (four 32-bit words, not all zero): unsigned 32-bit outputs. */
export function xoshiro128ss(state: readonly [number, number, number, number]): () => number {
  let [s0, s1, s2, s3] = state.map((w) => w >>> 0);
  if ((s0 | s1 | s2 | s3) === 0) throw new Error('xoshiro128**: the all-zero state is a fixed point');
  return () => {
    const m = Math.imul(s1, 5);
    const result = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = (s3 << 11) | (s3 >>> 21);
    return result;
  };
}

/** The generator for a seed: two SplitMix64 outputs, low word first, fill the state. */
function seededGenerator(seed: number): () => number {
  const next64 = splitMix64(BigInt(seed));
  const a = next64();
  const b = next64();
  const words = [a & 0xffffffffn, a >> 32n, b & 0xffffffffn, b >> 32n].map(Number);
  // SplitMix64 is a bijection of its counter, so two consecutive outputs are never both zero.
  return xoshiro128ss(words as [number, number, number, number]);
}

/**
 * `count` standard normal values (mean 0, variance 1) from `seed`, an integer in [0, 2^53).
 * Deterministic: the same seed gives the same values in Node and in the browser.
 */
export function gaussianNoise(seed: number, count: number): Float32Array {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`gaussianNoise: seed must be an integer in [0, 2^53), got ${seed}`);
  if (!Number.isSafeInteger(count) || count < 0) throw new Error(`gaussianNoise: count must be a non-negative integer, got ${count}`);
  const next = seededGenerator(seed);
  // 53 random bits: 27 from one word, 26 from the next, scaled to [0, 1).
  const uniform = (): number => ((next() >>> 5) * 67108864 + (next() >>> 6)) / 9007199254740992;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - uniform()));
    const theta = TWO_PI * uniform();
    out[i] = r * Math.cos(theta);
    if (i + 1 < count) out[i + 1] = r * Math.sin(theta);
  }
  return out;
}
