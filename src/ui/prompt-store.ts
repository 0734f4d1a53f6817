// The browser's prompt embedding store: IndexedDB, so a prompt encoded once (umT5 reads gigabytes of
// weights per prompt) is not encoded again on the next generation or the next visit. Entries are
// bounded in bytes, least recently used dropped first; where IndexedDB is missing or refuses to open
// (some private modes), the page keeps them in memory instead.

import {
  DEFAULT_PROMPT_STORE_BYTES,
  MemoryPromptStore,
  storedBytes,
  type PromptEmbeddingStore,
  type StoredPromptPair,
} from '../pipeline/prompt-store.ts';

const DB_NAME = 'webdit-prompt-embeddings';
const DB_VERSION = 1;
/** key → StoredPromptPair (the floats). */
const EMBEDDINGS = 'embeddings';
/** key → { bytes, usedAt }: what eviction reads, without loading the floats. */
const ENTRIES = 'entries';

interface EntryInfo {
  bytes: number;
  usedAt: number;
}

function requestResult<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error('IndexedDB request failed'));
  });
}

function transactionDone(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
    tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
  });
}

function openDatabase(): Promise<IDBDatabase> {
  const request = indexedDB.open(DB_NAME, DB_VERSION);
  request.onupgradeneeded = () => {
    const db = request.result;
    if (!db.objectStoreNames.contains(EMBEDDINGS)) db.createObjectStore(EMBEDDINGS);
    if (!db.objectStoreNames.contains(ENTRIES)) db.createObjectStore(ENTRIES);
  };
  return requestResult(request);
}

/** Prompt embeddings in IndexedDB, at most `maxBytes` of floats. */
export class IndexedDbPromptStore implements PromptEmbeddingStore {
  private constructor(
    private readonly db: IDBDatabase,
    readonly maxBytes: number,
  ) {}

  static async open(maxBytes = DEFAULT_PROMPT_STORE_BYTES): Promise<IndexedDbPromptStore> {
    return new IndexedDbPromptStore(await openDatabase(), maxBytes);
  }

  async get(key: string): Promise<StoredPromptPair | undefined> {
    const tx = this.db.transaction([EMBEDDINGS, ENTRIES], 'readwrite');
    const value = (await requestResult(tx.objectStore(EMBEDDINGS).get(key))) as StoredPromptPair | undefined;
    if (value) tx.objectStore(ENTRIES).put({ bytes: storedBytes(value), usedAt: Date.now() } satisfies EntryInfo, key);
    await transactionDone(tx);
    return value;
  }

  async put(key: string, value: StoredPromptPair): Promise<void> {
    const bytes = storedBytes(value);
    if (bytes > this.maxBytes) return; // larger than the whole store: not kept
    const tx = this.db.transaction([EMBEDDINGS, ENTRIES], 'readwrite');
    tx.objectStore(EMBEDDINGS).put(value, key);
    tx.objectStore(ENTRIES).put({ bytes, usedAt: Date.now() } satisfies EntryInfo, key);
    await transactionDone(tx);
    await this.evict();
  }

  /** Entries and bytes stored. */
  async summary(): Promise<{ entries: number; bytes: number }> {
    const infos = await this.entryInfos();
    return { entries: infos.length, bytes: infos.reduce((sum, [, info]) => sum + info.bytes, 0) };
  }

  async clear(): Promise<void> {
    const tx = this.db.transaction([EMBEDDINGS, ENTRIES], 'readwrite');
    tx.objectStore(EMBEDDINGS).clear();
    tx.objectStore(ENTRIES).clear();
    await transactionDone(tx);
  }

  private async entryInfos(): Promise<[string, EntryInfo][]> {
    const tx = this.db.transaction(ENTRIES, 'readonly');
    const store = tx.objectStore(ENTRIES);
    const [keys, infos] = await Promise.all([requestResult(store.getAllKeys()), requestResult(store.getAll())]);
    return keys.map((k, i) => [String(k), infos[i] as EntryInfo]);
  }

  /** Drops the least recently used entries until the store is within maxBytes. */
  private async evict(): Promise<void> {
    const infos = await this.entryInfos();
    let total = infos.reduce((sum, [, info]) => sum + info.bytes, 0);
    if (total <= this.maxBytes) return;
    infos.sort((a, b) => a[1].usedAt - b[1].usedAt);
    const tx = this.db.transaction([EMBEDDINGS, ENTRIES], 'readwrite');
    for (const [key, info] of infos) {
      if (total <= this.maxBytes) break;
      tx.objectStore(EMBEDDINGS).delete(key);
      tx.objectStore(ENTRIES).delete(key);
      total -= info.bytes;
    }
    await transactionDone(tx);
  }
}

let shared: Promise<PromptEmbeddingStore> | undefined;

/**
 * The page's prompt embedding store (IndexedDB, else memory), opened on first use. Pass it as a
 * request's `promptStore`: `generateVideo(ctx, bundle, { prompt, promptStore: await sharedPromptStore() })`.
 */
export function sharedPromptStore(): Promise<PromptEmbeddingStore> {
  return (shared ??= (async () => {
    if (typeof indexedDB === 'undefined') return new MemoryPromptStore();
    try {
      return await IndexedDbPromptStore.open();
    } catch {
      return new MemoryPromptStore(); // IndexedDB refused (private mode, blocked storage): this page only
    }
  })());
}
