// Loading models on the demo page: the shipped model, a folder at a URL, or a folder picked or dropped
// from the user's disk; plus a decoder file and precomputed prompt embeddings. Every failure ends in
// a message that says what was wrong, and the previously loaded model stays in use.

import { clearDownloadCache, downloadCacheEnabled, downloadCacheSummary, forgetBundle, sharedContext, sharedModel } from './engine.ts';
import { NEGATIVE_TENSORS, PROMPT_TENSORS, readPromptEmbedding } from './embeddings.ts';
import { byId, describeLoad, errorMessage, formatBytes } from './format.ts';
import { modelLabel, shippedModelUrl, type LoadedModel } from './model.ts';
import { fileMapFolder, urlFolder, type ModelFolder } from '../weights/folder.ts';
import { blobSource, HttpError } from '../weights/source.ts';
import { readWanFolderConfigs, type WanFolderConfigs } from '../pipeline/memory-plan.ts';
import { TaehvDecoder } from '../decoder/taehv.ts';
import { checkPlan, sizeChoices, type AdapterBudget } from './size-plan.ts';

export interface LoaderHooks {
  /** The model in use (embeddings files apply to it). */
  current(): LoadedModel | undefined;
  /** A model finished loading and replaces the current one. */
  loaded(model: LoadedModel): void;
  /** Download progress; fraction undefined = unknown; done = hide the bar. */
  progress(text: string, fraction: number | undefined, done?: boolean): void;
  /** The current model's embeddings changed. */
  embedsChanged(): void;
  /** Loading is refused while this returns a reason (a generation is running). */
  busy(): string | undefined;
  /** Shows a message in the panel (empty: hide). */
  say(text: string, kind?: 'error' | 'info' | 'ok'): void;
  /** The adapter's memory (as the user gave it) and buffer limits, for a Wan2.1 folder's plan. */
  budget(): Promise<AdapterBudget>;
}

/** A Wan2.1 diffusers folder (umT5 text encoder), as loadBundle recognises one. */
async function isWanFolder(folder: ModelFolder): Promise<boolean> {
  const indexText = await folder.readText('model_index.json');
  try {
    const index = indexText ? (JSON.parse(indexText) as Record<string, unknown>) : {};
    if (index._class_name === 'WanPipeline') return true;
    if (Array.isArray(index.text_encoder) && index.text_encoder[1] === 'UMT5EncoderModel') return true;
  } catch {
    // loadBundle names the bad JSON.
  }
  return (await folder.open('text_encoder/config.json')) !== undefined && (await folder.readText('text_encoder/vocab.json')) === undefined;
}

/**
 * A Wan2.1 folder's configs, and the refusal of a folder that does not fit this adapter even at its
 * smallest size, before any weight is read. Undefined when the parts cannot be read: loadBundle then
 * says which part is missing or wrong.
 */
async function planWanFolder(folder: ModelFolder, budget: AdapterBudget): Promise<WanFolderConfigs | undefined> {
  let configs: WanFolderConfigs;
  try {
    configs = await readWanFolderConfigs(folder);
  } catch {
    return undefined;
  }
  const choices = sizeChoices(await ownSize(folder), true);
  const smallest = choices.reduce((a, b) => (b.size.frames * b.size.height * b.size.width < a.size.frames * a.size.height * a.size.width ? b : a));
  // A folder's bundle can read its transformer weights again, so freeing them for decoding counts.
  const check = checkPlan(configs, smallest.size, budget, {}, choices, true);
  if (check.refusal) throw new Error(`it does not fit this GPU even at its smallest size: ${check.refusal} (set the GPU memory under Size if it has more)`);
  return configs;
}

/** model_index.json's size, else Wan2.1's default (as the bundle's defaults). */
async function ownSize(folder: ModelFolder): Promise<{ frames: number; height: number; width: number }> {
  let index: Record<string, unknown> = {};
  try {
    index = JSON.parse((await folder.readText('model_index.json')) ?? '{}') as Record<string, unknown>;
  } catch {
    // loadBundle names the bad JSON.
  }
  const n = (k: string, d: number) => (typeof index[k] === 'number' && Number.isFinite(index[k]) ? (index[k] as number) : d);
  return { frames: n('frames', 81), height: n('height', 480), width: n('width', 832) };
}

