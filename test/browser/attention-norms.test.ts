// Attention, layerNorm and rmsNorm on every path in a real browser: Chromium's WebGPU (SwiftShader
// here, with subgroups) compiles and runs each variant (test/browser/attention-norms-check.ts, served by
// Vite's dev server), against float64 references computed in Node. Sizes are awkward on purpose: a
// head size that is not a multiple of 4 for attention (the direct paths' unaligned reads), and rows of
// 36 for the norms (whole 16-byte chunks, the rows path's vector reads).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { openCheckPage, type CheckPage, type ErrorLog } from './harness.ts';
import { randomArray, relativeError, rng } from '../helpers/reference.ts';
import type { PathCheckInput, PathCheckOutput } from './attention-norms-check.ts';

let check: CheckPage;
let page: Page;
let log: ErrorLog;

beforeAll(async () => {
  check = await openCheckPage('attention-norms-check.html');
  ({ page, log } = check);
});

afterAll(async () => {
  await check?.close();
});

function attentionReference(q: Float32Array, k: Float32Array, v: Float32Array, queries: number, keys: number, heads: number, d: number): Float64Array {
  const width = heads * d;
  const out = new Float64Array(queries * width);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < queries; i++) {
      const scores = Array.from({ length: keys }, (_, j) => {
        let s = 0;
        for (let c = 0; c < d; c++) s += q[i * width + h * d + c] * k[j * width + h * d + c];
        return s / Math.sqrt(d);
      });
      const max = Math.max(...scores);
      const p = scores.map((s) => Math.exp(s - max));
      const sum = p.reduce((a, b) => a + b, 0);
      for (let j = 0; j < keys; j++) {
        for (let c = 0; c < d; c++) out[i * width + h * d + c] += (p[j] / sum) * v[j * width + h * d + c];
      }
    }
  }
  return out;
}

function normReferences(x: Float32Array, table: Float32Array, weight: Float32Array, rows: number, cols: number): { layer: Float64Array; rms: Float64Array } {
  const layer = new Float64Array(rows * cols);
  const rms = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const row = Array.from(x.subarray(r * cols, (r + 1) * cols));
    const mean = row.reduce((a, b) => a + b, 0) / cols;
    const variance = row.reduce((a, b) => a + (b - mean) ** 2, 0) / cols;
    const meanSquare = row.reduce((a, b) => a + b * b, 0) / cols;
    for (let c = 0; c < cols; c++) {
      layer[r * cols + c] = ((row[c] - mean) / Math.sqrt(variance + 1e-6)) * (1 + table[cols + c]) + table[c];
      rms[r * cols + c] = (row[c] / Math.sqrt(meanSquare + 1e-6)) * weight[c];
    }
  }
  return { layer, rms };
}

describe('attention and norm paths in Chromium', () => {
  it('every path matches float64 references', async () => {
    const rand = rng(7);
    const [queries, keys, heads, headDim, rows, cols] = [21, 19, 2, 10, 9, 36];
    const q = randomArray(queries * heads * headDim, rand);
    const k = randomArray(keys * heads * headDim, rand);
    const v = randomArray(keys * heads * headDim, rand);
    const x = randomArray(rows * cols, rand, 3);
    const table = randomArray(2 * cols, rand, 0.5);
    const weight = randomArray(cols, rand, 1.5);
    const input: PathCheckInput = {
      q: Array.from(q), k: Array.from(k), v: Array.from(v), queries, keys, heads, headDim,
      x: Array.from(x), table: Array.from(table), weight: Array.from(weight), rows, cols,
    };
    await page.waitForFunction(() => 'runPathCheck' in window);
    const gpu = await page.evaluate(
      (args) => (window as unknown as { runPathCheck(a: PathCheckInput): Promise<PathCheckOutput> }).runPathCheck(args),
      input,
    );
    expect(gpu.adapter).toMatch(/\S/);
    const attentionRef = attentionReference(q, k, v, queries, keys, heads, headDim);
    const { layer, rms } = normReferences(x, table, weight, rows, cols);
    const expected = gpu.subgroups ? ['tiled', 'direct', 'direct-subgroups'] : ['tiled', 'direct'];
    expect(Object.keys(gpu.attention)).toEqual(expected);
    for (const [path, out] of Object.entries(gpu.attention)) expect(relativeError(out, attentionRef), `attention ${path}`).toBeLessThan(1e-5);
    for (const path of ['tree', 'rows'] as const) {
      expect(relativeError(gpu.layerNorm[path]!, layer), `layerNorm ${path}`).toBeLessThan(1e-5);
      expect(relativeError(gpu.rmsNorm[path]!, rms), `rmsNorm ${path}`).toBeLessThan(1e-5);
    }
    expect(log.errors).toEqual([]);
  }, 180_000);
});
