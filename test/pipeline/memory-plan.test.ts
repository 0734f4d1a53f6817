// The per-stage memory plan of a Wan2.1 generation (no GPU): the released 1.3B folder's figures, the
// refusal that names the largest preset that fits, and the configs read from a folder's headers.
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { directoryFolder } from '../../src/weights/node-folder.ts';
import { PRESETS, WAN21_FOLDER_CONFIGS, largestFittingPreset, planGeneration, readWanFolderConfigs, refuseIfTooLarge } from '../../src/pipeline/memory-plan.ts';

const GIB = 2 ** 30;
const wan13b = WAN21_FOLDER_CONFIGS['1.3b'];

describe('memory plan per stage', () => {
  it('counts the resident weights in every stage and each stage its own work', () => {
    const plan = planGeneration(wan13b, { frames: 33, height: 272, width: 480 });
    const { encode, sample, decode } = plan.stages;
    // 1.3 B parameters, matrices at 2 bytes: about 2.6 GB resident through all three stages.
    expect(sample.parts.transformerWeights / 1e9).toBeGreaterThan(2.6);
    expect(sample.parts.transformerWeights / 1e9).toBeLessThan(3.1);
    expect(encode.parts.transformerWeights).toBe(sample.parts.transformerWeights);
    expect(decode.parts.transformerWeights).toBe(sample.parts.transformerWeights);
    // umT5 is streamed: far less than its 11 GB of weights.
    expect(encode.parts.textEncoderStreamed).toBeLessThan(1e9);
    expect(plan.peakGpuBytes).toBe(Math.max(encode.gpuBytes, sample.gpuBytes, decode.gpuBytes));
    // A cache adds to sampling only.
    const cached = planGeneration(wan13b, { frames: 33, height: 272, width: 480 }, { cache: 'blocks' });
    expect(cached.stages.sample.gpuBytes).toBeGreaterThan(sample.gpuBytes);
    expect(cached.stages.decode.gpuBytes).toBe(decode.gpuBytes);
    // Bigger videos need more at every stage but the encoder's.
    const big = planGeneration(wan13b, { frames: 81, height: 480, width: 832 });
    expect(big.stages.sample.gpuBytes).toBeGreaterThan(sample.gpuBytes);
    expect(big.stages.decode.gpuBytes).toBeGreaterThan(decode.gpuBytes);
    expect(big.stages.encode.gpuBytes).toBe(encode.gpuBytes);
  });

  it('refuses a size that does not fit, naming the largest preset that does', () => {
    const budget = 8 * GIB;
    const fitting = largestFittingPreset(wan13b, budget)!;
    expect(fitting).toBeDefined();
    expect(planGeneration(wan13b, fitting).peakGpuBytes).toBeLessThanOrEqual(budget);
    const bigger = PRESETS[PRESETS.indexOf(fitting) - 1];
    expect(planGeneration(wan13b, bigger).peakGpuBytes).toBeGreaterThan(budget);
    const plan = planGeneration(wan13b, { frames: 81, height: 480, width: 832 });
    expect(() => refuseIfTooLarge(wan13b, plan, budget)).toThrow(
      new RegExp(`832×480×81 needs \\d+ MiB of GPU memory at its largest stage \\(\\w+\\), more than the 8192 MiB available: the largest preset that fits is ${fitting.name} \\(${fitting.width}×${fitting.height}×${fitting.frames}\\)`),
    );
    expect(() => refuseIfTooLarge(wan13b, plan, 1 * GIB)).toThrow(/no preset fits/);
    expect(() => refuseIfTooLarge(wan13b, plan, 64 * GIB)).not.toThrow();
    expect(() => planGeneration(wan13b, { frames: 80, height: 480, width: 832 })).toThrow(/frames must be 4k\+1/);
  });

  it('reads the parts and their stored weight types from a folder', async () => {
    const configs = await readWanFolderConfigs(directoryFolder(join(__dirname, '../golden/wan_pipeline/model')));
    expect(configs.transformer.textDim).toBe(configs.textEncoder.dModel);
    expect(configs.vae.zDim).toBe(16);
    expect([configs.transformerDType, configs.textEncoderDType, configs.vaeDType]).toEqual(['f32', 'f32', 'f32']);
  });

  it('webdit plan --model prints the stages and the presets, and --memory-gib refuses what does not fit', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    const err = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      expect(await main(['plan', '--model', '1.3b', '--frames', '33', '--height', '272', '--width', '480', '--memory-gib', '16'])).toBe(0);
      const out = JSON.parse(log.mock.calls[0][0] as string);
      expect(Object.keys(out.plan.stages)).toEqual(['encode', 'sample', 'decode']);
      expect(out.presets.map((p: { name: string }) => p.name)).toEqual(PRESETS.map((p) => p.name));
      expect(out.presets.every((p: { fits16GB: boolean }) => p.fits16GB)).toBe(true);
      expect(await main(['plan', '--model', '1.3b', '--frames', '81', '--height', '480', '--width', '832', '--memory-gib', '4'])).not.toBe(0);
      expect(err).toHaveBeenCalledWith(expect.stringMatching(/832×480×81 needs .* the largest preset that fits is/));
    } finally {
      vi.restoreAllMocks();
    }
  });
});
