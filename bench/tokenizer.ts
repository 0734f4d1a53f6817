// Times the umT5 tokenizer on a vocabulary of umT5's size: the golden model (test/golden/tokenizer,
// nmt_nfkc, byte fallback) with random pieces appended up to 256,384 (a ModelProto's repeated pieces
// may be continued anywhere in the file, so appending encoded pieces extends the vocabulary).
//
//   npx tsx bench/tokenizer.ts [--runs 5]
//
// Prints JSON: the load time (parse and index), and per-prompt times of a 40-word prompt and of a
// 5,000-character one (the golden prompt cut at 512 ids), medians of the runs.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadUmt5Tokenizer } from '../src/model/text/tokenizer.ts';

const ROOT = join(import.meta.dirname, '..');
const UMT5_VOCABULARY = 256_384;

function varint(n: number, out: number[]): void {
  for (; n >= 0x80; n = Math.floor(n / 128)) out.push((n & 0x7f) | 0x80);
  out.push(n);
}

/** ModelProto field 1 (a SentencePiece: piece, score, type NORMAL) as bytes. */
function encodedPiece(piece: string, score: number): number[] {
  const text = new TextEncoder().encode(piece);
  const scoreBytes = new Uint8Array(new Float32Array([score]).buffer);
  const body: number[] = [0x0a];
  varint(text.length, body);
  body.push(...text, 0x15, ...scoreBytes, 0x18, 1);
  const out = [0x0a];
  varint(body.length, out);
  return out.concat(body);
}

function syntheticModel(): Uint8Array {
  const base = new Uint8Array(readFileSync(join(ROOT, 'test/golden/tokenizer/spiece.model')));
  let seed = 1;
  const random = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const alphabet = [...'abcdefghijklmnopqrstuvwxyz', ...'абвгдежзийклмнопрстуфхцчшщыэюя', ...Array.from({ length: 3000 }, (_, i) => String.fromCodePoint(0x4e00 + i))];
  const seen = new Set<string>();
  const extra: number[] = [];
  const have = 3000; // pieces in the golden model
  while (seen.size < UMT5_VOCABULARY - have) {
    let piece = random() < 0.5 ? '\u2581' : '';
    for (let i = 2 + Math.floor(random() * 7); i > 0; i--) piece += alphabet[Math.floor(random() * alphabet.length)];
    if (seen.has(piece)) continue;
    seen.add(piece);
    extra.push(...encodedPiece(piece, -8 - 10 * random()));
  }
  const out = new Uint8Array(base.length + extra.length);
  out.set(base);
  out.set(extra, base.length);
  return out;
}

const runsArg = process.argv.indexOf('--runs');
const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 5;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const model = syntheticModel();

const loads: number[] = [];
let tokenizer = await loadUmt5Tokenizer(model);
for (let i = 0; i < runs; i++) {
  const t = performance.now();
  tokenizer = await loadUmt5Tokenizer(model);
  loads.push(performance.now() - t);
}
if (tokenizer.vocabSize !== UMT5_VOCABULARY) throw new Error(`vocabulary of ${tokenizer.vocabSize}, expected ${UMT5_VOCABULARY}`);

const cases = JSON.parse(readFileSync(join(ROOT, 'test/golden/tokenizer/cases.json'), 'utf8')) as { cases: { text: string; input_ids: number[] }[] };
const long = cases.cases.find((c) => c.input_ids.length === 512)!.text;
const short = 'A cinematic shot of a red fox running through a snowy forest at golden hour, detailed fur, soft light, shallow depth of field, the camera slowly tracking the fox from the side as snow falls, 4k, film grain';
const timePrompt = (text: string) => {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    tokenizer.encode(text);
    times.push(performance.now() - t);
  }
  return { characters: text.length, ids: tokenizer.encode(text).length, ms: +median(times).toFixed(2) };
};
console.log(JSON.stringify({
  vocabulary: tokenizer.vocabSize,
  modelBytes: model.length,
  loadMs: +median(loads).toFixed(0),
  shortPrompt: timePrompt(short),
  longPrompt: timePrompt(long),
}, null, 2));