/**
 * Checks that a folder looks like a model before downloading anything large. A network failure skips
 * the check (offline, the download cache may still hold the model); a server's refusal does not.
 */
async function checkFolder(folder: ModelFolder): Promise<void> {
  let config: string | undefined;
  let index: string | undefined;
  try {
    [config, index] = await Promise.all([folder.readText('transformer/config.json'), folder.readText('model_index.json')]);
  } catch (e) {
    if (e instanceof HttpError) throw new Error(`${folder.name}: ${e.message}`);
    return;
  }
  if (config !== undefined) return;
  if (index === undefined) {
    throw new Error(
      `No model found at ${folder.name}: neither model_index.json nor transformer/config.json is there (HTTP 404). ` +
        'Give the address of a diffusers-style model folder (with transformer/ and scheduler/ inside).',
    );
  }
  throw new Error(`${folder.name} has a model_index.json but no transformer/config.json: is the transformer in another folder?`);
}

/** Files of a dropped folder, by relative path (FileSystemEntry API). */
async function droppedFiles(items: DataTransferItemList): Promise<Map<string, File>> {
  const files = new Map<string, File>();
  const readEntries = (reader: FileSystemDirectoryReader) =>
    new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
  const visit = async (entry: FileSystemEntry, prefix: string): Promise<void> => {
    if (entry.isFile) {
      const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject));
      files.set(prefix + entry.name, file);
    } else if (entry.isDirectory) {
      const reader = (entry as FileSystemDirectoryEntry).createReader();
      // readEntries returns the listing in batches until an empty one.
      for (let batch = await readEntries(reader); batch.length; batch = await readEntries(reader)) {
        for (const child of batch) await visit(child, `${prefix}${entry.name}/`);
      }
    }
  };
  const entries = [...items].map((item) => item.webkitGetAsEntry?.()).filter((e): e is FileSystemEntry => !!e);
  for (const entry of entries) await visit(entry, '');
  return files;
}

export class ModelLoader {
  private readonly urlInput = byId<HTMLInputElement>('model-url');
  private readonly urlButton = byId<HTMLButtonElement>('load-url');
  private readonly filesInput = byId<HTMLInputElement>('model-files');
  private readonly dropZone = byId<HTMLElement>('drop-zone');
  private readonly decoderInput = byId<HTMLInputElement>('decoder-file');
  private readonly embedsInput = byId<HTMLInputElement>('embeds-file');
  private readonly negativeInput = byId<HTMLInputElement>('negative-embeds-file');
  private readonly shippedButton = byId<HTMLButtonElement>('use-shipped');
  private readonly cacheSummary = byId<HTMLElement>('cache-summary');
  private readonly clearCacheButton = byId<HTMLButtonElement>('clear-cache');
  private loading = false;
  private localCount = 0;

