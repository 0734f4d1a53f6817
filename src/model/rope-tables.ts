// Wan2.1's 3-D rotary position tables, computed on the host in double precision (as upstream
// `rope_params` does in float64) and handed to the GPU as f32.
//
// A head of size d is split into three bands [t | h | w] of d − 4⌊d/6⌋, 2⌊d/6⌋ and 2⌊d/6⌋ values;
// a band of b values holds b/2 interleaved pairs, pair j turning at frequency θ^(−2j/b). Token
// (f, h, w) takes its angle from f in the t band, h in the h band and w in the w band.

export interface RopeTables {
  /** cos of the angle, [L, d/2], L = F·H·W in token order f·H·W + h·W + w. */
  cos: Float32Array;
  /** sin of the angle, [L, d/2]. */
  sin: Float32Array;
}

/** Pairs (frequencies) in each band [t, h, w] for a head of `headDim` values: sums to headDim / 2. */
export function ropeBandFrequencies(headDim: number): [number, number, number] {
  if (!Number.isInteger(headDim) || headDim < 2 || headDim % 2 !== 0) {
    throw new Error(`ropeBandFrequencies: head size must be a positive even integer, got ${headDim}`);
  }
  const spatial = Math.floor(headDim / 6); // 2⌊d/6⌋ values → ⌊d/6⌋ pairs
  return [headDim / 2 - 2 * spatial, spatial, spatial];
}

/** Angles position·θ^(−2j/b) for positions 0..count−1 and the `pairs` = b/2 pairs of one band. */
function bandAngles(count: number, pairs: number, theta: number): { cos: Float64Array; sin: Float64Array } {
  const bandSize = 2 * pairs;
  const cos = new Float64Array(count * pairs);
  const sin = new Float64Array(count * pairs);
  for (let j = 0; j < pairs; j++) {
    const frequency = 1 / Math.pow(theta, (2 * j) / bandSize);
    for (let p = 0; p < count; p++) {
      const angle = p * frequency;
      cos[p * pairs + j] = Math.cos(angle);
      sin[p * pairs + j] = Math.sin(angle);
    }
  }
  return { cos, sin };
}

/** The cos and sin tables [F·H·W, d/2] for a latent grid of F×H×W tokens. */
export function ropeTables(headDim: number, gridF: number, gridH: number, gridW: number, theta = 10000): RopeTables {
  const [tPairs, hPairs, wPairs] = ropeBandFrequencies(headDim);
  for (const [name, n] of [['gridF', gridF], ['gridH', gridH], ['gridW', gridW]] as const) {
    if (!Number.isInteger(n) || n < 1) throw new Error(`ropeTables: ${name} must be a positive integer, got ${n}`);
  }
  if (!(theta > 0)) throw new Error(`ropeTables: theta must be positive, got ${theta}`);

  const half = headDim / 2;
  const bands = [
    { angles: bandAngles(gridF, tPairs, theta), pairs: tPairs, offset: 0 },
    { angles: bandAngles(gridH, hPairs, theta), pairs: hPairs, offset: tPairs },
    { angles: bandAngles(gridW, wPairs, theta), pairs: wPairs, offset: tPairs + hPairs },
  ];
  const tokens = gridF * gridH * gridW;
  const cos = new Float32Array(tokens * half);
  const sin = new Float32Array(tokens * half);
  for (let f = 0; f < gridF; f++) {
    for (let h = 0; h < gridH; h++) {
      for (let w = 0; w < gridW; w++) {
        const row = ((f * gridH + h) * gridW + w) * half;
        const positions = [f, h, w];
        bands.forEach(({ angles, pairs, offset }, axis) => {
          const from = positions[axis] * pairs;
          for (let j = 0; j < pairs; j++) {
            cos[row + offset + j] = angles.cos[from + j];
            sin[row + offset + j] = angles.sin[from + j];
          }
        });
      }
    }
  }
  return { cos, sin };
}
