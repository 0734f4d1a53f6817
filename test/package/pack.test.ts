// The npm package end to end (test/package/pack.sh): pack, install the tarball into a fresh project,
// `npx webdit info`, a 2-step toy clip from Node through `import 'webdit'`, a Vite app that builds and
// type-checks; then that app runs in Chromium: <webdit-video> and the API each generate a clip.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { launchBrowser, serveStatic, watchErrors, type Browser } from '../browser/harness.ts';

const SCRIPT = resolve(import.meta.dirname, 'pack.sh');
const work = mkdtempSync(join(tmpdir(), 'webdit-pack-app-'));
const appDist = join(work, 'dist');
let browser: Browser | undefined;
let server: Awaited<ReturnType<typeof serveStatic>> | undefined;

afterAll(async () => {
  await browser?.close();
  await server?.close();
  rmSync(work, { recursive: true, force: true });
});

describe('the npm package', () => {
  it('installs from its tarball, runs its CLI, generates from Node and builds in a Vite app', () => {
    // Vitest's NODE_ENV=test would make the package's Vite build a development one.
    const env: NodeJS.ProcessEnv = { ...process.env, PACK_APP_DIST: appDist };
    delete env.NODE_ENV;
    const run = spawnSync('bash', [SCRIPT], { env, encoding: 'utf8', timeout: 280_000 });
    const log = `${run.stdout}\n${run.stderr}`;
    expect(run.error, log).toBeUndefined();
    expect(run.status, log).toBe(0);
    expect(log).toMatch(/tarball webdit-[\d.]+\.tgz: [\d.]+ MB packed/);
    expect(log).toMatch(/8 frames 32x32, \d+ bytes of WebM/);
    expect(log).toContain('== package test passed');
  }, 300_000);

  it("the Vite app runs in Chromium: <webdit-video> from 'webdit/element' and generate() from 'webdit'", async () => {
    server = await serveStatic(appDist);
    browser = await launchBrowser();
    const page = await browser.context.newPage();
    const log = watchErrors(page);
    await page.goto(`${server.url}/`);
    await page.waitForFunction(() => 'runWebdit' in window, null, { timeout: 30_000 });
    const result = await page.evaluate(async () => {
      type Generating = HTMLElement & { generate(): Promise<{ shape: number[]; video: Blob }> };
      const element = document.querySelector('webdit-video') as Generating;
      const fromElement = await element.generate();
      const w = window as unknown as { runWebdit(): Promise<{ shape: number[]; frames: Float32Array }>; webditVideoDefined: boolean };
      const fromApi = await w.runWebdit();
      return {
        defined: w.webditVideoDefined,
        elementShape: fromElement.shape,
        videoBytes: fromElement.video.size,
        apiShape: fromApi.shape,
        apiFinite: fromApi.frames.every(Number.isFinite),
      };
    });
    expect(result).toMatchObject({ defined: true, elementShape: [8, 3, 32, 32], apiShape: [8, 3, 32, 32], apiFinite: true });
    expect(result.videoBytes).toBeGreaterThan(1000);
    // The element found the model at models/toy/ under the page, where the app put the package's copy.
    expect(server.requests.get('/models/toy/transformer/config.json')).toBeGreaterThanOrEqual(1);
    expect(log.errors).toEqual([]);
  }, 120_000);
});
