// A loaded model as the pages see it: its bundle, where it came from, and what its model_index.json
// says beyond what the engine needs (the prompt template and its words).

import type { ModelBundle } from '../pipeline/bundle.ts';
import type { PromptEmbedding } from '../pipeline/generate.ts';
import type { WanFolderConfigs } from '../pipeline/memory-plan.ts';
import type { VideoDecoder } from '../decoder/decoder.ts';
import type { ModelFolder } from '../weights/folder.ts';

/**
 * The shipped model's folder: beside dist/webdit.js in the library build; in the npm package's browser
 * build (bundled into someone's app, so nothing is beside it) models/toy/ under the page's base, where
 * the app copies the package's public/models/toy/; under the site's base otherwise.
 */
export function shippedModelUrl(): string {
  if (import.meta.env.MODE === 'package') return new URL('models/toy/', document.baseURI).href;
  if (import.meta.env.MODE === 'lib') {
    const relative = 'models/toy/'; // not a literal in new URL(): Vite must not treat the folder as an asset
    return new URL(relative, import.meta.url).href;
  }
  return new URL(`${import.meta.env.BASE_URL}models/toy/`, location.href).href;
}

export interface IndexExtras {
  /** "a {colour} {shape} moving {direction} on a {background} background" and the words to fill it. */
  promptTemplate?: string;
  words: Record<string, string[]>;
}

/** Reads the optional fields of model_index.json that the engine does not use (never throws). */
export async function readIndexExtras(folder: ModelFolder): Promise<IndexExtras> {
  const extras: IndexExtras = { words: {} };
  let index: Record<string, unknown>;
  try {
    const text = await folder.readText('model_index.json');
    if (!text) return extras;
    index = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return extras;
  }
  if (typeof index.prompt_template === 'string') extras.promptTemplate = index.prompt_template;
  for (const [slot, key] of [['colour', 'colours'], ['shape', 'shapes'], ['direction', 'directions'], ['background', 'backgrounds']]) {
    const list = index[key];
    if (Array.isArray(list) && list.every((w) => typeof w === 'string')) extras.words[slot] = list as string[];
  }
  return extras;
}

/** A prompt from the template with each slot filled at random (or undefined without a template). */
export function randomPrompt(extras: IndexExtras, random = Math.random): string | undefined {
  const template = extras.promptTemplate;
  if (!template) return undefined;
  let complete = true;
  const text = template.replace(/\{(\w+)\}/g, (_, slot: string) => {
    const words = extras.words[slot];
    if (!words?.length) {
      complete = false;
      return slot;
    }
    return words[Math.floor(random() * words.length)];
  });
  return complete ? text : undefined;
}

export interface LoadedModel {
  /** Registry key (URL, or a name for local files). */
  key: string;
  /** Where it came from, for the page. */
  origin: string;
  bundle: ModelBundle;
  extras: IndexExtras;
  /** Precomputed embeddings, for models without a text encoder in webdit (Wan2.1). */
  embeds?: { prompt: PromptEmbedding; negative?: PromptEmbedding; promptName: string };
  /** A Wan2.1 folder's parts' configs and weight types (for its memory plan), read before its weights. */
  wan?: WanFolderConfigs;
  /** A TAEHV file given beside a Wan2.1 folder's own VAE: a faster, rougher preview decoder. */
  previewDecoder?: { decoder: VideoDecoder; name: string };
}

/** Whether the model encodes typed text itself (webdit's word encoder, or umT5 for a Wan2.1 folder). */
export function takesText(model: Pick<LoadedModel, 'bundle'>): boolean {
  return !!(model.bundle.textEncoder || model.bundle.promptEncoder);
}

/** Whether the page offers a negative prompt field: umT5 models, and models whose folder names a negative prompt. */
export function takesNegativeText(model: Pick<LoadedModel, 'bundle'>): boolean {
  return takesText(model) && (!!model.bundle.promptEncoder || model.bundle.negativePrompt !== undefined);
}

/** A name to show: model_index.json's name, else the folder's last path segment (not a whole URL). */
export function modelLabel(model: Pick<LoadedModel, 'bundle'>): string {
  const name = model.bundle.name;
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(name)) return name;
  try {
    return new URL(name).pathname.split('/').filter(Boolean).at(-1) ?? name;
  } catch {
    return name;
  }
}

/** Sampling steps to offer: the model's default (model_index.json's, else Wan2.1's). */
export function defaultSteps(model: LoadedModel): number {
  return model.bundle.defaults.steps;
}

/**
 * The prompt (and negative prompt) of a run: loaded embeddings win; else the text, which the generate
 * entry encodes with the model's encoder, with `negativeText` (undefined: the model's own negative
 * prompt, or none; an empty string is an empty negative prompt).
 */
export function promptOf(model: LoadedModel, text: string, negativeText?: string): { prompt: string | PromptEmbedding; negativePrompt?: string | PromptEmbedding; unknown: string[] } {
  if (model.embeds) return { prompt: model.embeds.prompt, negativePrompt: model.embeds.negative, unknown: [] };
  const { textEncoder, promptEncoder } = model.bundle;
  const negativePrompt = takesNegativeText(model) ? negativeText : undefined;
  if (textEncoder) return { prompt: text, negativePrompt, unknown: textEncoder.tokenize(text).unknown };
  if (promptEncoder) return { prompt: text, negativePrompt, unknown: [] };
  throw new Error(`${model.bundle.name} has no text encoder in webdit: load a prompt embeddings file (prompt_embeds, .safetensors) in "Load model".`);
}
