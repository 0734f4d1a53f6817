// WGSL kernels in a real browser: Chromium's WebGPU (SwiftShader here) runs matmul (both paths) and a
// unary kernel (test/browser/kernel-check.ts, served by Vite's dev server), against float64
// references computed in Node.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { openCheckPage, type CheckPage, type ErrorLog } from './harness.ts';
import { randomArray, relativeError, rng } from '../helpers/reference.ts';
import { floatToHalf, halfToFloat } from '../../src/gpu/context.ts';
import { dequantize } from '../../src/gpu/quantized.ts';
import type { KernelCheckInput, KernelCheckOutput } from './kernel-check.ts';

let check: CheckPage;
let page: Page;
let log: ErrorLog;

beforeAll(async () => {
  check = await openCheckPage('kernel-check.html');
  ({ page, log } = check);
});

afterAll(async () => {
  await check?.close();
});

const gelu = (v: number) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));

describe('WGSL kernels in Chromium', () => {
  it('matmul (direct and staged paths, bias + GELU; int4 and fp8 weights) and unary match float64 references', async () => {
    const rand = rng(42);
    const [M, N, K] = [37, 45, 70];
    const x = randomArray(M * K, rand);
    const w = randomArray(N * K, rand, 0.3);
    const bias = randomArray(N, rand, 0.1);
    const u = randomArray(1000, rand, 4);

    const q = { M: 5, N: 33, K: 64 };
    const qx = randomArray(q.M * q.K, rand);
    const int4 = Array.from({ length: (q.N * q.K) / 2 }, () => Math.floor(rand() * 256));
    const int4Scales = Array.from({ length: (q.N * q.K) / 16 }, () => floatToHalf(0.01 + rand() * 0.02));
    const fp8 = Array.from({ length: q.N * q.K }, () => Math.floor(rand() * 256)).map((b) => ((b & 0x7f) === 0x7f ? 0 : b)); // no NaN codes
    const fp8Scale = 0.03125;
    const quantized = { ...q, x: Array.from(qx), int4, int4Scales, fp8, fp8Scale };
    const input: KernelCheckInput = { x: Array.from(x), w: Array.from(w), bias: Array.from(bias), u: Array.from(u), M, N, K, quantized };
    await page.waitForFunction(() => 'runKernelCheck' in window);
    const gpu = await page.evaluate(
      (args) => (window as unknown as { runKernelCheck(a: KernelCheckInput): Promise<KernelCheckOutput> }).runKernelCheck(args),
      input,
    );

    const ref = new Float64Array(M * N);
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let s = bias[n];
        for (let k = 0; k < K; k++) s += x[m * K + k] * w[n * K + k];
        ref[m * N + n] = gelu(s);
      }
    }
    const siluRef = Array.from(u, (v) => v / (1 + Math.exp(-v)));
    expect(gpu.adapter).toMatch(/\S/);
    // f32 accumulation over K = 70: relative error well under 1e-5; 1e-4 leaves room for the
    // adapter's exp/tanh.
    expect(relativeError(gpu.direct, ref)).toBeLessThan(1e-4);
    expect(relativeError(gpu.staged, ref)).toBeLessThan(1e-4);
    expect(relativeError(gpu.silu, siluRef)).toBeLessThan(1e-5);
    const product = (wq: Float64Array): Float64Array => {
      const y = new Float64Array(q.M * q.N);
      for (let m = 0; m < q.M; m++) for (let n = 0; n < q.N; n++) for (let k = 0; k < q.K; k++) y[m * q.N + n] += qx[m * q.K + k] * wq[n * q.K + k];
      return y;
    };
    const int4Ref = product(dequantize('int4', Uint8Array.from(int4), int4Scales.map(halfToFloat), q.N, q.K, 16));
    const fp8Ref = product(dequantize('fp8', Uint8Array.from(fp8), [fp8Scale], q.N, q.K));
    expect(relativeError(gpu.int4Direct, int4Ref)).toBeLessThan(1e-5);
    expect(relativeError(gpu.fp8Staged, fp8Ref)).toBeLessThan(1e-5);
    expect(log.errors).toEqual([]);
  }, 120_000);
});
