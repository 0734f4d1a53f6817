// Node only: the folder of webdit's package.json, so files shipped beside the code (shaders/,
// public/models/toy/) are found both from src/ (a checkout, run by tsx or Vitest) and from the
// built lib/src/ of the npm package, whose depth differs.

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

export function packageRoot(): string {
  if (root) return root;
  const here = dirname(fileURLToPath(import.meta.url));
  for (let dir = here; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name === 'webdit') return (root = dir);
    if (dirname(dir) === dir) throw new Error(`no package.json named "webdit" in ${here} or any folder above it`);
  }
}
