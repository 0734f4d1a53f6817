// Runs in the browser (served by Vite with test/browser/umt5-check.html): loads a umT5 text_encoder
// folder by URL (config.json, an index and shards, read by HTTP Range requests) and encodes token ids.
import { createBrowserContext } from '../../src/gpu/device.ts';
import { urlFolder } from '../../src/weights/folder.ts';
import { loadUmt5Encoder } from '../../src/model/umt5/load.ts';
import { loadUmt5Tokenizer } from '../../src/model/text/tokenizer.ts';
import { encodePromptEmbeds } from '../../src/model/umt5/prompt-embeds.ts';

export interface Umt5CheckOutput {
  adapter: string;
  outputs: number[][];
  peakGpuBytes: number;
}

async function runUmt5(folderUrl: string, sequences: number[][]): Promise<Umt5CheckOutput> {
  const ctx = await createBrowserContext({ poison: true });
  try {
    const encoder = await loadUmt5Encoder(ctx, { folder: urlFolder(new URL(folderUrl, location.href).href) });
    const outputs = await encoder.encode(sequences);
    return { adapter: ctx.adapterInfo.description || ctx.adapterInfo.vendor, outputs: outputs.map((o) => Array.from(o)), peakGpuBytes: encoder.lastStats!.peakGpuBytes };
  } finally {
    ctx.destroy();
  }
}

/** A model folder's tokenizer/ and text_encoder/ by URL: the prompt (and negative) tokenized and encoded in the page. */
async function runPromptEmbeds(modelUrl: string, prompt: string, negative: string): Promise<{ ids: number[]; promptEmbeds: number[]; negativePromptEmbeds: number[] }> {
  const ctx = await createBrowserContext({ poison: true });
  try {
    const base = new URL(modelUrl, location.href).href;
    const tokenizer = await loadUmt5Tokenizer(urlFolder(new URL('tokenizer/', base).href));
    const encoder = await loadUmt5Encoder(ctx, { folder: urlFolder(new URL('text_encoder/', base).href) });
    const ids = tokenizer.encode(prompt);
    const embeds = await encodePromptEmbeds(encoder, ids, tokenizer.encode(negative));
    return { ids, promptEmbeds: Array.from(embeds.promptEmbeds), negativePromptEmbeds: Array.from(embeds.negativePromptEmbeds!) };
  } finally {
    ctx.destroy();
  }
}

Object.assign(window, { runUmt5, runPromptEmbeds });
