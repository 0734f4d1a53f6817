// The Wan VAE decoder's memory plan and `webdit plan --vae` (pure arithmetic: no GPU).
import { describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { WAN21_VAE_CONFIG, decoderStructure, decoderTensorShapes } from '../../src/decoder/wan-vae-config.ts';
import { planWanVaeDecode } from '../../src/decoder/wan-vae-plan.ts';

const MIB = 2 ** 20;

describe('Wan VAE plan', () => {
  it("Wan2.1's decoder: 32 three-frame causal convs carried, 73,295,603 parameters (upstream WanVAE_(dim=96) counts the same for decoder.* and conv2.*), 81 frames of 832×480 from 21 latent frames", () => {
    const s = decoderStructure(WAN21_VAE_CONFIG);
    expect([s.middleDim, s.outDim, s.temporalScale, s.spatialScale]).toEqual([384, 96, 4, 8]);
    expect(s.upLayers.map((l) => (l.kind === 'residual' ? `${l.inDim}→${l.outDim}` : l.mode)).join(' ')).toBe(
      '384→384 384→384 384→384 upsample3d 192→384 384→384 384→384 upsample3d 192→192 192→192 192→192 upsample2d 96→96 96→96 96→96',
    );
    let params = 0;
    for (const shape of decoderTensorShapes(WAN21_VAE_CONFIG).values()) params += shape.reduce((a, b) => a * b, 1);
    expect(params).toBe(73_295_603);
    const p = planWanVaeDecode(WAN21_VAE_CONFIG, 21, 60, 104, 2048 * MIB);
    expect([p.frames, p.height, p.width, p.pieces.bands.length]).toEqual([81, 480, 832, 1]);
    expect(p.peakBytes).toBe(p.weightBytes + p.carriedBytes + p.framesBytes + p.chunkBytes);
    expect(p.framesBytes).toBe(81 * 3 * 480 * 832 * 4);
    const half = planWanVaeDecode(WAN21_VAE_CONFIG, 21, 60, 104, 2048 * MIB, 4, 2);
    expect(half.carriedBytes).toBe(p.carriedBytes / 2);
    const pieces = planWanVaeDecode(WAN21_VAE_CONFIG, 21, 60, 104, 128 * MIB);
    expect([pieces.pieces.bands.length, pieces.pieces.strips.length]).toEqual([2, 3]);
    expect(pieces.pieces.largestTensorBytes).toBeLessThanOrEqual(128 * MIB);
    expect(pieces.carriedBytes).toBeGreaterThan(p.carriedBytes); // the halos are carried too
  });

  it('`webdit plan --vae` prints the plan, and refuses sizes the VAE cannot make', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    const err = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      expect(await main(['plan', '--vae', '--frames', '81', '--height', '480', '--width', '832'])).toBe(0);
      const out = JSON.parse(String(log.mock.calls[0][0])) as { frames: number[]; latents: number[]; mib: { peak: number; weights: number }; spatialPieces: number };
      expect(out.frames).toEqual([81, 3, 480, 832]);
      expect(out.latents).toEqual([21, 16, 60, 104]);
      expect(out.spatialPieces).toBe(1);
      expect(out.mib.weights).toBeCloseTo((73_295_603 * 4) / MIB, 1);
      expect(await main(['plan', '--vae', '--frames', '80', '--height', '480', '--width', '832'])).toBe(2);
      // WebGPU's default 128 MiB: 2 × 3 tiles; 32 MiB is under one latent pixel with its halos.
      expect(await main(['plan', '--vae', '--frames', '81', '--height', '480', '--width', '832', '--binding-limit-mib', '128'])).toBe(0);
      const tiled = JSON.parse(String(log.mock.calls[1][0])) as { spatialPieces: number; tileGrid: string; largestTensorMib: number };
      expect([tiled.spatialPieces, tiled.tileGrid]).toEqual([6, '2×3']);
      expect(tiled.largestTensorMib).toBeLessThanOrEqual(128);
      expect(await main(['plan', '--vae', '--frames', '81', '--height', '480', '--width', '832', '--binding-limit-mib', '32'])).toBe(1);
      expect(err.mock.calls.flat().join('\n')).toMatch(/1 \+ 4·k frames[\s\S]*more than this GPU's binding limit of 32.0 MiB/);
    } finally {
      log.mockRestore();
      err.mockRestore();
    }
  });
});
