// `webdit encode` end to end on the umT5 golden: the file it writes is what generate --embeds reads.
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { relativeError } from '../helpers/reference.ts';
import { Options, parseArgs } from '../../src/cli/args.ts';
import encode, { readInputIds } from '../../src/cli/commands/encode.ts';
import { fileSource } from '../../src/weights/node-source.ts';
import { openSafetensors, readTensor } from '../../src/weights/safetensors.ts';
import { NEGATIVE_TENSORS, PROMPT_TENSORS, readPromptEmbedding } from '../../src/ui/embeddings.ts';

const GOLDEN = join(__dirname, '../golden/t5/tiny');
const run = (args: string[]) => encode.run(new Options(parseArgs(args), 'encode'));

async function golden() {
  const inputs = await openSafetensors(await fileSource(join(GOLDEN, 'inputs.safetensors')));
  const outputs = await openSafetensors(await fileSource(join(GOLDEN, 'outputs.safetensors')));
  const [, length] = inputs.tensors.get('input_ids')!.shape;
  const ids = await readTensor(inputs, 'input_ids');
  const mask = await readTensor(inputs, 'mask');
  const output = await readTensor(outputs, 'output');
  const dim = 32;
  return [0, 1].map((b) => {
    const n = mask.subarray(b * length, (b + 1) * length).reduce((a, m) => a + m, 0);
    return { ids: Array.from(ids.subarray(b * length, b * length + n)), rows: output.slice(b * length * dim, (b * length + n) * dim) };
  });
}

describe('webdit encode', () => {
  it('writes prompt_embeds and negative_prompt_embeds [1, 512, d] that generate --embeds reads, zero past the tokens', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'webdit-encode-'));
    const err = vi.spyOn(console, 'error').mockImplementation(() => {});
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const [prompt, negative] = await golden();
      // A diffusers-layout model folder: DIR/text_encoder.
      await symlink(join(GOLDEN, 'hf'), join(dir, 'text_encoder'));
      await writeFile(join(dir, 'ids.json'), JSON.stringify({ input_ids: prompt.ids }));
      const out = join(dir, 'embeds.safetensors');
      await run(['--model', dir, '--input-ids', join(dir, 'ids.json'), '--negative-input-ids', JSON.stringify(negative.ids), '--out', out]);
      expect(err).toHaveBeenCalledWith(expect.stringMatching(/^wrote .*: prompt_embeds and negative_prompt_embeds \[1, 512, 32\] from 34 tokens/));
      const file = await openSafetensors(await fileSource(out));
      expect(file.tensors.get('prompt_embeds')!.shape).toEqual([1, 512, 32]);
      for (const [names, expected] of [[PROMPT_TENSORS, prompt], [NEGATIVE_TENSORS.slice(0, 1), negative]] as const) {
        const embedding = await readPromptEmbedding(await fileSource(out), [...names], 32);
        expect(embedding.rows).toBe(512);
        const n = expected.ids.length;
        expect(relativeError(embedding.data.subarray(0, n * 32), expected.rows)).toBeLessThan(1e-4);
        expect(embedding.data.subarray(n * 32).every((v) => v === 0)).toBe(true);
      }

      // Wan's original single file, no negative: only prompt_embeds.
      await run(['--text-encoder', join(GOLDEN, 'wan.safetensors'), '--input-ids', JSON.stringify(prompt.ids), '--text-len', '24', '--out', out]);
      const single = await openSafetensors(await fileSource(out));
      expect([...single.tensors.keys()]).toEqual(['prompt_embeds']);
      expect(single.tensors.get('prompt_embeds')!.shape).toEqual([1, 24, 32]);
      expect(relativeError((await readTensor(single, 'prompt_embeds')).subarray(0, prompt.ids.length * 32), prompt.rows)).toBeLessThan(1e-4);

      await expect(run(['--text-encoder', join(GOLDEN, 'wan.safetensors'), '--input-ids', JSON.stringify(prompt.ids), '--text-len', '8', '--out', out])).rejects.toThrow(
        /the prompt has 13 tokens, more than the text length 8/,
      );
      await expect(run(['--input-ids', '[1]', '--out', out])).rejects.toThrow(/give --model DIR .* or --text-encoder PATH/);
    } finally {
      err.mockRestore();
      write.mockRestore();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reads ids as a list, a batch of one, or the tokenizer JSON, and refuses anything else', async () => {
    expect(await readInputIds('[5, 6]', 'input-ids')).toEqual([5, 6]);
    expect(await readInputIds('[[5, 6]]', 'input-ids')).toEqual([5, 6]);
    expect(await readInputIds('{"input_ids": [7]}', 'input-ids')).toEqual([7]);
    await expect(readInputIds('[1.5]', 'input-ids')).rejects.toThrow(/list of integer token ids/);
    await expect(readInputIds('{"ids": [1]}', 'input-ids')).rejects.toThrow(/list of integer token ids/);
    await expect(readInputIds('[1,', 'input-ids')).rejects.toThrow(/neither JSON nor a JSON file/);
  });
});
