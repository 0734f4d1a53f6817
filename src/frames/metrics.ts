// Quality of a cached video against the uncached one of the same seed: PSNR and SSIM over frames
// [F, 3, H, W] in [0, 1]. SSIM as Wang et al. 2004: 11×11 Gaussian window (σ = 1.5), K1 = 0.01,
// K2 = 0.03, per channel and frame, averaged over the valid window positions.

export function psnr(a: Float32Array, b: Float32Array, peak = 1): number {
  if (a.length !== b.length) throw new Error(`psnr: ${a.length} vs ${b.length} values`);
  let se = 0;
  for (let i = 0; i < a.length; i++) se += (a[i] - b[i]) ** 2;
  const mse = se / a.length;
  return mse === 0 ? Infinity : 10 * Math.log10((peak * peak) / mse);
}

function gaussianWindow(size: number, sigma: number): Float64Array {
  const w = new Float64Array(size);
  const c = (size - 1) / 2;
  let sum = 0;
  for (let i = 0; i < size; i++) sum += w[i] = Math.exp(-((i - c) ** 2) / (2 * sigma * sigma));
  return w.map((v) => v / sum);
}

/** Mean SSIM of two videos [F, C, H, W]; windows shrink to the frame for frames under 11 pixels. */
export function ssim(a: Float32Array, b: Float32Array, shape: readonly number[], peak = 1): number {
  const [f, c, h, w] = shape;
  if (a.length !== b.length || a.length !== f * c * h * w) throw new Error(`ssim: sizes do not match shape [${shape.join(', ')}]`);
  const size = Math.min(11, h, w);
  const win = gaussianWindow(size, 1.5);
  const c1 = (0.01 * peak) ** 2;
  const c2 = (0.03 * peak) ** 2;
  let total = 0;
  let count = 0;
  for (let plane = 0; plane < f * c; plane++) {
    const off = plane * h * w;
    for (let y = 0; y + size <= h; y++) {
      for (let x = 0; x + size <= w; x++) {
        let ma = 0, mb = 0, saa = 0, sbb = 0, sab = 0;
        for (let dy = 0; dy < size; dy++) {
          for (let dx = 0; dx < size; dx++) {
            const wt = win[dy] * win[dx];
            const i = off + (y + dy) * w + x + dx;
            const va = a[i];
            const vb = b[i];
            ma += wt * va;
            mb += wt * vb;
            saa += wt * va * va;
            sbb += wt * vb * vb;
            sab += wt * va * vb;
          }
        }
        const va = saa - ma * ma;
        const vb = sbb - mb * mb;
        const cov = sab - ma * mb;
        total += ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2));
        count++;
      }
    }
  }
  return total / count;
}
