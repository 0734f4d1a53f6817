// The time estimate: its scaling (a fixed cost plus linear parts by tokens and attention by tokens², ×
// blocks × steps × CFG branches; decode by pixels; umT5 by its flops), the fit, and the measurement on
// the tiny Wan2.1 folder.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { testContext } from '../helpers/gpu.ts';
import { directoryFolder } from '../../src/weights/node-folder.ts';
import { loadBundle } from '../../src/pipeline/bundle.ts';
import { blockFlops, estimateTime, fitCost, measureAdapter, umt5Flops, videoTokens, type Measurement } from '../../src/pipeline/estimate.ts';
import { parseWanConfig, WAN21_T2V_CONFIGS } from '../../src/model/config.ts';
import { WAN21_FOLDER_CONFIGS } from '../../src/pipeline/memory-plan.ts';

const WAN13 = parseWanConfig(WAN21_T2V_CONFIGS['1.3b']);
const UMT5 = WAN21_FOLDER_CONFIGS['1.3b'].textEncoder;
const flopsAt = (cfg: { dim: number; ffnDim: number }, tokens: number) => {
  const f = blockFlops(cfg, tokens, 32);
  return f.linear + f.attention;
};

/** A measurement on an adapter with `fixed` seconds per block and per decode, and the given rates. */
function measurement(cfg: { dim: number; ffnDim: number }, fixed: number, perFlop: number, perPixel: number): Measurement {
  return {
    block: [64, 256].map((tokens) => ({ tokens, work: flopsAt(cfg, tokens), seconds: fixed + perFlop * flopsAt(cfg, tokens) })),
    textTokens: 32,
    decode: [1280, 5120].map((pixels) => ({ work: pixels, seconds: fixed + perPixel * pixels })),
  };
}

const base = { tokens: 64, textTokens: 32, steps: 1, branches: 1, pixels: 1280 };

describe('blockFlops', () => {
  it('counts projections and the FFN per token, attention per token pair', () => {
    const cfg = { dim: 10, ffnDim: 30 };
    expect(blockFlops(cfg, 1, 0)).toEqual({ linear: 2 * (6 * 100 + 2 * 300), attention: 4 * 10 });
    const one = blockFlops(cfg, 100, 7);
    const two = blockFlops(cfg, 200, 7);
    expect(two.linear).toBe(2 * one.linear);
    // Self-attention quadruples, cross-attention (to the same text rows) doubles.
    expect(two.attention).toBe(4 * (4 * 100 * 100 * 10) + 2 * (4 * 100 * 7 * 10));
  });

  it('at 480p×81 attention dominates the 1.3B block (32,760 tokens)', () => {
    const tokens = videoTokens(WAN13, { temporalScale: 4, spatialScale: 8 }, { frames: 81, height: 480, width: 832 });
    expect(tokens).toBe(32_760);
    const f = blockFlops(WAN13, tokens, 512);
    expect(f.attention / f.linear).toBeGreaterThan(2);
  });
});

describe('fitCost', () => {
  it('finds the fixed cost and the cost per unit through the timings', () => {
    const fit = fitCost([{ work: 100, seconds: 0.5 + 100 * 0.01 }, { work: 400, seconds: 0.5 + 400 * 0.01 }]);
    expect(fit.fixed).toBeCloseTo(0.5, 12);
    expect(fit.perUnit).toBeCloseTo(0.01, 12);
  });

  it('scales the largest timing when noise makes the fit meaningless (no faster large run, no negative fixed cost)', () => {
    expect(fitCost([{ work: 100, seconds: 2 }, { work: 400, seconds: 1 }])).toEqual({ fixed: 0, perUnit: 1 / 400 });
    expect(fitCost([{ work: 100, seconds: 0.1 }, { work: 400, seconds: 1 }])).toEqual({ fixed: 0, perUnit: 1 / 400 });
    expect(fitCost([{ work: 50, seconds: 1 }])).toEqual({ fixed: 0, perUnit: 1 / 50 });
  });

  it('refuses timings that are not positive', () => {
    expect(() => fitCost([])).toThrow(/nothing was measured/);
    expect(() => fitCost([{ work: 10, seconds: 0 }])).toThrow(/positive work and seconds, got \{"work":10,"seconds":0\}/);
    expect(() => fitCost([{ work: NaN, seconds: 1 }])).toThrow(/positive work and seconds/);
  });
});

