// The built site (dist/: the demo, webdit.js and the shipped model) on a static server that ignores
// HTTP Range and answers every GET with 200 and the whole file, as Python's http.server does. The
// demo and <webdit-video>, each in a fresh browser profile (so each downloads the model rather than
// reading the other's stored copy), load the model and produce frames. Two steps each, to stay short.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAll, launchBrowser, modelLabelIn, publicDirForTests, serveStatic, watchErrors, type Browser } from './harness.ts';

const COMPONENT_PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>webdit on a plain static host</title>
    <link rel="icon" href="data:," />
    <script type="module" src="/dist/webdit.js"></script>
  </head>
  <body>
    <webdit-video id="clip" prompt="a blue square moving up on a white background" steps="2"></webdit-video>
  </body>
</html>
`;

let site: string;
let label: string;
let server: Awaited<ReturnType<typeof serveStatic>>;
const browsers: Browser[] = [];

beforeAll(async () => {
  site = mkdtempSync(join(tmpdir(), 'webdit-static-host-'));
  const publicDir = publicDirForTests().dir;
  label = modelLabelIn(publicDir);
  await buildAll(join(site, 'dist'), publicDir);
  mkdirSync(join(site, 'page'));
  writeFileSync(join(site, 'page/index.html'), COMPONENT_PAGE);
  server = await serveStatic(site, { ignoreRange: true });
}, 180_000);

afterAll(async () => {
  for (const b of browsers) await b.close();
  await server?.close();
  if (site) rmSync(site, { recursive: true, force: true });
});

async function freshBrowser(): Promise<Browser> {
  const b = await launchBrowser();
  browsers.push(b);
  return b;
}

/** The server's answers for weight files: every one a 200, at least one to a Range request it ignored. */
function expectWeightsStreamedWhole(answers: string[]): void {
  const weights = answers.filter((a) => /\.safetensors\b/.test(a) && !/\.index\.json/.test(a));
  expect(weights.length).toBeGreaterThan(0);
  for (const a of weights) expect(a).toMatch(/^200 /);
  expect(weights.some((a) => / bytes=\d+-\d+$/.test(a))).toBe(true);
}

describe('on a static host that ignores HTTP Range', () => {
  it('the demo loads the shipped model and generates a clip', async () => {
    server.answers.length = 0;
    const page = await (await freshBrowser()).context.newPage();
    const log = watchErrors(page);
    await page.goto(`${server.url}/dist/`);
    await page.waitForSelector('body[data-state=ready], body[data-state=failed]', { timeout: 120_000 });
    // On failure the loader's notice says why: report that rather than a bare state.
    if ((await page.evaluate(() => document.body.dataset.state)) === 'failed') {
      throw new Error(`the demo did not load the model: ${await page.textContent('#loader-message')}`);
    }
    expect(await page.textContent('#model-name')).toBe(label);
    await page.fill('#steps', '2');
    await page.click('#generate');
    await page.waitForFunction(() => document.body.dataset.lastRun !== undefined, null, { timeout: 180_000 });
    expect(await page.evaluate(() => document.body.dataset.lastRun)).toBe('done');
    await page.waitForFunction(() => (document.getElementById('video') as HTMLVideoElement).readyState >= 2, null, { timeout: 30_000 });
    expect(await page.evaluate(() => (document.getElementById('video') as HTMLVideoElement).duration)).toBeGreaterThan(0);
    expectWeightsStreamedWhole(server.answers);
    expect(log.errors).toEqual([]);
  }, 300_000);

  it('<webdit-video> loads the shipped model and generates frames', async () => {
    server.answers.length = 0;
    const page = await (await freshBrowser()).context.newPage();
    const log = watchErrors(page);
    await page.goto(`${server.url}/page/`);
    const result = await page.evaluate(async () => {
      await customElements.whenDefined('webdit-video');
      const el = document.getElementById('clip') as HTMLElement & { generate(): Promise<{ shape: number[]; video: Blob }> };
      const r = await el.generate();
      return { shape: r.shape, videoBytes: r.video.size };
    });
    expect(result.shape[1]).toBe(3);
    expect(result.shape[0]).toBeGreaterThan(0);
    expect(result.videoBytes).toBeGreaterThan(1000);
    expectWeightsStreamedWhole(server.answers);
    expect(log.errors).toEqual([]);
  }, 300_000);

  it('a model on another origin without CORS headers fails with a message naming the URL and CORS', async () => {
    const elsewhere = await serveStatic(site);
    try {
      const page = await (browsers.at(-1) ?? (await freshBrowser())).context.newPage();
      await page.goto(`${server.url}/page/`);
      const modelUrl = `${elsewhere.url}/dist/models/toy/`;
      const message = await page.evaluate(async (url) => {
        await customElements.whenDefined('webdit-video');
        const el = document.createElement('webdit-video') as HTMLElement & { generate(): Promise<unknown> };
        el.setAttribute('model', url);
        el.setAttribute('steps', '1');
        document.body.append(el);
        return el.generate().then(() => 'generated', (e: Error) => e.message);
      }, modelUrl);
      expect(message).toContain(`GET ${modelUrl}`);
      expect(message).toContain('failed: network error (Failed to fetch); the browser does not say why');
      expect(message).toContain('CORS: it must send Access-Control-Allow-Origin');
    } finally {
      await elsewhere.close();
    }
  }, 60_000);
});
