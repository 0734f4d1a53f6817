// Browser tests' harness: Chromium on SwiftShader (playwright-core, the system's /usr/bin/chromium),
// Vite's dev server or a build served by a small static server (HTTP Range, as model loading needs),
// the model to test with (the shipped one when it is there, else a random tiny one), console-error
// collection and screenshots.

import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { chromium, type BrowserContext, type ConsoleMessage, type Page } from 'playwright-core';
import { build, createServer, type ViteDevServer } from 'vite';
import { writeTinyModel } from '../helpers/tiny-model.ts';

export const ROOT = resolve(import.meta.dirname, '../..');
export const SCREENSHOTS = join(ROOT, 'test-output/screenshots');
const CONFIG = join(ROOT, 'vite.config.ts');

export const CHROMIUM_ARGS = [
  '--enable-unsafe-webgpu',
  '--enable-unsafe-swiftshader',
  '--use-webgpu-adapter=swiftshader',
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--headless',
];

function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

// ---- the model -----------------------------------------------------------------------------------

const SHIPPED = join(ROOT, 'public/models/toy');

/** Whether public/models/toy/ holds a whole model (it is trained and exported by another job). */
export function shippedModelPresent(): boolean {
  const has = (p: string) => existsSync(join(SHIPPED, p));
  return (
    has('model_index.json') &&
    has('scheduler/scheduler_config.json') &&
    has('transformer/config.json') &&
    (has('transformer/diffusion_pytorch_model.safetensors') || has('transformer/diffusion_pytorch_model.safetensors.index.json'))
  );
}

/**
 * A public/ folder for the servers: the repository's, when it holds the shipped model; otherwise a
 * temporary one with a random tiny model at models/toy/, so the pages run the same code paths.
 */
export function publicDirForTests(): { dir: string; shipped: boolean } {
  // WEBDIT_TEST_TINY_MODEL=1 forces the tiny model (checks the fallback; faster on a slow machine).
  if (shippedModelPresent() && !process.env.WEBDIT_TEST_TINY_MODEL) return { dir: join(ROOT, 'public'), shipped: true };
  const dir = tempDir('webdit-public-');
  mkdirSync(join(dir, 'models'), { recursive: true });
  cpSync(writeTinyModel(), join(dir, 'models/toy'), { recursive: true });
  return { dir, shipped: false };
}

/** The name the pages show for the test model: model_index.json's name, else its folder's ("toy"). */
export function modelLabelIn(publicDir: string): string {
  const index = JSON.parse(readFileSync(join(publicDir, 'models/toy/model_index.json'), 'utf8')) as { name?: unknown };
  return typeof index.name === 'string' ? index.name : 'toy';
}

// ---- servers -------------------------------------------------------------------------------------

export interface Served {
  url: string;
  close(): Promise<void>;
}

/** Vite's dev server on 127.0.0.1 at an ephemeral port (no file watching, its own dependency cache). */
export async function startDevServer(publicDir: string): Promise<Served & { server: ViteDevServer }> {
  const server = await createServer({
    configFile: CONFIG,
    root: ROOT,
    publicDir,
    cacheDir: tempDir('webdit-vite-cache-'),
    logLevel: 'warn',
    clearScreen: false,
    server: { host: '127.0.0.1', port: 0, strictPort: false, hmr: false, watch: null },
  });
  await server.listen();
  const address = server.httpServer!.address();
  if (!address || typeof address === 'string') throw new Error('dev server has no port');
  return { server, url: `http://127.0.0.1:${address.port}`, close: () => server.close() };
}

/** `npm run build` into `outDir`: the site (pages, public/), then the library (webdit.js). */
export async function buildAll(outDir: string, publicDir: string): Promise<void> {
  const common = { configFile: CONFIG, root: ROOT, logLevel: 'warn' as const, clearScreen: false };
  // Vitest sets NODE_ENV=test, which would make Vite build in development mode (import.meta.env.DEV).
  const nodeEnv = process.env.NODE_ENV;
  process.env.NODE_ENV = 'production';
  try {
    await build({ ...common, publicDir, build: { outDir, emptyOutDir: true } });
    await build({ ...common, mode: 'lib', build: { outDir, emptyOutDir: false } });
  } finally {
    process.env.NODE_ENV = nodeEnv;
  }
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.md': 'text/markdown; charset=utf-8',
};

export interface StaticServerOptions {
  /** Answer every GET with 200 and the whole file, as Python's http.server and some CDNs do. */
  ignoreRange?: boolean;
}

