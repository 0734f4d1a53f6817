// umT5's tokenizer in Chromium: the golden folder (test/golden/tokenizer) is read over HTTP in the page
// and every golden string must give the same ids there as in sentencepiece.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, openCheckPage, type CheckPage } from './harness.ts';
import type { TokenizerCheckOutput } from './tokenizer-check.ts';

interface Case {
  text: string;
  input_ids: number[];
  raw_ids: number[];
}
const golden = JSON.parse(readFileSync(join(ROOT, 'test/golden/tokenizer/cases.json'), 'utf8')) as { eos_id: number; cases: Case[] };

let check: CheckPage;

beforeAll(async () => {
  check = await openCheckPage('tokenizer-check.html');
});

afterAll(async () => {
  await check?.close();
});

describe('umT5 tokenizer in Chromium', () => {
  it('tokenizes every golden string exactly, loading spiece.model by URL', async () => {
    const { page, log } = check;
    log.expect404(/\/tokenizer_config\.json$/);
    await page.waitForFunction(() => 'runTokenizerCheck' in window);
    const texts = golden.cases.map((c) => c.text);
    const out = await page.evaluate(
      ([url, t]) => (window as unknown as { runTokenizerCheck(u: string, t: string[]): Promise<TokenizerCheckOutput> }).runTokenizerCheck(url, t),
      ['/test/golden/tokenizer/', texts] as const,
    );
    expect(out.eosId).toBe(golden.eos_id);
    const wrong = golden.cases.filter((c, i) => JSON.stringify(out.inputIds[i]) !== JSON.stringify(c.input_ids) || JSON.stringify(out.rawIds[i]) !== JSON.stringify(c.raw_ids));
    expect(wrong.map((c) => c.text.slice(0, 60))).toEqual([]);
    expect(out.inputIds.length).toBe(golden.cases.length);
    expect(log.errors).toEqual([]);
  }, 120_000);
});
