// `webdit decode --vae` end to end on the Wan VAE golden, and what it refuses.
import { describe, expect, it, vi } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { relativeError } from '../helpers/reference.ts';
import { GOLDEN, vaeGolden } from '../helpers/wan-vae-golden.ts';
import { Options, parseArgs } from '../../src/cli/args.ts';
import decode from '../../src/cli/commands/decode.ts';
import { fileSource } from '../../src/weights/node-source.ts';
import { arrayBufferSource } from '../../src/weights/source.ts';
import { openSafetensors, readTensor } from '../../src/weights/safetensors.ts';
import { refusePickle } from '../../src/decoder/wan-vae-load.ts';

const run = (args: string[]) => decode.run(new Options(parseArgs(args), 'decode'));

describe('webdit decode --vae', () => {
  it('decodes the golden NCTHW latents file (diffusers folder) to the golden frames', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'webdit-vae-'));
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      const out = join(dir, 'frames.safetensors');
      await run(['--vae', join(GOLDEN, 'tiny_tall'), '--latents', join(GOLDEN, 'tiny_tall', 'io.safetensors'), '--out', out]);
      expect(log).toHaveBeenCalledWith(expect.stringMatching(/^decoded 13 frames of 24×40 in [\d.]+ s → /));
      const written = await openSafetensors(await fileSource(out));
      expect(written.tensors.get('frames')!.shape).toEqual([1, 13, 3, 40, 24]);
      expect(written.metadata.layout).toBe('NTCHW');
      const frames = await readTensor(written, 'frames');
      const g = await vaeGolden('tiny_tall');
      expect(relativeError(frames.map((v) => 2 * v - 1), g.frames.map((v) => 2 * v - 1))).toBeLessThan(1e-4);
    } finally {
      log.mockRestore();
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('refuses a PyTorch pickle (by content or by name) with the way to a safetensors file, and --decoder with --vae', async () => {
    const zip = arrayBufferSource(new Uint8Array([0x50, 0x4b, 3, 4, 0, 0]), 'Wan2.1_VAE.bin');
    await expect(refusePickle(zip)).rejects.toThrow(/Wan2\.1_VAE\.bin is a PyTorch pickle, which webdit never loads .*safetensors/);
    const raw = arrayBufferSource(new Uint8Array([0x80, 0x02, 0x7d]), 'weights');
    await expect(refusePickle(raw)).rejects.toThrow(/PyTorch pickle/);
    await expect(refusePickle(arrayBufferSource(new Uint8Array([8, 0, 0, 0]), 'x.pth'))).rejects.toThrow(/PyTorch pickle/);
    await expect(refusePickle(arrayBufferSource(new Uint8Array([8, 0, 0, 0]), 'x.safetensors'))).resolves.toBeUndefined();
    const dir = await mkdtemp(join(tmpdir(), 'webdit-vae-'));
    try {
      const pth = join(dir, 'Wan2.1_VAE.pth');
      await writeFile(pth, new Uint8Array([0x50, 0x4b, 3, 4]));
      const latents = join(GOLDEN, 'tiny', 'io.safetensors');
      await expect(run(['--vae', pth, '--latents', latents, '--out', join(dir, 'o.safetensors')])).rejects.toThrow(/PyTorch pickle/);
      await expect(run(['--vae', pth, '--decoder', pth, '--latents', latents, '--out', join(dir, 'o.safetensors')])).rejects.toThrow(/--decoder FILE \(TAEHV\) or --vae PATH/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
