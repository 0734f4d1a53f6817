// The umT5 goldens (test/golden/t5/<case>): each prompt's token ids (the batch's real tokens, by the mask)
// and wan/modules/t5.py's output rows for them.
import { join } from 'node:path';
import { fileSource } from '../../src/weights/node-source.ts';
import { openSafetensors, readTensor } from '../../src/weights/safetensors.ts';

export const UMT5_GOLDEN = join(import.meta.dirname, '../golden/t5');

export async function umt5GoldenCase(name: string): Promise<{ dir: string; sequences: number[][]; expected: Float32Array[] }> {
  const dir = join(UMT5_GOLDEN, name);
  const inputs = await openSafetensors(await fileSource(join(dir, 'inputs.safetensors')));
  const outputs = await openSafetensors(await fileSource(join(dir, 'outputs.safetensors')));
  const [batch, length] = inputs.tensors.get('input_ids')!.shape;
  const ids = await readTensor(inputs, 'input_ids');
  const mask = await readTensor(inputs, 'mask');
  const output = await readTensor(outputs, 'output');
  const dim = outputs.tensors.get('output')!.shape[2];
  const sequences: number[][] = [];
  const expected: Float32Array[] = [];
  for (let b = 0; b < batch; b++) {
    const n = mask.subarray(b * length, (b + 1) * length).reduce((a, m) => a + m, 0);
    sequences.push(Array.from(ids.subarray(b * length, b * length + n)));
    expected.push(output.slice(b * length * dim, (b * length + n) * dim));
  }
  return { dir, sequences, expected };
}
