// Runs in the browser (served by Vite with test/browser/umt5-check.html): loads a umT5 text_encoder
// folder by URL (config.json, an index and shards, read by HTTP Range requests) and encodes token ids.
import { createBrowserContext } from '../../src/gpu/device.ts';
import { urlFolder } from '../../src/weights/folder.ts';
import { loadUmt5Encoder } from '../../src/model/umt5/load.ts';

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

(window as unknown as { runUmt5: typeof runUmt5 }).runUmt5 = runUmt5;
