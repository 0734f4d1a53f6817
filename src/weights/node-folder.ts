// A local directory as a ModelFolder (Node only).

import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { relativePathSegments, type ModelFolder } from './folder.ts';
import { fileSource } from './node-source.ts';
import { packageRoot } from '../gpu/package-root.ts';

function isMissing(e: unknown): boolean {
  const code = (e as { code?: string } | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

export function directoryFolder(dir: string): ModelFolder {
  const root = resolve(dir);
  const pathOf = (path: string) => join(root, ...relativePathSegments(path, root));
  return {
    name: root,
    async open(path) {
      try {
        return await fileSource(pathOf(path));
      } catch (e) {
        if (isMissing(e)) return undefined;
        throw e;
      }
    },
    async readText(path) {
      try {
        return await readFile(pathOf(path), 'utf8');
      } catch (e) {
        if (isMissing(e)) return undefined;
        throw e;
      }
    },
  };
}

/** The toy model webdit ships (public/models/toy/ in the repository and in the npm package). */
export function shippedModelDir(): string {
  return join(packageRoot(), 'public', 'models', 'toy');
}
