// The Wan2.1 path end to end through the command line: a latent-space model folder (the golden head128
// transformer: 16 channels, head size 128), precomputed prompt embeddings, and the TAEHV decoder.
import { describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.ts';
import { encodeSafetensors, openSafetensors, readTensor } from '../../src/weights/safetensors.ts';
import { arrayBufferSource } from '../../src/weights/source.ts';
import { randomArray, rng } from '../helpers/reference.ts';

const GOLDEN = join(__dirname, '../golden');

function wanFolder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'webdit-wan-'));
  mkdirSync(join(dir, 'transformer'));
  for (const f of ['config.json', 'diffusion_pytorch_model.safetensors']) copyFileSync(join(GOLDEN, 'wan/head128', f), join(dir, 'transformer', f));
  mkdirSync(join(dir, 'scheduler'));
  writeFileSync(
    join(dir, 'scheduler/scheduler_config.json'),
    JSON.stringify({ _class_name: 'UniPCMultistepScheduler', prediction_type: 'flow_prediction', use_flow_sigmas: true, flow_shift: 3, solver_order: 2 }),
  );
  const rand = rng(5);
  const embeds = (rows: number) => encodeSafetensors({ prompt_embeds: { dtype: 'F32', shape: [1, rows, 64], data: randomArray(rows * 64, rand) } });
  writeFileSync(join(dir, 'prompt.safetensors'), embeds(7));
  writeFileSync(join(dir, 'negative.safetensors'), embeds(3));
  writeFileSync(join(dir, 'wide.safetensors'), encodeSafetensors({ prompt_embeds: { dtype: 'F32', shape: [1, 2, 65], data: randomArray(130, rand) } }));
  return dir;
}

describe('Wan2.1 generation from the command line', () => {
  const dir = wanFolder();
  const common = ['--model', dir, '--decoder', join(GOLDEN, 'taehv/decoder/taew2_1.safetensors'), '--embeds', join(dir, 'prompt.safetensors'),
    '--negative-embeds', join(dir, 'negative.safetensors'), '--frames', '5', '--height', '16', '--width', '16', '--steps', '3', '--guidance', '5', '--quiet'];

  it('writes frames [4T−3, 3, 8h, 8w] through TAEHV', async () => {
    const out = join(dir, 'a.safetensors');
    expect(await main(['generate', ...common, '--seed', '4', '--cache', 'bwcache', '--out', out])).toBe(0);
    const file = await openSafetensors(arrayBufferSource(readFileSync(out)));
    expect(file.tensors.get('frames')!.shape).toEqual([5, 3, 16, 16]);
    const frames = await readTensor(file, 'frames');
    expect(frames.every((v) => v >= 0 && v <= 1)).toBe(true);
    expect(new Set(frames).size).toBeGreaterThan(100); // a picture, not a constant
  });

  it('writes frames [4T−3, 3, 8h, 8w] through the Wan VAE (--vae), and refuses --vae with --decoder', async () => {
    const vae = join(GOLDEN, 'vae/tiny_tall/wan_2.1_vae.safetensors');
    const withVae = common.flatMap((a, i) => (a === '--decoder' ? ['--vae'] : common[i - 1] === '--decoder' ? [vae] : [a]));
    const out = join(dir, 'vae.safetensors');
    expect(await main(['generate', ...withVae, '--seed', '4', '--out', out])).toBe(0);
    const file = await openSafetensors(arrayBufferSource(readFileSync(out)));
    expect(file.tensors.get('frames')!.shape).toEqual([5, 3, 16, 16]);
    const frames = await readTensor(file, 'frames');
    expect(frames.every((v) => v >= 0 && v <= 1)).toBe(true);
    expect(new Set(frames).size).toBeGreaterThan(100);
    const errors: string[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => errors.push(args.join(' '));
    try {
      expect(await main(['generate', ...common, '--vae', vae, '--out', join(dir, 'x.safetensors')])).toBe(2); // a usage error
    } finally {
      console.error = original;
    }
    expect(errors.join('\n')).toMatch(/--decoder \(TAEHV\) or --vae \(the Wan VAE\), not both/);
  });

  it('refuses embeddings of the wrong width, a frame count that is not 4k+1, and no decoder', async () => {
    const errors: string[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => errors.push(args.join(' '));
    try {
      const wide = common.map((a) => (a === join(dir, 'prompt.safetensors') ? join(dir, 'wide.safetensors') : a));
      expect(await main(['generate', ...wide, '--out', join(dir, 'x.safetensors')])).toBe(1);
      expect(await main(['generate', ...common.map((a) => (a === '5' ? '6' : a)), '--out', join(dir, 'x.safetensors')])).toBe(1);
      const noDecoder = common.filter((a, i) => a !== '--decoder' && common[i - 1] !== '--decoder');
      expect(await main(['generate', ...noDecoder, '--out', join(dir, 'x.safetensors')])).toBe(1);
    } finally {
      console.error = original;
    }
    expect(errors.join('\n')).toMatch(/width 65, the model's text_dim is 64/);
    expect(errors.join('\n')).toMatch(/frames must be 4k\+1/);
    expect(errors.join('\n')).toMatch(/needs a decoder/);
  });
});
