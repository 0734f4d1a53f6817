// The umT5 memory plan against what the streamed encoder really holds, and its numbers for umT5-XXL.
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { Options, parseArgs } from '../../src/cli/args.ts';
import plan from '../../src/cli/commands/plan.ts';
import { parseUmt5Config } from '../../src/model/umt5/config.ts';
import { testContext } from '../helpers/gpu.ts';
import { directoryFolder } from '../../src/weights/node-folder.ts';
import { loadUmt5Encoder } from '../../src/model/umt5/load.ts';
import { planUmt5Memory } from '../../src/model/umt5/plan.ts';
import type { Umt5Config } from '../../src/model/umt5/config.ts';

const GOLDEN = join(__dirname, '../golden/t5');

describe('umT5 memory plan', () => {
  for (const [name, dtype] of [['odd', 'f32'], ['tiny_bf16', 'bf16']] as const) {
    it(`predicts the encoder's peak GPU bytes exactly (${name}, ${dtype} weights)`, async () => {
      const ctx = await testContext();
      const encoder = await loadUmt5Encoder(ctx, { folder: directoryFolder(join(GOLDEN, name, 'hf')) });
      const held = ctx.upload(new Float32Array(1000), [1000]); // someone else's tensor: not counted
      for (const lengths of [[40, 3], [1], [17, 29]]) {
        await encoder.encode(lengths.map((n) => Array.from({ length: n }, (_, i) => (i * 7) % 31)));
        const plan = planUmt5Memory(encoder.config, { lengths, weightDType: dtype });
        expect(encoder.lastStats!.peakGpuBytes, `lengths ${lengths}`).toBe(plan.bytes.gpuPeak);
      }
      held.release();
    });
  }

  it('keeps umT5-XXL under 600 MB of GPU memory at f16 for a 40-token prompt and its negative', () => {
    const xxl: Umt5Config = { dModel: 4096, dKv: 64, dFf: 10240, numLayers: 24, numHeads: 64, numBuckets: 32, maxDistance: 128, vocabSize: 256384, eps: 1e-6 };
    const plan = planUmt5Memory(xxl, { lengths: [40, 40], weightDType: 'f16' });
    expect(plan.bytes.ffnWeights).toBeGreaterThan(3 * 10240 * 4096 * 2); // the FFN half dominates
    expect(plan.bytes.gpuPeak).toBeLessThan(600e6);
    expect(plan.bytes.gpuPeak).toBeGreaterThan(plan.bytes.ffnWeights);
    expect(plan.bytes.allWeights).toBeGreaterThan(11e9); // ≈ 11.4 GB resident, for contrast
    expect(plan.bytes.hostPeak).toBeLessThan(1e9);
    expect(() => planUmt5Memory(xxl, { lengths: [] })).toThrow(/positive integers/);
  });

  it('is what `webdit plan --text-encoder-config` prints, alone or beside a transformer plan', async () => {
    const configPath = join(GOLDEN, 'odd', 'hf', 'config.json');
    const config = parseUmt5Config(JSON.parse(readFileSync(configPath, 'utf8')), configPath);
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      const run = (args: string[]) => plan.run(new Options(parseArgs(args), 'plan'));
      await run(['--text-encoder-config', configPath, '--prompt-tokens', '12', '--negative-tokens', '5', '--text-encoder-dtype', 'bf16']);
      const printed = JSON.parse(log.mock.calls[0][0] as string);
      expect(printed.textEncoder.bytes).toEqual(planUmt5Memory(config, { lengths: [12, 5], weightDType: 'bf16' }).bytes);
      await run(['--config', join(GOLDEN, '../wan/tiny/config.json'), '--frames', '1', '--height', '16', '--width', '16', '--text-encoder-config', configPath]);
      const both = JSON.parse(log.mock.calls[1][0] as string);
      expect(both.textEncoder.tokens).toBe(40);
      expect(both.bytes.weights).toBeGreaterThan(0);
      await expect(run(['--text-encoder-config', configPath, '--text-encoder-dtype', 'f8'])).rejects.toThrow(/must be f16, bf16 or f32/);
    } finally {
      log.mockRestore();
    }
  });
});
