// Runs in the browser (served by Vite with test/browser/tokenizer-check.html): loads the golden
// tokenizer folder over HTTP like any model folder and tokenizes the strings the test passes in.
import { urlFolder } from '../../src/weights/folder.ts';
import { loadUmt5Tokenizer } from '../../src/model/text/tokenizer.ts';

export interface TokenizerCheckOutput {
  inputIds: number[][];
  rawIds: number[][];
  eosId: number;
}

async function runTokenizerCheck(folderUrl: string, texts: string[]): Promise<TokenizerCheckOutput> {
  const tokenizer = await loadUmt5Tokenizer(urlFolder(new URL(folderUrl, location.href).href));
  return {
    inputIds: texts.map((t) => tokenizer.encode(t)),
    rawIds: texts.map((t) => tokenizer.pieces.encode(t)),
    eosId: tokenizer.eosId,
  };
}

(window as unknown as { runTokenizerCheck: typeof runTokenizerCheck }).runTokenizerCheck = runTokenizerCheck;