describe('estimateTime', () => {
  it('gives back the measured block and decode at the measured sizes, times blocks × steps × branches', () => {
    const m = measurement(WAN13, 0.002, 1e-12, 1e-6);
    const one = estimateTime({ ...WAN13, numLayers: 1 }, m, base);
    expect(one.sampleSeconds).toBeCloseTo(m.block[0].seconds, 12);
    expect(one.decodeSeconds).toBeCloseTo(m.decode[0].seconds, 12);
    expect(one.encodeSeconds).toBe(0);
    expect(estimateTime({ ...WAN13, numLayers: 1 }, m, { ...base, tokens: 256, pixels: 5120 }).sampleSeconds).toBeCloseTo(m.block[1].seconds, 12);
    const many = estimateTime(WAN13, m, { ...base, steps: 50, branches: 2 });
    expect(many.sampleSeconds).toBeCloseTo(m.block[0].seconds * 30 * 50 * 2, 9);
    expect(many.totalSeconds).toBeCloseTo(many.sampleSeconds + many.decodeSeconds, 9);
  });

  it('scales linear parts by tokens and attention by tokens², the fixed cost once per block', () => {
    const cfg = { dim: 64, ffnDim: 256, numLayers: 2 };
    const m = measurement(cfg, 0.001, 1e-9, 1e-6);
    const big = blockFlops(cfg, 6400, 32);
    const e = estimateTime(cfg, m, { ...base, tokens: 6400 });
    expect(e.sampleSeconds).toBeCloseTo((0.001 + (big.linear + big.attention) * 1e-9) * 2, 9);
    // Without the fixed cost, 100× the tokens costs more than 100× (attention grows by 10,000×) and less than 10,000×.
    const free = measurement(cfg, 0, 1e-9, 1e-6);
    const ratio = estimateTime(cfg, free, { ...base, tokens: 6400 }).sampleSeconds / estimateTime(cfg, free, base).sampleSeconds;
    expect(ratio).toBeGreaterThan(100);
    expect(ratio).toBeLessThan(10_000);
  });

  it('scales decoding by output pixels and counts umT5 by its flops at the block throughput', () => {
    const m = measurement(WAN13, 0.01, 2e-12, 1e-6);
    const e = estimateTime(WAN13, m, { ...base, pixels: 81 * 480 * 832, textEncoder: { config: UMT5, tokens: 40 } });
    expect(e.decodeSeconds).toBeCloseTo(0.01 + 1e-6 * 81 * 480 * 832, 6);
    expect(e.encodeSeconds).toBeCloseTo(umt5Flops(UMT5, 40) * 2e-12, 9);
    expect(umt5Flops(UMT5, 80)).toBeGreaterThan(2 * umt5Flops(UMT5, 40));
  });

  it('refuses requests that are not positive', () => {
    const m = measurement(WAN13, 0.01, 1e-12, 1e-6);
    expect(() => estimateTime(WAN13, m, { ...base, steps: -1 })).toThrow(/steps must be a positive number, got -1/);
    expect(() => estimateTime(WAN13, m, { ...base, pixels: NaN })).toThrow(/pixels must be a positive number, got NaN/);
  });
});

describe('measureAdapter', () => {
  it('times blocks and decodes of the tiny Wan2.1 folder, releasing what it made but the RoPE tables', async () => {
    const ctx = await testContext();
    const bundle = await loadBundle(ctx, directoryFolder(join(__dirname, '../golden/wan_pipeline/model')));
    try {
      await ctx.sync();
      const live = ctx.liveBytes;
      const m = await measureAdapter(ctx, bundle.model, bundle.decoder, { latentSide: 4, textTokens: 8, decodeSide: 2, minMs: 0 });
      expect(m.block.map((b) => b.tokens)).toEqual([4, 16]); // 4×4 and 8×8 latents in 2×2 patches
      expect(m.textTokens).toBe(8);
      expect(m.decode.map((d) => d.work)).toEqual([5 * 16 * 16, 5 * 32 * 32]); // two latent frames → 5 frames, 8× the side
      for (const t of [...m.block, ...m.decode]) expect(t.seconds).toBeGreaterThan(0);
      // Only the model's RoPE tables for the measured grids stay (cached across runs, a few hundred bytes):
      // measuring again leaves nothing more.
      const kept = ctx.liveBytes - live;
      expect(kept).toBeGreaterThan(0);
      expect(kept).toBeLessThan(4096);
      await measureAdapter(ctx, bundle.model, bundle.decoder, { latentSide: 4, textTokens: 8, decodeSide: 2, minMs: 0 });
      expect(ctx.liveBytes - live).toBe(kept);
      const e = estimateTime(bundle.model.config, m, { tokens: 6 * 3 * 4, textTokens: 512, steps: 4, branches: 2, pixels: 9 * 32 * 48 });
      expect(Number.isFinite(e.totalSeconds) && e.totalSeconds > 0).toBe(true);
    } finally {
      bundle.dispose();
    }
  }, 60_000);
});
