#!/usr/bin/env node
// The `webdit` command. In a checkout it runs the TypeScript CLI through tsx (a dev dependency), so no
// build step is needed after `npm ci`; the npm package ships no src/ and runs the JavaScript built into lib/.
import { existsSync } from 'node:fs';

let main;
if (existsSync(new URL('../src/cli/main.ts', import.meta.url))) {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../src/cli/main.ts'));
} else {
  ({ main } = await import('../lib/src/cli/main.js'));
}
process.exitCode = await main(process.argv.slice(2));
