// umT5's tokenizer against Debian's sentencepiece and Wan's own cleaning code (with ftfy and regex),
// on models trained by spm_train and a few hundred awkward strings (test/golden/tokenizer, made by
// tools/golden/tokenizer_golden.py). Every id must match exactly.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { directoryFolder } from '../../src/weights/node-folder.ts';
import { fileMapFolder } from '../../src/weights/folder.ts';
import { cleanPrompt, pythonStrip, whitespaceClean } from '../../src/model/text/clean.ts';
import { pythonHtmlUnescape } from '../../src/model/text/html.ts';
import { SentencePieceTokenizer, loadUmt5Tokenizer } from '../../src/model/text/tokenizer.ts';
import { parseSentencePieceModel } from '../../src/model/text/sentencepiece-model.ts';

const GOLDEN = join(import.meta.dirname, '../golden/tokenizer');

interface Case {
  text: string;
  cleaned: string;
  input_ids: number[];
  raw_ids: number[];
  plain_raw_ids: number[];
}
interface Golden {
  max_length: number;
  eos_id: number;
  cases: Case[];
  html_unescape: { text: string; unescaped: string };
  regex_whitespace: number[];
  python_isspace: number[];
}

const golden = JSON.parse(readFileSync(join(GOLDEN, 'cases.json'), 'utf8')) as Golden;
const fallbackBytes = new Uint8Array(readFileSync(join(GOLDEN, 'spiece.model')));
const plainBytes = new Uint8Array(readFileSync(join(GOLDEN, 'plain/spiece.model')));

/** The cases whose expectation differs from `actual`, shown compactly. */
function mismatches(actual: (c: Case) => unknown, expected: (c: Case) => unknown): string[] {
  return golden.cases
    .filter((c) => JSON.stringify(actual(c)) !== JSON.stringify(expected(c)))
    .map((c) => `${JSON.stringify(c.text.slice(0, 60))}: got ${JSON.stringify(actual(c)).slice(0, 120)}, want ${JSON.stringify(expected(c)).slice(0, 120)}`);
}

describe('umT5 tokenizer against sentencepiece and Wan’s cleaning', () => {
  it('has the goldens it needs (hundreds of strings, one past 512 tokens)', () => {
    expect(golden.cases.length).toBeGreaterThan(300);
    expect(golden.cases.some((c) => c.input_ids.length === golden.max_length)).toBe(true);
  });

  it('cleans every string as wan/modules/tokenizers.py does (ftfy, html.unescape ×2, whitespace)', () => {
    expect(mismatches((c) => cleanPrompt(c.text), (c) => c.cleaned)).toEqual([]);
  });

  it('decodes every HTML5 entity name as Python’s html.unescape, with and without ";" and upper-cased', () => {
    expect(pythonHtmlUnescape(golden.html_unescape.text)).toBe(golden.html_unescape.unescaped);
  });

  it('matches the regex module’s \\s and Python’s isspace() code point for code point', () => {
    const whitespace: number[] = [];
    const spaces: number[] = [];
    for (let cp = 0; cp < 0x10000; cp++) {
      if (cp >= 0xd800 && cp < 0xe000) continue;
      const c = String.fromCodePoint(cp);
      if (whitespaceClean(`a${c}${c}b`) === 'a b') whitespace.push(cp);
      if (pythonStrip(`${c}a${c}`) === 'a') spaces.push(cp);
    }
    expect(whitespace).toEqual(golden.regex_whitespace);
    expect(spaces).toEqual(golden.python_isspace);
  });

  it('segments the raw strings exactly as sentencepiece does (nmt_nfkc, byte fallback, user-defined pieces)', () => {
    const sp = SentencePieceTokenizer.fromBytes(fallbackBytes);
    expect(mismatches((c) => sp.encode(c.text), (c) => c.raw_ids)).toEqual([]);
  });

  it('segments them exactly with no byte fallback, nmt_nfkc_cf, no dummy prefix and extra whitespace kept', () => {
    const sp = SentencePieceTokenizer.fromBytes(plainBytes);
    expect(mismatches((c) => sp.encode(c.text), (c) => c.plain_raw_ids)).toEqual([]);
  });

  it('gives Wan’s input ids (cleaned, segmented, cut to 511, EOS) for every string, loaded from a folder', async () => {
    const tokenizer = await loadUmt5Tokenizer(directoryFolder(GOLDEN));
    expect(tokenizer.eosId).toBe(golden.eos_id);
    expect(tokenizer.padId).toBe(0);
    expect(mismatches((c) => tokenizer.encode(c.text), (c) => c.input_ids)).toEqual([]);
  });

  it('truncates to maxLength including EOS', async () => {
    const tokenizer = await loadUmt5Tokenizer(fallbackBytes, { maxLength: 7 });
    const long = golden.cases.find((c) => c.input_ids.length === golden.max_length)!;
    expect(tokenizer.encode(long.text)).toEqual([...long.input_ids.slice(0, 6), golden.eos_id]);
    expect(tokenizer.encode('')).toEqual([golden.eos_id]);
    await expect(loadUmt5Tokenizer(fallbackBytes, { maxLength: 0 })).rejects.toThrow(/maxLength/);
  });
});

