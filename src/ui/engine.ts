// What every webdit page and element shares: one GPU context per page, one copy of each model's
// weights (bundles by key: a model URL, or a name for picked files), and one queue, so generations on
// the device run one at a time in the order they were asked for.

import { createBrowserContext } from '../gpu/device.ts';
import type { GpuContext } from '../gpu/context.ts';
import { loadBundle, type ModelBundle } from '../pipeline/bundle.ts';
import { readIndexExtras, type IndexExtras } from './model.ts';
import { AbortError } from '../pipeline/generate.ts';
import type { ModelFolder } from '../weights/folder.ts';
import type { ByteSource } from '../weights/source.ts';
import { cacheSummary, cachedFolder, clearCache, defaultStore, type CacheSummary, type FileStore } from '../weights/store.ts';

// ---- the device ------------------------------------------------------------------------------

let context: Promise<GpuContext> | undefined;
let settled: GpuContext | undefined;

/** Forgets a lost context and the bundles that lived on it (their buffers went with the device). */
function dropLostContext(): void {
  if (!settled?.isLost) return;
  context = undefined;
  settled = undefined;
  bundles.clear();
}

/**
 * The page's GPU context, created on first use. A lost device (driver reset, tab in the background
 * too long, `device.destroy()`) is replaced on the next call, and the bundles that lived on it are
 * forgotten (sharedModel and liveBundle load them again on the new device).
 */
export async function sharedContext(): Promise<GpuContext> {
  dropLostContext();
  const pending = (context ??= createBrowserContext());
  pending.catch(() => {
    if (context === pending) context = undefined; // a failed start is retried on the next call
  });
  const ctx = await pending;
  settled = ctx;
  if (ctx.isLost) return sharedContext();
  return ctx;
}

// ---- the download cache ----------------------------------------------------------------------

/** What a model load is doing: downloading a file (into the browser's cache), or filling GPU buffers. */
export interface LoadStatus {
  phase: 'download' | 'gpu';
  /** The file downloading (download phase). */
  path?: string;
  loadedBytes: number;
  totalBytes: number;
}

export type LoadProgress = (status: LoadStatus) => void;

let store: FileStore | undefined;
// Off under Vite's dev server: a re-exported model of the same size would be served stale from the
// cache (stored copies are revalidated by size, and text files by content, but weights have no ETag yet).
let cacheEnabled = !import.meta.env.DEV;

/** Turns the persistent download cache on or off for later loads. */
export function setDownloadCache(enabled: boolean): void {
  cacheEnabled = enabled;
}

export function downloadCacheEnabled(): boolean {
  return cacheEnabled;
}

/** The page's store for downloaded model files (OPFS, else the Cache API, else memory). */
export function downloadStore(): FileStore {
  return (store ??= defaultStore());
}

/** What the cache holds ("3 files, 12.3 MB stored; …"). */
export function downloadCacheSummary(): Promise<CacheSummary> {
  return cacheSummary(downloadStore());
}

export function clearDownloadCache(): Promise<void> {
  return clearCache(downloadStore());
}

/**
 * A network folder wrapped by the browser's download cache (src/weights/store.ts): each file is
 * downloaded once, resumably, and later visits read it from the browser's storage (checking with
 * the server, where it answers, that it has not changed).
 */
export function maybeCached(folder: ModelFolder, onProgress?: LoadProgress): ModelFolder {
  if (!cacheEnabled) return folder;
  return cachedFolder(folder, downloadStore(), {
    revalidate: true,
    onProgress: (e) => {
      if (e.type === 'start' || e.type === 'progress' || e.type === 'done') {
        onProgress?.({ phase: 'download', path: e.path, loadedBytes: e.loadedBytes, totalBytes: e.totalBytes });
      }
    },
  });
}

// ---- bundles -------------------------------------------------------------------------------

/** A bundle and the extra fields of its model_index.json. */
export interface SharedModel {
  bundle: ModelBundle;
  extras: IndexExtras;
}

interface BundleEntry {
  promise: Promise<SharedModel>;
  listeners: Set<LoadProgress>;
  last: LoadStatus | undefined;
}

