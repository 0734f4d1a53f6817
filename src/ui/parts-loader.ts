// The demo's "Wan2.1 from single files" panel (#parts-panel in index.html): the files people download
// (an original-key transformer .safetensors, a umT5 .safetensors in fp16/bf16/fp8, the Wan VAE
// .safetensors, spiece.model, optionally a TAEHV file and the transformer's config.json) assembled
// into one model (src/pipeline/parts.ts) and handed to the page through LoaderHooks.loaded, as the
// folder loader does. A failure names the part; the model in use stays.

import { adoptBundle, forgetBundle, sharedContext } from './engine.ts';
import { byId, errorMessage, formatBytes } from './format.ts';
import { modelLabel, shippedModelUrl, type LoadedModel } from './model.ts';
import type { LoaderHooks } from './model-loader.ts';
import { notice } from './page.ts';
import { loadBundleFromParts, type WanPartFiles } from '../pipeline/parts.ts';
import { blobSource } from '../weights/source.ts';

export class PartsLoader {
  private readonly transformerInput = byId<HTMLInputElement>('parts-transformer');
  private readonly configInput = byId<HTMLInputElement>('parts-transformer-config');
  private readonly textEncoderInput = byId<HTMLInputElement>('parts-text-encoder');
  private readonly tokenizerInput = byId<HTMLInputElement>('parts-tokenizer');
  private readonly vaeInput = byId<HTMLInputElement>('parts-vae');
  private readonly taehvInput = byId<HTMLInputElement>('parts-taehv');
  private readonly loadButton = byId<HTMLButtonElement>('parts-load');
  private readonly message = byId<HTMLElement>('parts-message');
  private loading = false;
  private count = 0;

  constructor(private readonly hooks: LoaderHooks) {
    this.loadButton.addEventListener('click', () => void this.load());
  }

  private say(text: string, kind: 'error' | 'info' | 'ok' = 'info'): void {
    notice(this.message, text, kind);
  }

  /** Loads the chosen files as one Wan2.1 model; true when it replaced the model in use. */
  async load(): Promise<boolean> {
    const busy = this.hooks.busy();
    if (busy) {
      this.say(busy, 'error');
      return false;
    }
    if (this.loading) return false;
    this.loading = true;
    this.loadButton.disabled = true;
    const previous = this.hooks.current();
    const file = (input: HTMLInputElement) => input.files?.[0];
    const chosen = [this.transformerInput, this.configInput, this.textEncoderInput, this.tokenizerInput, this.vaeInput, this.taehvInput].map(file).filter((f) => f !== undefined);
    this.say('');
    this.hooks.progress('Loading Wan2.1 from single files…', undefined);
    try {
      const source = (input: HTMLInputElement) => {
        const f = file(input);
        return f ? blobSource(f) : undefined;
      };
      const configFile = file(this.configInput);
      let transformerConfig: unknown;
      if (configFile) {
        try {
          transformerConfig = JSON.parse(await configFile.text());
        } catch (e) {
          throw new Error(`${configFile.name} is not a JSON config (${errorMessage(e)})`);
        }
      }
      const parts: WanPartFiles = {
        transformer: source(this.transformerInput),
        textEncoder: source(this.textEncoderInput),
        tokenizer: source(this.tokenizerInput),
        vae: source(this.vaeInput),
        taehv: source(this.taehvInput),
        transformerConfig,
      };
      const ctx = await sharedContext();
      const bundle = await loadBundleFromParts(ctx, parts, {
        onProgress: (loaded, total) => this.hooks.progress(`Loading the transformer… ${formatBytes(loaded)} / ${formatBytes(total)}`, total > 0 ? loaded / total : undefined),
      });
      const key = `parts:${++this.count}:${chosen.map((f) => f.name).join(' + ')}`;
      adoptBundle(key, { bundle, extras: { words: {} } }); // freed like a folder's bundle when the page moves on
      const total = chosen.reduce((sum, f) => sum + f.size, 0);
      const model: LoadedModel = { key, origin: `${chosen.length} files, ${formatBytes(total)}, from your computer`, bundle, extras: { words: {} } };
      if (previous && previous.key !== shippedModelUrl()) void forgetBundle(previous.key);
      this.hooks.loaded(model);
      this.say(`Loaded ${modelLabel(model)}: Wan2.1 with ${bundle.model.config.numLayers} blocks of width ${bundle.model.config.dim}, umT5 of width ${bundle.promptEncoder!.config.dModel}.`, 'ok');
      return true;
    } catch (e) {
      const keep = previous ? ` The page still uses ${modelLabel(previous)}.` : '';
      this.say(`Those files did not load: ${errorMessage(e)}${keep}`, 'error');
      return false;
    } finally {
      this.loading = false;
      this.loadButton.disabled = false;
      this.hooks.progress('', undefined, true);
    }
  }
}
