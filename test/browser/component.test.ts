// <webdit-video> as someone else's page uses it: `npm run build` output (dist/webdit.js beside the
// shipped model in dist/models/toy/) served as plain files, and a hand-written HTML page that imports
// /dist/webdit.js. Checks generate() with progress then done events, two elements sharing one model
// download and one GPU queue, abort() ending a run without a hang, and no console errors.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { buildAll, launchBrowser, modelLabelIn, publicDirForTests, screenshot, serveStatic, watchErrors, type Browser, type ErrorLog } from './harness.ts';

const CONSUMER_PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>A page that embeds webdit</title>
    <link rel="icon" href="data:," />
    <script type="module" src="/dist/webdit.js"></script>
    <style>
      body { font: 16px/1.5 Georgia, serif; max-width: 760px; margin: 40px auto; color: #222; }
      webdit-video { width: 300px; margin-right: 16px; }
    </style>
  </head>
  <body>
    <h1>My notes on video diffusion</h1>
    <p>Two clips, generated on your GPU while you read:</p>
    <webdit-video id="first" prompt="a blue square moving up on a white background" steps="8"></webdit-video>
    <webdit-video id="second" prompt="a red circle moving left on a black background" steps="2" seed="5" cache="none"></webdit-video>
  </body>
</html>
`;

let site: string;
let server: Awaited<ReturnType<typeof serveStatic>>;
let browser: Browser;
let page: Page;
let log: ErrorLog;
/** The clip shape the model makes at its own size, [F, 3, H, W]. */
let clipShape: number[];
let label: string;

beforeAll(async () => {
  site = mkdtempSync(join(tmpdir(), 'webdit-site-'));
  const publicDir = publicDirForTests().dir;
  const index = JSON.parse(readFileSync(join(publicDir, 'models/toy/model_index.json'), 'utf8'));
  clipShape = [index.frames, 3, index.height, index.width];
  label = modelLabelIn(publicDir);
  await buildAll(join(site, 'dist'), publicDir);
  mkdirSync(join(site, 'blog'));
  writeFileSync(join(site, 'blog/index.html'), CONSUMER_PAGE);
  server = await serveStatic(site);
  browser = await launchBrowser();
  page = await browser.context.newPage();
  log = watchErrors(page);
  await page.goto(`${server.url}/blog/`);
  await page.evaluate(() => customElements.whenDefined('webdit-video'));
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (site) rmSync(site, { recursive: true, force: true });
});

interface RunLog {
  events: { id: string; type: string; step?: number; steps?: number; message?: string; frameCount?: number; seconds?: number }[];
  results: { id: string; shape: number[]; videoBytes: number; reused: number }[];
}

describe('<webdit-video> from dist/webdit.js', () => {
  it('the build writes one self-contained module', () => {
    // Shaders and libwebp's wasm are inside: no other chunk is needed beside it.
    expect(statSync(join(site, 'dist/webdit.js')).size).toBeGreaterThan(500_000);
    expect(statSync(join(site, 'dist/models/toy/transformer/config.json')).isFile()).toBe(true);
  });

  it('generate() fires progress then done; two elements share one model download and one GPU queue', async () => {
    await screenshot(page, 'component-idle');
    const run: RunLog = await page.evaluate(async () => {
      const events: RunLog['events'] = [];
      const els = [...document.querySelectorAll('webdit-video')];
      for (const el of els) {
        el.addEventListener('progress', (e) => {
          const d = (e as unknown as CustomEvent).detail;
          events.push({ id: el.id, type: d.stage === 'sample' ? 'progress' : d.stage, step: d.step, steps: d.steps });
        });
        el.addEventListener('done', (e) => {
          const d = (e as unknown as CustomEvent).detail;
          events.push({ id: el.id, type: 'done', frameCount: d.frameCount, seconds: d.seconds });
        });
        el.addEventListener('error', (e) => events.push({ id: el.id, type: 'error', message: (e as unknown as CustomEvent).detail.message }));
      }
      type Generating = HTMLElement & { generate(): Promise<{ shape: number[]; video: Blob; stats: { computedFraction: number } }> };
      const results = await Promise.all(
        (els as Generating[]).map(async (el) => {
          const r = await el.generate();
          return { id: el.id, shape: r.shape, videoBytes: r.video.size, reused: 1 - r.stats.computedFraction };
        }),
      );
      return { events, results };
    });

    const first = run.events.filter((e) => e.id === 'first');
    const second = run.events.filter((e) => e.id === 'second');
    expect(first.filter((e) => e.type === 'progress').map((e) => e.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(first.at(-1)).toMatchObject({ type: 'done', frameCount: clipShape[0] });
    expect(second.filter((e) => e.type === 'progress').map((e) => e.step)).toEqual([1, 2]);
    expect(second.at(-1)).toMatchObject({ type: 'done', frameCount: clipShape[0] });
    expect(run.events.some((e) => e.type === 'error')).toBe(false);
    // The stages after sampling: decode (the toy model's identity decoder), then the video file.
    expect(first.filter((e) => e.type === 'decode' || e.type === 'video').map((e) => e.type)).toEqual(['decode', 'video']);
    // One queue: one element's steps all come before the other's.
    const order = run.events.filter((e) => e.type === 'progress').map((e) => e.id);
    const switches = order.filter((id, i) => i > 0 && id !== order[i - 1]).length;
    expect(switches).toBe(1);
    for (const r of run.results) {
      expect(r.shape).toEqual(clipShape);
      expect(r.videoBytes).toBeGreaterThan(1000);
    }
    // One model: its config and weights were fetched for one load, not one per element.
    expect(server.requests.get('/dist/models/toy/transformer/config.json')).toBe(1);

    // Each element plays its clip in its own shadow DOM.
    await page.waitForFunction(
      () => [...document.querySelectorAll('webdit-video')].every((el) => (el.shadowRoot!.querySelector('video') as HTMLVideoElement).readyState >= 2),
      null,
      { timeout: 30_000 },
    );
    const videos = await page.evaluate(() =>
      [...document.querySelectorAll('webdit-video')].map((el) => {
        const v = el.shadowRoot!.querySelector('video') as HTMLVideoElement;
        return { duration: v.duration, error: v.error?.message ?? null };
      }),
    );
    for (const v of videos) {
      expect(v.duration).toBeGreaterThan(0);
      expect(v.error).toBeNull();
    }
    await screenshot(page, 'component');
    expect(log.errors).toEqual([]);
  }, 300_000);

  it('the built demo page loads the shipped model through the download cache', async () => {
    const demo = await browser.context.newPage();
    const demoLog = watchErrors(demo);
    await demo.goto(`${server.url}/dist/`);
    await demo.waitForSelector('body[data-state=ready]', { timeout: 120_000 });
    expect(await demo.textContent('#model-name')).toBe(label);
    // The element's load above stored the files (OPFS in this profile); the page reads them from there.
    await demo.waitForFunction(() => document.getElementById('cache-summary')!.textContent !== '', null, { timeout: 30_000 });
    expect(await demo.textContent('#cache-summary')).toMatch(/Kept in this browser for the next visit: \d+ files, .* stored/);
    expect(await demo.isEnabled('#generate')).toBe(true);
    await demo.close();
    expect(demoLog.errors).toEqual([]);
  }, 180_000);

  it('abort() stops a run: the promise rejects with AbortError and an error event fires', async () => {
    const outcome = await page.evaluate(async () => {
      const el = document.getElementById('first') as HTMLElement & { generate(): Promise<unknown>; abort(): void };
      el.setAttribute('steps', '30');
      const errors: string[] = [];
      el.addEventListener('error', (e) => errors.push((e as unknown as CustomEvent).detail.message));
      el.addEventListener('progress', (e) => {
        if ((e as unknown as CustomEvent).detail.step === 1) el.abort();
      });
      const started = performance.now();
      try {
        await el.generate();
        return { rejected: false, name: '', errors, ms: performance.now() - started };
      } catch (e) {
        return { rejected: true, name: (e as Error).name, errors, ms: performance.now() - started };
      }
    });
    expect(outcome.rejected).toBe(true);
    expect(outcome.name).toBe('AbortError');
    expect(outcome.errors).toEqual(['generation aborted']);
    // Stopped within a step or two, far from the 30 steps asked for.
    const again = await page.evaluate(async () => {
      const el = document.getElementById('second') as HTMLElement & { generate(): Promise<{ shape: number[] }> };
      el.setAttribute('steps', '1');
      return (await el.generate()).shape;
    });
    expect(again).toEqual(clipShape);
    expect(log.errors).toEqual([]);
  }, 240_000);
});
