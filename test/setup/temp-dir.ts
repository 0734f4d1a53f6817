// Global setup: every test file's temporary files (tiny models, Chromium profiles, generated clips) go into
// one directory of this run, removed at the end, so that test runs leave nothing behind in the system's /tmp.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'webdit-test-'));
  // Workers are forked after this runs and inherit the environment; os.tmpdir() reads TMPDIR at each call.
  process.env.TMPDIR = dir;
  return () => rmSync(dir, { recursive: true, force: true });
}
