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
import { encodeSafetensors } from '../../src/weights/safetensors.ts';
import { loadWanVaeFile, refusePickle } from '../../src/decoder/wan-vae-load.ts';
import { WAN21_VAE_CONFIG, decoderTensorShapes, diffusersKey } from '../../src/decoder/wan-vae-config.ts';
import { testContext } from '../helpers/gpu.ts';

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

  it('reads a single file under diffusers names like the original one, and refuses incomplete or foreign files by name', async () => {
    const ctx = await testContext();
    const live = ctx.liveTensors;
    const a = await loadWanVaeFile(ctx, await fileSource(join(GOLDEN, 'tiny', 'wan_2.1_vae.safetensors')));
    const b = await loadWanVaeFile(ctx, await fileSource(join(GOLDEN, 'tiny', 'vae', 'diffusion_pytorch_model.safetensors')));
    expect(b.config).toEqual(a.config);
    a.dispose();
    b.dispose();
    expect(ctx.liveTensors).toBe(live);
    // Wan2.1's shapes under both names: one tensor of the right names but a wrong shape, or one missing.
    const shapes = decoderTensorShapes(WAN21_VAE_CONFIG);
    const tiny = (shape: number[]) => ({ dtype: 'F32' as const, shape, data: new Float32Array(shape.reduce((x, y) => x * y, 1)) });
    const head = { 'decoder.head.2.weight': tiny([3, 96, 3, 3, 3]), 'conv2.weight': tiny([16, 16, 1, 1, 1]) };
    await expect(loadWanVaeFile(ctx, arrayBufferSource(encodeSafetensors(head), 'partial.safetensors'))).rejects.toThrow(/partial.safetensors: no tensor "conv2.bias"/);
    const wrong = { 'decoder.conv_out.weight': tiny([3, 96, 3, 3, 3]), 'post_quant_conv.weight': tiny([16, 16, 1, 1, 1]), 'post_quant_conv.bias': tiny([15]) };
    await expect(loadWanVaeFile(ctx, arrayBufferSource(encodeSafetensors(wrong), 'wrong.safetensors'))).rejects.toThrow(
      /wrong.safetensors: "post_quant_conv.bias" must have shape \[16\] for base width 96, got \[15\]/,
    );
    await expect(loadWanVaeFile(ctx, arrayBufferSource(encodeSafetensors({ x: tiny([2]) }), 'other.safetensors'))).rejects.toThrow(/other.safetensors is not a Wan VAE checkpoint/);
    expect(ctx.liveTensors).toBe(live);
    // The diffusers names of Wan2.1's decoder are those of scripts/convert_wan_to_diffusers.py.
    const names = [...shapes.keys()].map((k) => diffusersKey(k, WAN21_VAE_CONFIG));
    expect(new Set(names).size).toBe(shapes.size);
    expect(names).toContain('decoder.up_blocks.1.resnets.0.conv_shortcut.weight');
    expect(names).toContain('decoder.up_blocks.0.upsamplers.0.time_conv.weight');
    expect(names).toContain('decoder.up_blocks.2.upsamplers.0.resample.1.weight');
    expect(names).toContain('decoder.mid_block.attentions.0.to_qkv.weight');
    expect(names).toContain('decoder.mid_block.resnets.1.norm2.gamma');
    expect(names).toContain('decoder.norm_out.gamma');
    expect(names).not.toContain('decoder.up_blocks.3.upsamplers.0.resample.1.weight');
  }, 60_000);
});