/**
 * A static file server for `root` with HTTP Range support (what urlSource reads weights with), or
 * without it. It counts requests per path, so a test can check that weights are fetched once for
 * many elements, and logs "status path range" for each answer.
 */
export async function serveStatic(
  root: string,
  options: StaticServerOptions = {},
): Promise<Served & { requests: Map<string, number>; answers: string[] }> {
  const requests = new Map<string, number>();
  const answers: string[] = [];
  const server: Server = createHttpServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    requests.set(path, (requests.get(path) ?? 0) + 1);
    res.on('finish', () => answers.push(`${res.statusCode} ${path} ${req.headers.range ?? ''}`.trim()));
    let file = normalize(join(root, path));
    if (!file.startsWith(root + sep) && file !== root) {
      res.writeHead(403).end();
      return;
    }
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
    if (!existsSync(file) || !statSync(file).isFile() || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
      return;
    }
    const body = readFileSync(file);
    const headers: Record<string, string | number> = {
      'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
      ...(options.ignoreRange ? {} : { 'Accept-Ranges': 'bytes' }),
      'Cache-Control': 'no-store',
    };
    const range = options.ignoreRange ? null : /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (range) {
      const start = Number(range[1]);
      const end = range[2] ? Math.min(Number(range[2]), body.length - 1) : body.length - 1;
      if (start >= body.length || start > end) {
        res.writeHead(416, { ...headers, 'Content-Range': `bytes */${body.length}` }).end();
        return;
      }
      res.writeHead(206, { ...headers, 'Content-Range': `bytes ${start}-${end}/${body.length}`, 'Content-Length': end - start + 1 });
      res.end(req.method === 'HEAD' ? undefined : body.subarray(start, end + 1));
      return;
    }
    res.writeHead(200, { ...headers, 'Content-Length': body.length });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('static server has no port');
  return {
    url: `http://127.0.0.1:${address.port}`,
    requests,
    answers,
    // Without closeAllConnections, close() waits for every connection the browser keeps open (requests a
    // failed page load left in flight included): a test's `finally` then hung past its timeout.
    close: () =>
      new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      }),
  };
}

// ---- the browser ---------------------------------------------------------------------------------

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Headless Chromium with WebGPU on SwiftShader, in a fresh profile. */
export async function launchBrowser(): Promise<Browser> {
  const profile = tempDir('webdit-chromium-');
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 900 },
    acceptDownloads: true,
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export interface ErrorLog {
  /** Console errors and uncaught page errors, except the 404s a test declared expected. */
  errors: string[];
  /** Declares that a 404 of a URL matching `pattern` is expected (an optional file probed, a bad URL typed). */
  expect404(pattern: RegExp): void;
}

/**
 * Collects a page's console errors and uncaught exceptions. A browser logs every failed request as a
 * console error, and model loading probes optional files that a 404 declares absent: those 404s (and
 * the ones a test provokes) are matched against the expected patterns; any other error is kept.
 */
export function watchErrors(page: Page): ErrorLog {
  // Optional files of a model folder, read as "absent" on 404: a sharded checkpoint's index, a TeaCache
  // calibration (teacache.json), a text encoder's vocabulary.
  const allowed: RegExp[] = [/\.safetensors\.index\.json$/, /\/teacache\.json$/, /\/text_encoder\/vocab\.json$/];
  const errors: string[] = [];
  page.on('console', (m: ConsoleMessage) => {
    if (m.type() !== 'error') return;
    const text = m.text();
    const url = m.location().url;
    if (/Failed to load resource: the server responded with a status of 404/.test(text) && allowed.some((p) => p.test(url))) return;
    errors.push(`console: ${text}${url ? ` (${url})` : ''}`);
  });
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  return {
    errors,
    expect404: (pattern) => allowed.push(pattern),
  };
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

export interface CheckPage {
  page: Page;
  log: ErrorLog;
  close(): Promise<void>;
}

/** A test page under test/browser/ opened in a fresh Chromium from Vite's dev server, errors watched. */
export async function openCheckPage(file: string): Promise<CheckPage> {
  const dev = await startDevServer(join(ROOT, 'public'));
  let browser: Browser | undefined;
  try {
    browser = await launchBrowser();
    const page = await browser.context.newPage();
    const log = watchErrors(page);
    await page.goto(`${dev.url}/test/browser/${file}`);
    const opened = browser;
    return {
      page,
      log,
      async close() {
        await opened.close();
        await dev.close();
      },
    };
  } catch (e) {
    await browser?.close();
    await dev.close();
    throw e;
  }
}
