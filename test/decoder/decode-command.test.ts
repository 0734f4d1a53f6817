// `webdit decode` end to end on the TAEHV golden, and its latents-file handling.
import { describe, expect, it, vi } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testContext } from '../helpers/gpu.ts';
import { randomArray, relativeError, rng, runSeed } from '../helpers/reference.ts';
import { Options, parseArgs } from '../../src/cli/args.ts';
import { main } from '../../src/cli/main.ts';
import decode, { decodeLatentsFile } from '../../src/cli/commands/decode.ts';
import { IdentityDecoder } from '../../src/decoder/identity.ts';
import { fileSource } from '../../src/weights/node-source.ts';
import { arrayBufferSource } from '../../src/weights/source.ts';
import { encodeSafetensors, openSafetensors, readTensor } from '../../src/weights/safetensors.ts';

const GOLDEN = join(__dirname, '../golden/taehv/decoder');
const run = (args: string[]) => decode.run(new Options(parseArgs(args), 'decode'));

describe('webdit decode', () => {
  it('decodes the golden latents file to the golden frames', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'webdit-decode-'));
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      const out = join(dir, 'frames.safetensors');
      await run(['--decoder', join(GOLDEN, 'taew2_1.safetensors'), '--latents', join(GOLDEN, 'io.safetensors'), '--out', out]);
      expect(log).toHaveBeenCalledWith(expect.stringMatching(/^decoded 9 frames of 48×32 in [\d.]+ s → /));
      const written = await openSafetensors(await fileSource(out));
      const golden = await openSafetensors(await fileSource(join(GOLDEN, 'io.safetensors')));
      expect(written.tensors.get('frames')!.dtype).toBe('F32');
      expect(written.tensors.get('frames')!.shape).toEqual(golden.tensors.get('frames')!.shape);
      expect(written.metadata.layout).toBe('NTCHW');
      const frames = await readTensor(written, 'frames');
      expect(frames.some(Number.isNaN)).toBe(false);
      expect(relativeError(frames, await readTensor(golden, 'frames'))).toBeLessThan(1e-3);
    } finally {
      log.mockRestore();
      await rm(dir, { recursive: true, force: true });
    }
  }, 300_000);

  it('reads NCTHW latents (by option or by the file metadata) as well as NTCHW ones', async () => {
    const ctx = await testContext();
    // The identity decoder shows the layout handling exactly: frames = (latents + 1)/2 in NTCHW order.
    const decoder = new IdentityDecoder();
    const [T, C, h, w] = [3, 3, 2, 5];
    const ntchw = randomArray(T * C * h * w, rng(runSeed));
    const ncthw = new Float32Array(ntchw.length);
    for (let t = 0; t < T; t++) for (let c = 0; c < C; c++) for (let i = 0; i < h * w; i++) ncthw[(c * T + t) * h * w + i] = ntchw[(t * C + c) * h * w + i];
    const expected = Array.from(ntchw, (v) => Math.fround((v + 1) / 2));
    const file = async (data: Float32Array, shape: number[], metadata?: Record<string, string>) =>
      openSafetensors(arrayBufferSource(encodeSafetensors({ latents: { dtype: 'F32', shape, data } }, metadata)));
    const before = ctx.liveTensors;

    const plain = await decodeLatentsFile(ctx, decoder, await file(ntchw, [1, T, C, h, w]));
    expect(plain.shape).toEqual([1, T, C, h, w]);
    expect(Array.from(plain.data)).toEqual(expected);
    const byMetadata = await decodeLatentsFile(ctx, decoder, await file(ncthw, [1, C, T, h, w], { layout: 'NCTHW' }));
    expect(Array.from(byMetadata.data)).toEqual(expected);
    const byOption = await decodeLatentsFile(ctx, decoder, await file(ncthw, [1, C, T, h, w]), { layout: 'NCTHW' });
    expect(Array.from(byOption.data)).toEqual(expected);

    await expect(decodeLatentsFile(ctx, decoder, await file(ntchw, [1, T, C, h, w]), { name: 'z' })).rejects.toThrow(/no tensor "z" \(it has "latents"\)/);
    await expect(decodeLatentsFile(ctx, decoder, await file(ntchw, [T, C, h, w]))).rejects.toThrow(/must be \[1, T, C, H, W\] \(batch 1\), got \[3, 3, 2, 5\]/);
    await expect(decodeLatentsFile(ctx, decoder, await file(ntchw, [1, T * h, C, 1, w]), { layout: 'NCTHW' })).rejects.toThrow(
      /has 6 channels in layout NCTHW; the decoder takes 3/,
    );
    decoder.dispose();
    expect(ctx.liveTensors).toBe(before);
  });

  it('is registered, and refuses missing or malformed options before loading anything', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      expect(await main(['decode', '--help'])).toBe(0);
      expect(log).toHaveBeenCalledWith(expect.stringContaining('webdit decode (--decoder FILE | --vae PATH) --latents FILE --out FILE'));
    } finally {
      log.mockRestore();
    }
    await expect(run(['--decoder', 'd', '--latents', 'l'])).rejects.toThrow(/--out is required/);
    await expect(run(['--decoder', 'd', '--latents', 'l', '--out', 'o', '--layout', 'NHWC'])).rejects.toThrow(/--layout must be NTCHW or NCTHW/);
    await expect(run(['--decoder', 'd', '--latents', 'l', '--out', 'o', '--chunk-frames', '0'])).rejects.toThrow(/--chunk-frames must be at least 1/);
    await expect(run(['--decoder', 'd', '--latents', 'l', '--out', 'o', '--frames', '3'])).rejects.toThrow(/unknown option --frames/);
    const dir = await mkdtemp(join(tmpdir(), 'webdit-decode-'));
    try {
      const notSafetensors = join(dir, 'latents.safetensors');
      await writeFile(notSafetensors, 'not a safetensors file');
      await expect(run(['--decoder', 'd', '--latents', notSafetensors, '--out', join(dir, 'o')])).rejects.toThrow();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
