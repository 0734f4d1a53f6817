// The time estimate: its scaling (linear parts by tokens, attention by tokens², × blocks × steps × CFG
// branches, decode by pixels, umT5 by its own flops), and the measurement on the tiny Wan2.1 folder.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { testContext } from '../helpers/gpu.ts';
import { directoryFolder } from '../../src/weights/node-folder.ts';
import { loadBundle } from '../../src/pipeline/bundle.ts';
import { blockFlops, estimateTime, measureAdapter, umt5Flops, videoTokens, type Measurement } from '../../src/pipeline/estimate.ts';
import { parseWanConfig, WAN21_T2V_CONFIGS } from '../../src/model/config.ts';
import { WAN21_FOLDER_CONFIGS } from '../../src/pipeline/memory-plan.ts';

const WAN13 = parseWanConfig(WAN21_T2V_CONFIGS['1.3b']);
const measured: Measurement = { blockSeconds: 0.01, blockTokens: 64, textTokens: 32, decodeSeconds: 0.5, decodePixels: 1024 };
const base = { tokens: 64, textTokens: 32, steps: 1, branches: 1, pixels: 1024 };

describe('blockFlops', () => {
  it('counts projections and the FFN per token, attention per token pair', () => {
    const cfg = { dim: 10, ffnDim: 30 };
    expect(blockFlops(cfg, 1, 0)).toEqual({ linear: 2 * (6 * 100 + 2 * 300), attention: 4 * 10 });
    const one = blockFlops(cfg, 100, 7);
    const two = blockFlops(cfg, 200, 7);
    expect(two.linear).toBe(2 * one.linear);
    // Self-attention quadruples, cross-attention (to the same text rows) doubles.
    expect(two.attention).toBe(4 * 4 * 100 * 100 * 10 * 4 / 4 + 2 * 4 * 100 * 7 * 10);
  });

  it('at 480p×81 attention dominates the 1.3B block (32,760 tokens)', () => {
    const tokens = videoTokens(WAN13, { temporalScale: 4, spatialScale: 8 }, { frames: 81, height: 480, width: 832 });
    expect(tokens).toBe(32_760);
    const f = blockFlops(WAN13, tokens, 512);
    expect(f.attention / f.linear).toBeGreaterThan(2);
  });
});

describe('estimateTime', () => {
  it('gives back the measured block at the measured size, times blocks × steps × branches', () => {
    const e = estimateTime({ ...WAN13, numLayers: 1 }, measured, base);
    expect(e.sampleSeconds).toBeCloseTo(0.01, 12);
    expect(e.decodeSeconds).toBeCloseTo(0.5, 12);
    expect(e.encodeSeconds).toBe(0);
    const many = estimateTime(WAN13, measured, { ...base, steps: 50, branches: 2 });
    expect(many.sampleSeconds).toBeCloseTo(0.01 * 30 * 50 * 2, 9);
    expect(many.totalSeconds).toBeCloseTo(many.sampleSeconds + many.decodeSeconds, 9);
  });

  it('scales linear parts by tokens and attention by tokens² with the measured throughput', () => {
    const cfg = { dim: 64, ffnDim: 256, numLayers: 2 };
    const at = blockFlops(cfg, 64, 32);
    const perFlop = measured.blockSeconds / (at.linear + at.attention);
    const big = blockFlops(cfg, 6400, 32);
    const e = estimateTime(cfg, measured, { ...base, tokens: 6400 });
    expect(e.sampleSeconds).toBeCloseTo((big.linear + big.attention) * perFlop * 2, 9);
    // 100× the tokens costs more than 100× (attention grows by 10,000×) and less than 10,000×.
    const ratio = e.sampleSeconds / estimateTime(cfg, measured, base).sampleSeconds;
    expect(ratio).toBeGreaterThan(100);
    expect(ratio).toBeLessThan(10_000);
  });

  it('scales decoding by output pixels and counts umT5 by its flops', () => {
    const e = estimateTime(WAN13, measured, { ...base, pixels: 81 * 480 * 832, textEncoder: { config: WAN21_FOLDER_CONFIGS['1.3b'].textEncoder, tokens: 40 } });
    expect(e.decodeSeconds).toBeCloseTo((0.5 * 81 * 480 * 832) / 1024, 6);
    const at = blockFlops(WAN13, 64, 32);
    expect(e.encodeSeconds).toBeCloseTo((umt5Flops(WAN21_FOLDER_CONFIGS['1.3b'].textEncoder, 40) * 0.01) / (at.linear + at.attention), 9);
    expect(umt5Flops(WAN21_FOLDER_CONFIGS['1.3b'].textEncoder, 80)).toBeGreaterThan(2 * umt5Flops(WAN21_FOLDER_CONFIGS['1.3b'].textEncoder, 40));
  });

  it('refuses measurements and requests that are not positive', () => {
    expect(() => estimateTime(WAN13, { ...measured, blockSeconds: 0 }, base)).toThrow(/blockSeconds must be a positive number, got 0/);
    expect(() => estimateTime(WAN13, { ...measured, decodeSeconds: NaN }, base)).toThrow(/decodeSeconds must be a positive number, got NaN/);
    expect(() => estimateTime(WAN13, measured, { ...base, steps: -1 })).toThrow(/steps must be a positive number/);
  });
});

describe('measureAdapter', () => {
  it('times one block and one small decode of the tiny Wan2.1 folder, releasing what it made but the RoPE tables', async () => {
    const ctx = await testContext();
    const bundle = await loadBundle(ctx, directoryFolder(join(__dirname, '../golden/wan_pipeline/model')));
    try {
      await ctx.sync();
      const live = ctx.liveBytes;
      const m = await measureAdapter(ctx, bundle.model, bundle.decoder, { latentSide: 8, textTokens: 8, decodeSide: 2, minMs: 0 });
      expect(m.blockTokens).toBe(16); // 8×8 latents in 2×2 patches
      // Only the model's RoPE tables for the measured grid stay (cached across runs): [16, headDim/2] cos and sin.
      expect(ctx.liveBytes - live).toBe(2 * 16 * (bundle.model.config.headDim / 2) * 4);
      expect(m.textTokens).toBe(8);
      expect(m.decodePixels).toBe(16 * 16); // one frame, 8× the latent side
      expect(m.blockSeconds).toBeGreaterThan(0);
      expect(m.decodeSeconds).toBeGreaterThan(0);
      const e = estimateTime(bundle.model.config, m, { tokens: 6 * 3 * 4, textTokens: 512, steps: 4, branches: 2, pixels: 9 * 32 * 48 });
      expect(Number.isFinite(e.totalSeconds) && e.totalSeconds > 0).toBe(true);
    } finally {
      bundle.dispose();
    }
  }, 60_000);
});
