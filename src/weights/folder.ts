// A model folder: relative paths (as in a model repository) to byte sources. Behind it: an HTTP
// base URL, or the files a user picked or dropped. Browser-safe: no Node imports here.

import { networkError } from './http-error.ts';
import { HttpError, blobSource, defaultFetch, urlSource, type ByteSource } from './source.ts';

export interface ModelFolder {
  /** For error messages: a URL or folder name. */
  readonly name: string;
  /** The file at `path`, or undefined when the folder has none. */
  open(path: string): Promise<ByteSource | undefined>;
  /** The file at `path` as UTF-8 text, or undefined when the folder has none. */
  readText(path: string): Promise<string | undefined>;
}

/** The folder's `sub/` part as a folder of its own. */
export function subFolder(folder: ModelFolder, sub: string): ModelFolder {
  return {
    name: `${folder.name.replace(/\/$/, '')}/${sub}`,
    open: (path) => folder.open(`${sub}/${path}`),
    readText: (path) => folder.readText(`${sub}/${path}`),
  };
}

/**
 * Checks a path relative to a folder and returns its '/'-separated segments. Paths come from files
 * such as an index.json, so '..' or an absolute path must not reach outside the folder.
 */
export function relativePathSegments(path: string, folderName: string): string[] {
  const segments = path.replace(/\\/g, '/').split('/').filter((s) => s !== '' && s !== '.');
  if (path.startsWith('/') || /^[a-zA-Z]:/.test(path) || segments.length === 0 || segments.includes('..')) {
    throw new Error(`${folderName}: "${path}" is not a path inside the folder`);
  }
  return segments;
}

export interface UrlFolderOptions {
  fetch?: typeof fetch;
}

/** A folder served over HTTP; files are read with Range requests, or in order where Range is ignored (see urlSource). */
export function urlFolder(baseUrl: string, options: UrlFolderOptions = {}): ModelFolder {
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  const fileUrl = (path: string) => base + relativePathSegments(path, base).map(encodeURIComponent).join('/');
  return {
    name: base,
    async open(path) {
      try {
        return await urlSource(fileUrl(path), options);
      } catch (e) {
        if (e instanceof HttpError && e.status === 404) return undefined;
        throw e;
      }
    },
    async readText(path) {
      const url = fileUrl(path);
      const fetchFn = options.fetch ?? defaultFetch();
      let res: Response;
      try {
        res = await fetchFn(url);
      } catch (e) {
        if (e instanceof Error && e.name === 'AbortError') throw e;
        throw networkError('GET', url, e);
      }
      if (res.status === 404) {
        res.body?.cancel().catch(() => {});
        return undefined;
      }
      if (!res.ok) {
        res.body?.cancel().catch(() => {});
        throw new HttpError(`GET ${url}: HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`, url, res.status);
      }
      return res.text();
    },
  };
}

/**
 * Files chosen with a folder picker or dropped, keyed by relative path. A browser's
 * webkitRelativePath starts with the picked folder's own name ("Wan2.1/config.json"): when every
 * key shares one first segment, paths are also looked up under it.
 */
export function fileMapFolder(files: Map<string, Blob>, name = 'selected files'): ModelFolder {
  const byPath = new Map<string, Blob>();
  for (const [key, blob] of files) byPath.set(relativePathSegments(key, name).join('/'), blob);
  const firstSegments = new Set([...byPath.keys()].map((k) => k.split('/')[0]));
  const commonRoot = firstSegments.size === 1 && [...byPath.keys()].every((k) => k.includes('/')) ? [...firstSegments][0] : undefined;

  const find = (path: string): Blob | undefined => {
    const key = relativePathSegments(path, name).join('/');
    return byPath.get(key) ?? (commonRoot === undefined ? undefined : byPath.get(`${commonRoot}/${key}`));
  };
  return {
    name,
    async open(path) {
      const blob = find(path);
      return blob && blobSource(blob, path);
    },
    async readText(path) {
      return find(path)?.text();
    },
  };
}
