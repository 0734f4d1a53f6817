// Node-side up-front checks for the paths a command is given, run before any GPU work: a typo in
// --out must not cost a whole generation, and --model must name a folder that exists.

import { closeSync, openSync, statSync, unlinkSync } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
import { UsageError } from './args.ts';

function statOrUndefined(path: string) {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

/** The output file's extension is one of `extensions` (when given), its folder exists and is writable, and it is not a folder. */
export function checkOutputPath(command: string, path: string, extensions?: string[]): void {
  const ext = extname(path).toLowerCase();
  if (extensions && !extensions.includes(ext)) throw new UsageError(`${command}: --out must end in ${extensions.join(', ')}, got "${path}"`);
  const folder = dirname(resolve(path));
  const folderStat = statOrUndefined(folder);
  if (!folderStat) throw new UsageError(`${command}: cannot write ${path}: the folder ${folder} does not exist (create it first)`);
  if (!folderStat.isDirectory()) throw new UsageError(`${command}: cannot write ${path}: ${folder} is not a folder`);
  // A real probe file: permission bits say nothing for root or on read-only mounts such as /proc.
  const probe = `${resolve(path)}.webdit-probe-${process.pid}`;
  try {
    closeSync(openSync(probe, 'wx'));
    unlinkSync(probe);
  } catch (e) {
    throw new UsageError(`${command}: cannot write ${path}: the folder ${folder} is not writable (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (statOrUndefined(path)?.isDirectory()) throw new UsageError(`${command}: cannot write ${path}: it is a folder`);
}

/** A --model path exists and is a folder (its layout is checked by loadBundle's preflight). */
export function checkModelPath(command: string, path: string): void {
  const s = statOrUndefined(path);
  if (!s) throw new UsageError(`${command}: --model ${path}: no such folder`);
  if (!s.isDirectory()) throw new UsageError(`${command}: --model ${path} is a file; give the model's folder (the one holding model_index.json or transformer/ and scheduler/)`);
}

/** An input file given on the command line exists and is a file. */
export function checkInputFile(command: string, option: string, path: string): void {
  const s = statOrUndefined(path);
  if (!s) throw new UsageError(`${command}: --${option} ${path}: no such file`);
  if (!s.isFile()) throw new UsageError(`${command}: --${option} ${path} is not a file`);
}