  constructor(private readonly hooks: LoaderHooks) {
    this.urlButton.addEventListener('click', () => void this.loadUrl(this.urlInput.value));
    this.urlInput.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') {
        e.preventDefault();
        void this.loadUrl(this.urlInput.value);
      }
    });
    this.filesInput.addEventListener('change', () => {
      const map = new Map<string, File>();
      for (const f of this.filesInput.files ?? []) map.set(f.webkitRelativePath || f.name, f);
      this.filesInput.value = '';
      void this.loadFiles(map);
    });
    this.dropZone.addEventListener('dragover', (e) => {
      e.preventDefault();
      this.dropZone.classList.add('over');
    });
    this.dropZone.addEventListener('dragleave', () => this.dropZone.classList.remove('over'));
    this.dropZone.addEventListener('drop', (e) => {
      e.preventDefault();
      this.dropZone.classList.remove('over');
      const items = e.dataTransfer?.items;
      if (!items) return;
      droppedFiles(items).then(
        (files) => this.loadFiles(files),
        (err) => this.hooks.say(`Could not read the dropped folder: ${errorMessage(err)}`, 'error'),
      );
    });
    this.embedsInput.addEventListener('change', () => void this.applyEmbeds());
    this.negativeInput.addEventListener('change', () => void this.applyEmbeds());
    this.shippedButton.addEventListener('click', () => void this.loadShipped());
    this.clearCacheButton.addEventListener('click', () => {
      clearDownloadCache().then(
        () => {
          this.hooks.say('Downloaded models were removed from this browser; the model in use stays loaded until you leave the page.', 'ok');
          void this.refreshCacheSummary();
        },
        (e) => this.hooks.say(`Could not clear the download cache: ${errorMessage(e)}`, 'error'),
      );
    });
  }

  /** Shows what the browser keeps of downloaded models. */
  async refreshCacheSummary(): Promise<void> {
    if (!downloadCacheEnabled()) {
      this.cacheSummary.textContent = 'Downloads are not kept under the development server.';
      this.clearCacheButton.hidden = true;
      return;
    }
    try {
      const summary = await downloadCacheSummary();
      this.cacheSummary.textContent = `Kept in this browser for the next visit: ${summary.text}.`;
      this.clearCacheButton.hidden = summary.files + summary.partialFiles === 0;
    } catch {
      this.cacheSummary.textContent = '';
      this.clearCacheButton.hidden = true;
    }
  }

  /** Loads the shipped model (the page's default). */
  loadShipped(): Promise<boolean> {
    const url = shippedModelUrl();
    return this.load(url, 'the shipped model', () => urlFolder(url), { shipped: true, cache: true });
  }

  async loadUrl(raw: string): Promise<boolean> {
    const text = raw.trim();
    if (!text) {
      this.hooks.say('Type the address of a model folder first.', 'error');
      return false;
    }
    let url: string;
    try {
      url = new URL(text.endsWith('/') ? text : `${text}/`, location.href).href;
    } catch {
      this.hooks.say(`"${text}" is not a web address.`, 'error');
      return false;
    }
    return this.load(url, url, () => urlFolder(url), { cache: true });
  }

  async loadFiles(files: Map<string, File>): Promise<boolean> {
    if (files.size === 0) {
      this.hooks.say('The folder is empty (or the browser gave no files).', 'error');
      return false;
    }
    const first = [...files.keys()][0];
    const name = first.includes('/') ? first.split('/')[0] : 'selected files';
    const total = [...files.values()].reduce((s, f) => s + f.size, 0);
    const key = `local:${++this.localCount}:${name}`;
    return this.load(key, `${name} (${files.size} files, ${formatBytes(total)}, from your computer)`, () => fileMapFolder(files, name), {});
  }

  private async load(key: string, origin: string, makeFolder: () => ModelFolder, options: { shipped?: boolean; cache?: boolean }): Promise<boolean> {
    const busy = this.hooks.busy();
    if (busy) {
      this.hooks.say(busy, 'error');
      return false;
    }
    if (this.loading) {
      this.hooks.say('A model is already loading; wait for it to finish.', 'error');
      return false;
    }
    this.loading = true;
    this.setDisabled(true);
    const previous = this.hooks.current();
    const decoderFile = options.shipped ? undefined : this.decoderInput.files?.[0];
    this.hooks.say('');
    this.hooks.progress(`Loading ${options.shipped ? 'the shipped model' : origin}…`, undefined);
    try {
      const folder = makeFolder();
      await checkFolder(folder);
      const wan = !options.shipped && (await isWanFolder(folder)) ? await planWanFolder(folder, await this.hooks.budget()) : undefined;
      // A Wan2.1 folder keeps its own VAE, and a TAEHV file beside it becomes the preview decoder.
      const bundleDecoder = decoderFile && !wan ? decoderFile : undefined;
      // The same folder with another decoder is another bundle.
      if (bundleDecoder) key += ` + decoder ${bundleDecoder.name} (${bundleDecoder.size} bytes, ${bundleDecoder.lastModified})`;
      const shared = await sharedModel(key, () => folder, {
        decoder: bundleDecoder ? blobSource(bundleDecoder) : undefined,
        cache: options.cache,
        onProgress: (status) => {
          const { text, fraction } = describeLoad(status);
          this.hooks.progress(text, fraction);
        },
      });
      const model: LoadedModel = { key, origin, bundle: shared.bundle, extras: shared.extras, wan };
      let warning: string | undefined;
      if (wan && decoderFile) {
        try {
          model.previewDecoder = await this.loadPreviewDecoder(model, decoderFile);
        } catch (e) {
          warning = `The model loaded, but its preview decoder did not: ${errorMessage(e)}`;
        }
      }
      try {
        model.embeds = await this.readEmbeds(model);
      } catch (e) {
        warning = `The model loaded, but its embeddings did not: ${errorMessage(e)}`;
      }
      if (previous && previous.key !== key && previous.key !== shippedModelUrl()) void forgetBundle(previous.key);
      if (previous?.previewDecoder && previous.previewDecoder !== model.previewDecoder) previous.previewDecoder.decoder.dispose();
      this.hooks.loaded(model);
      this.shippedButton.hidden = !!options.shipped;
      if (warning) this.hooks.say(warning, 'error');
      else if (!options.shipped) {
        const decoderName = bundleDecoder ? `TAEHV decoder ${bundleDecoder.name}` : 'Wan VAE';
        const kind = model.bundle.promptEncoder ? ` as a Wan2.1 model (umT5 text encoder, transformer, ${decoderName})` : '';
        const preview = model.previewDecoder ? `, with ${model.previewDecoder.name} as the preview decoder` : '';
        this.hooks.say(`Loaded ${modelLabel(model)}${kind}${preview}.`, 'ok');
      }
      return true;
    } catch (e) {
      const what = options.shipped ? 'The shipped model did not load' : 'That model did not load';
      const keep = previous ? ` The page still uses ${modelLabel(previous)}.` : '';
      const hint = options.shipped && !previous ? ' Load another model below, or give this site the model folder models/toy/ (train/toy exports it).' : '';
      this.hooks.say(`${what}: ${errorMessage(e)}${keep}${hint}`, 'error');
      return false;
    } finally {
      this.loading = false;
      this.setDisabled(false);
      this.hooks.progress('', undefined, true);
      void this.refreshCacheSummary();
    }
  }

  /** A TAEHV file for a Wan2.1 folder's transformer (its latent channels must match). */
  private async loadPreviewDecoder(model: LoadedModel, file: File): Promise<LoadedModel['previewDecoder']> {
    const decoder = await TaehvDecoder.load(await sharedContext(), blobSource(file));
    const channels = model.bundle.model.config.outChannels;
    if (decoder.latentChannels !== channels) {
      decoder.dispose();
      throw new Error(`${file.name} decodes ${decoder.latentChannels} latent channels, but the transformer makes ${channels}: it is a decoder for another model`);
    }
    return { decoder, name: file.name };
  }

  /** Reads the embeddings inputs for `model` (undefined when none is chosen). */
  private async readEmbeds(model: LoadedModel): Promise<LoadedModel['embeds']> {
    const file = this.embedsInput.files?.[0];
    const negativeFile = this.negativeInput.files?.[0];
    if (!file) {
      if (negativeFile) throw new Error('a negative embeddings file needs a prompt embeddings file too');
      return undefined;
    }
    const textDim = model.bundle.model.config.textDim;
    const prompt = await readPromptEmbedding(blobSource(file), PROMPT_TENSORS, textDim);
    const negative = negativeFile ? await readPromptEmbedding(blobSource(negativeFile), NEGATIVE_TENSORS, textDim) : undefined;
    return { prompt, negative, promptName: file.name };
  }

  private async applyEmbeds(): Promise<void> {
    const model = this.hooks.current();
    if (!model) return;
    try {
      model.embeds = await this.readEmbeds(model);
      this.hooks.say(model.embeds ? `Using the prompt embeddings of ${model.embeds.promptName} (${model.embeds.prompt.rows} tokens).` : '', 'ok');
    } catch (e) {
      model.embeds = undefined;
      this.embedsInput.value = '';
      this.negativeInput.value = '';
      this.hooks.say(`Those embeddings cannot be used: ${errorMessage(e)}`, 'error');
    }
    this.hooks.embedsChanged();
  }

  private setDisabled(disabled: boolean): void {
    for (const el of [this.urlInput, this.urlButton, this.filesInput, this.shippedButton]) el.disabled = disabled;
  }
}