describe('special tokens', () => {
  it('takes tokenizer_config.json’s special tokens as ids and segments the text around them', async () => {
    const config = {
      eos_token: { content: '</s>' },
      additional_special_tokens: ['<extra_id_0>'],
      added_tokens_decoder: { '3000': { content: '<new_token>', special: true } },
    };
    const folder = fileMapFolder(new Map([
      ['tokenizer/spiece.model', new Blob([fallbackBytes])],
      ['tokenizer/tokenizer_config.json', new Blob([JSON.stringify(config)])],
    ]));
    const tokenizer = await loadUmt5Tokenizer(folder);
    const sp = tokenizer.pieces;
    const extraId = sp.model.pieceId('<extra_id_0>')!;
    expect(tokenizer.encode('a red<extra_id_0>circle <new_token></s>')).toEqual([
      ...sp.encode('a red'), extraId, ...sp.encode('circle'), 3000, golden.eos_id, golden.eos_id,
    ]);
    // Without the config, <extra_id_0> is only a user-defined piece: SentencePiece segments it.
    const plain = await loadUmt5Tokenizer(fallbackBytes);
    expect(plain.encode('a red<extra_id_0>circle <new_token>')).toEqual([...sp.encode('a red<extra_id_0>circle <new_token>'), golden.eos_id]);
    expect(plain.encode('a red<extra_id_0>circle <new_token>')).not.toContain(3000);
  });

  it('rejects an additional special token with no id', async () => {
    const folder = fileMapFolder(new Map([
      ['spiece.model', new Blob([fallbackBytes])],
      ['tokenizer_config.json', new Blob([JSON.stringify({ additional_special_tokens: ['<missing>'] })])],
    ]));
    await expect(loadUmt5Tokenizer(folder)).rejects.toThrow(/"<missing>" has no id/);
  });
});

describe('bad tokenizer input', () => {
  it('rejects bytes that are not a SentencePiece model, with the file named', async () => {
    await expect(loadUmt5Tokenizer(new TextEncoder().encode('{"version": "1.0"}'))).rejects.toThrow(/spiece\.model: not a SentencePiece model/);
    await expect(loadUmt5Tokenizer(fallbackBytes.subarray(0, 1000))).rejects.toThrow(/not a SentencePiece model/);
    await expect(loadUmt5Tokenizer(new Uint8Array(0))).rejects.toThrow(/no pieces/);
  });

  it('rejects a model without an unknown piece or with a duplicated piece', () => {
    const proto = parseSentencePieceModel(fallbackBytes);
    const noUnk = { ...proto, pieces: proto.pieces.filter((p) => p.piece !== '<unk>') };
    expect(() => new SentencePieceTokenizer(noUnk)).toThrow(/no unknown piece/);
    const duplicated = { ...proto, pieces: [...proto.pieces, proto.pieces[100]] };
    expect(() => new SentencePieceTokenizer(duplicated)).toThrow(/defined twice/);
    const bpe = { ...proto, trainer: { ...proto.trainer, modelType: 2 } };
    expect(() => new SentencePieceTokenizer(bpe)).toThrow(/not unigram/);
  });

  it('says when a folder has no spiece.model', async () => {
    await expect(loadUmt5Tokenizer(directoryFolder(join(GOLDEN, 'nowhere')))).rejects.toThrow(/no spiece\.model/);
  });
});

describe('webdit tokenize', () => {
  it('prints {"input_ids": [...]} for a prompt, from a diffusers folder holding tokenizer/', async () => {
    const c = golden.cases.find((x) => x.text.startsWith('Tom &amp;'))!;
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      expect(await main(['tokenize', '--tokenizer', join(GOLDEN, '..'), '--prompt', c.text, '--json'])).toBe(0);
      expect(JSON.parse(log.mock.calls[0][0] as string)).toEqual({ input_ids: c.input_ids });
    } finally {
      log.mockRestore();
    }
  });

  it('fails clearly on a missing tokenizer or a bad --max-length', async () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      expect(await main(['tokenize', '--tokenizer', join(GOLDEN, 'missing'), '--prompt', 'x'])).toBe(1);
      expect(String(error.mock.calls[0][0])).toMatch(/no such file or folder/);
      expect(await main(['tokenize', '--tokenizer', GOLDEN, '--prompt', 'x', '--max-length', '0'])).toBe(2);
    } finally {
      error.mockRestore();
    }
  });
});