const bundles = new Map<string, BundleEntry>();
/** How each key's bundle was loaded, to load it again on a new device after a loss. */
const loaders = new Map<string, { folder: () => ModelFolder | Promise<ModelFolder>; options: SharedBundleOptions }>();

export interface SharedBundleOptions {
  /** A TAEHV decoder file, for latent-space models. */
  decoder?: ByteSource;
  onProgress?: LoadProgress;
  /** Keep the folder's files in the browser's download cache (for network folders; default false). */
  cache?: boolean;
}

/**
 * The bundle loaded under `key`, loading it from `folder()` the first time. Callers that ask while
 * it loads share the download and all see its progress. A failed load is forgotten, so a retry loads
 * again.
 */
export function sharedModel(key: string, folder: () => ModelFolder | Promise<ModelFolder>, options: SharedBundleOptions = {}): Promise<SharedModel> {
  dropLostContext();
  loaders.set(key, { folder, options: { decoder: options.decoder, cache: options.cache } });
  let entry = bundles.get(key);
  if (!entry) {
    const listeners = new Set<LoadProgress>();
    const created: BundleEntry = { listeners, last: undefined, promise: undefined as unknown as Promise<SharedModel> };
    created.promise = (async () => {
      const ctx = await sharedContext();
      const report = (status: LoadStatus) => {
        created.last = status;
        for (const fn of listeners) fn(status);
      };
      const plain = await folder();
      const source = options.cache ? maybeCached(plain, report) : plain;
      const extras = await readIndexExtras(source);
      const bundle = await loadBundle(ctx, source, {
        decoder: options.decoder,
        onProgress: (loadedBytes, totalBytes) => report({ phase: 'gpu', loadedBytes, totalBytes }),
      });
      return { bundle, extras };
    })();
    created.promise.catch(() => {
      if (bundles.get(key) === created) bundles.delete(key);
    });
    bundles.set(key, created);
    entry = created;
  }
  const { onProgress } = options;
  if (onProgress) {
    entry.listeners.add(onProgress);
    if (entry.last) onProgress(entry.last);
    const remove = () => entry!.listeners.delete(onProgress);
    entry.promise.then(remove, remove);
  }
  return entry.promise;
}

/** A bundle loaded another way (single files) kept under `key`, so forgetBundle frees it as it frees the others. */
export function adoptBundle(key: string, model: SharedModel): void {
  bundles.set(key, { promise: Promise.resolve(model), listeners: new Set(), last: undefined });
}

/** Frees a bundle's GPU memory (when a page switches to another model it will not come back to). */
export async function forgetBundle(key: string): Promise<void> {
  loaders.delete(key);
  const entry = bundles.get(key);
  if (!entry) return;
  bundles.delete(key);
  try {
    (await entry.promise).bundle.dispose();
  } catch {
    // It never loaded: nothing to free.
  }
}

/**
 * The page's context and `bundle` on it: after a device loss the context is new, and the model (by its
 * key) is loaded again on it, so the next Generate works without the user reloading anything.
 */
export async function liveBundle(key: string, bundle: ModelBundle, onProgress?: LoadProgress): Promise<{ ctx: GpuContext; bundle: ModelBundle }> {
  const ctx = await sharedContext();
  if (bundle.model.ctx === ctx) return { ctx, bundle };
  const loader = loaders.get(key);
  if (!loader) throw new Error(`the GPU device was replaced and ${bundle.name} cannot be loaded again by itself: load the model once more`);
  const shared = await sharedModel(key, loader.folder, { ...loader.options, onProgress });
  return { ctx: await sharedContext(), bundle: shared.bundle };
}

// ---- the queue -------------------------------------------------------------------------------

let tail: Promise<unknown> = Promise.resolve();
let waiting = 0;

/** Generations queued or running on the device. */
export function queueLength(): number {
  return waiting;
}

/**
 * Runs `task` once every task queued before it has finished. A signal aborted while the task waits
 * rejects with AbortError without running it.
 */
export function runExclusive<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  waiting++;
  const start = () => {
    if (signal?.aborted) throw new AbortError();
    return task();
  };
  const run = tail.then(start, start).finally(() => {
    waiting--;
  });
  tail = run.catch(() => undefined);
  return run;
}
