// The shipped toy model through the command line with no argument but the prompt: the frames must show
// the prompt's colour as a shape moving the prompt's way (judged like `webdit eval-toy`), and the .webm must
// be a video.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.ts';
import { TOY_PALETTE, judgeToyClip } from '../../src/pipeline/toy-eval.ts';
import { openSafetensors, readTensor } from '../../src/weights/safetensors.ts';
import { arrayBufferSource } from '../../src/weights/source.ts';

const PROMPT = 'a red circle moving right on a black background';

describe('webdit generate on the shipped model', () => {
  const dir = mkdtempSync(join(tmpdir(), 'webdit-toy-'));

  it('draws the prompt: one red shape on black that moves right', async () => {
    const out = join(dir, 'clip.safetensors');
    expect(await main(['generate', '--prompt', PROMPT, '--out', out, '--quiet'])).toBe(0);
    const file = await openSafetensors(arrayBufferSource(readFileSync(out)));
    const shape = file.tensors.get('frames')!.shape;
    expect(shape).toEqual([8, 3, 32, 32]);
    const judged = judgeToyClip(await readTensor(file, 'frames'), shape, TOY_PALETTE.backgrounds.black);
    expect(judged.colour).toBe('red');
    expect(judged.direction).toBe('right'); // the centroid moves at least 0.5 px per frame, mostly along +x
    expect(judged.coverage).toBeGreaterThan(0.02); // a shape, not specks
    expect(judged.coverage).toBeLessThan(0.3); // on a background
  }, 120_000);

  it('writes a WebM file', async () => {
    const out = join(dir, 'clip.webm');
    expect(await main(['generate', '--prompt', PROMPT, '--out', out, '--quiet', '--steps', '4'])).toBe(0);
    const bytes = readFileSync(out);
    expect([...bytes.subarray(0, 4)]).toEqual([0x1a, 0x45, 0xdf, 0xa3]); // EBML header
    expect(bytes.length).toBeGreaterThan(1000);
  }, 120_000);
});
