// `webdit encode --prompt`: the prompt goes through the umT5 tokenizer (Wan's cleaning, SentencePiece) and then
// the encoder, giving exactly the file that `--input-ids` with the tokenizer's ids gives.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { Options, parseArgs } from '../../src/cli/args.ts';
import encode from '../../src/cli/commands/encode.ts';
import { loadTokenizerFromPath } from '../../src/cli/model-args.ts';
import { writeTinyUmt5Model } from '../helpers/tiny-umt5.ts';

const run = (args: string[]) => encode.run(new Options(parseArgs(args), 'encode'));

describe('webdit encode --prompt', () => {
  it('tokenizes as Wan does and writes exactly what --input-ids with those ids writes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'webdit-encode-prompt-'));
    await writeTinyUmt5Model(dir);
    vi.spyOn(console, 'error').mockImplementation(() => {});
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const prompt = 'A red fox &amp; its   shadow run across snow — 雪の上を走る狐 🦊';
      const negative = 'blurry, static';
      await run(['--model', dir, '--prompt', prompt, '--negative-prompt', negative, '--out', join(dir, 'a.safetensors')]);
      const tokenizer = await loadTokenizerFromPath(join(dir, 'tokenizer'));
      const ids = tokenizer.encode(prompt);
      expect(ids.length).toBeGreaterThan(10);
      expect(ids.at(-1)).toBe(tokenizer.eosId);
      await run(['--model', dir, '--input-ids', JSON.stringify(ids), '--negative-input-ids', JSON.stringify(tokenizer.encode(negative)), '--out', join(dir, 'b.safetensors')]);
      const [a, b] = await Promise.all([readFile(join(dir, 'a.safetensors')), readFile(join(dir, 'b.safetensors'))]);
      expect(a.equals(b)).toBe(true);
      // A different prompt gives a different file (the prompt is really used).
      await run(['--model', dir, '--prompt', 'a blue whale', '--out', join(dir, 'c.safetensors')]);
      expect((await readFile(join(dir, 'c.safetensors'))).equals(a)).toBe(false);
    } finally {
      vi.restoreAllMocks();
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('says what is missing or mixed up', async () => {
    await expect(run(['--text-encoder', '/nowhere', '--prompt', 'x', '--out', '/tmp/x.safetensors'])).rejects.toThrow(/--prompt needs a tokenizer/);
    await expect(run(['--model', '/nowhere', '--out', '/tmp/x.safetensors'])).rejects.toThrow(/give --prompt TEXT or --input-ids/);
    await expect(run(['--model', '/nowhere', '--prompt', 'x', '--input-ids', '[1]', '--out', '/tmp/x.safetensors'])).rejects.toThrow(/one of them/);
    await expect(run(['--model', '/nowhere', '--prompt', 'x', '--negative-input-ids', '[1]', '--out', '/tmp/x.safetensors'])).rejects.toThrow(/--negative-prompt TEXT/);
    await expect(run(['--model', '/nowhere', '--prompt', 'x', '--out', '/tmp/x.safetensors'])).rejects.toThrow(/nowhere\/tokenizer: no such file or folder/);
  });
});
