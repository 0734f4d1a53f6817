// The demo page (Vite's dev server, Chromium on SwiftShader) when the GPU fails mid-generation: the
// device destroyed during sampling, then an out-of-memory forced by lowering the context's cap. Each run
// ends with a clear message, frees what it held, and the next Generate works (on a new device and a
// reloaded model after the loss). The page reaches the very module instance it runs through Vite's
// /src/ URL, so the test can break its context.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { launchBrowser, publicDirForTests, startDevServer, type Browser, type Served } from './harness.ts';

let dev: Served;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  dev = await startDevServer(publicDirForTests().dir);
  browser = await launchBrowser();
  page = await browser.context.newPage();
  await page.goto(`${dev.url}/`);
  await page.waitForSelector('body[data-state=ready]', { timeout: 120_000 });
  await page.fill('#steps', '3');
  await page.selectOption('#cache-policy', 'none');
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await dev?.close();
});

async function generateOnce(p: Page, timeout = 180_000): Promise<string> {
  await p.evaluate(() => delete document.body.dataset.lastRun);
  await p.click('#generate');
  await p.waitForFunction(() => document.body.dataset.lastRun !== undefined, null, { timeout });
  return (await p.evaluate(() => document.body.dataset.lastRun))!;
}

/**
 * Runs `body` in the page with `ctx` bound to the page's GPU context, taken from the engine module the
 * page itself uses (a string, so that vitest does not rewrite its dynamic import).
 */
function withPageContext<T>(body: string): Promise<T> {
  return page.evaluate(`(async () => { const { sharedContext } = await import('/src/ui/engine.ts'); const ctx = await sharedContext(); ${body} })()`) as Promise<T>;
}

describe('the demo page with bad input', () => {
  it('refuses each before any GPU work, with the numbers and the nearest valid values', async () => {
    const before = await withPageContext<number>('return ctx.liveTensors;');
    const fields = async (values: Record<string, string>) => {
      for (const [id, v] of Object.entries(values)) await page.fill(`#${id}`, v);
    };
    const defaults = { frames: await page.inputValue('#frames'), height: await page.inputValue('#height'), width: await page.inputValue('#width'), steps: '3', guidance: await page.inputValue('#guidance'), seed: '0' };
    // The form's own constraints (min, max) stop some values in the browser with its message; the rest reach
    // generate's checks. Either way no run starts.
    const cases: [Record<string, string>, RegExp][] = [
      [{ frames: '100000', height: '4096', width: '4096' }, /100000 frames of 4096×4096 needs about \d+ GiB of GPU memory, with one buffer of \d+ GiB; your adapter's largest buffer is [\d.]+ [GM]iB/],
      [{ height: '30' }, /height must be a multiple of 4 for this model, got 30 \(nearest: 28 or 32\)/],
      [{ steps: '5000' }, /steps must be an integer from 1 to 1000, got 5000/],
      [{ guidance: '-2' }, /guidance must be a number ≥ 0/],
      [{ seed: '-3' }, /seed must be an integer from 0/],
      [{ frames: '' }, /frames must be a number, got ""/],
    ];
    for (const [values, message] of cases) {
      await fields({ ...defaults, ...values });
      const invalid = await page.evaluate(() => [...document.querySelectorAll('input')].filter((i) => !i.checkValidity()).map((i) => `${i.id}: ${i.validationMessage}`));
      if (invalid.length) {
        // Blocked by the browser's form validation, naming the field.
        expect(invalid.join('; '), JSON.stringify(values)).toMatch(new RegExp(`^${Object.keys(values)[0]}: .+`));
        continue;
      }
      const outcome = await generateOnce(page, 20_000).catch(async () =>
        page.evaluate(() => `timeout: state ${document.body.dataset.state}, label "${document.getElementById('run-label')?.textContent}", message "${document.getElementById('message')?.textContent}"`),
      );
      expect(outcome, JSON.stringify(values)).toBe('error');
      expect(await page.textContent('#message'), JSON.stringify(values)).toMatch(message);
    }
    await fields(defaults);
    // Nothing was allocated by the refused runs.
    expect(await withPageContext<number>('return ctx.liveTensors;')).toBe(before);

    // Words the toy model's vocabulary lacks are highlighted under the prompt.
    await page.fill('#prompt', 'a purple elephant dancing');
    await page.waitForSelector('#prompt-note.unknown-words:not([hidden])');
    expect(await page.locator('#prompt-note mark').allTextContents()).toEqual(['purple', 'elephant', 'dancing']);
    expect(await page.textContent('#prompt-note')).toMatch(/It knows .*circle/);
    await page.fill('#prompt', 'a red circle moving right on a black background');
    await page.waitForSelector('#prompt-note', { state: 'hidden' });
  }, 300_000);
});

describe('the demo page when the GPU fails', () => {
  it('device destroyed mid-generation: a clear message, and the next Generate works on a new device', async () => {
    // Destroy the device at the second wait for the GPU: step 1 of the sampling loop.
    const firstDevice = await withPageContext<boolean>(`
      const sync = ctx.sync.bind(ctx);
      let syncs = 0;
      ctx.sync = async () => {
        if (++syncs === 2) ctx.device.destroy();
        return sync();
      };
      window.firstCtx = ctx;
      return ctx.isLost;`);
    expect(firstDevice).toBe(false);
    expect(await generateOnce(page)).toBe('error');
    expect(await page.textContent('#message')).toMatch(/the GPU device was lost during the run \(.*destroyed.*\); nothing was kept: generate again/);
    expect(await page.isEnabled('#generate')).toBe(true);

    expect(await generateOnce(page)).toBe('done');
    const replaced = await withPageContext('return { replaced: ctx !== window.firstCtx, lost: ctx.isLost };');
    expect(replaced).toEqual({ replaced: true, lost: false });
    expect(await page.textContent('#message')).not.toMatch(/lost/);
  }, 400_000);

  it('out of memory while allocating: a clear message, nothing of the run left allocated, and the next Generate works', async () => {
    const before = await withPageContext<object>(`
      ctx.trimPool();
      ctx.memoryCapBytes = ctx.liveBytes + 16 * 1024;
      return { tensors: ctx.liveTensors, bytes: ctx.liveBytes };`);
    expect(await generateOnce(page)).toBe('error');
    expect(await page.textContent('#message')).toMatch(/out of GPU memory: .* the run's buffers were freed: use fewer frames, a smaller size/);
    const after = await withPageContext(`
      const held = { tensors: ctx.liveTensors, bytes: ctx.liveBytes, pooled: ctx.pooledBytes, lost: ctx.isLost };
      ctx.memoryCapBytes = Infinity;
      return held;`);
    expect(after).toEqual({ ...before, pooled: 0, lost: false });
    expect(await generateOnce(page)).toBe('done');
  }, 400_000);
});

/** Runs `body` in the page with `makeVideo(attrs)` creating a <webdit-video> (the page's own engine module). */
function withElement<T>(body: string): Promise<T> {
  return page.evaluate(`(async () => {
    await import('/src/element.ts');
    const { sharedContext } = await import('/src/ui/engine.ts');
    const makeVideo = (attrs) => {
      const el = document.createElement('webdit-video');
      for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
      document.body.append(el);
      return el;
    };
    const outcome = (p) => p.then(() => 'done', (e) => 'error: ' + e.message);
    ${body}
  })()`) as Promise<T>;
}

describe('<webdit-video> with bad attributes and a lost GPU', () => {
  it('refuses bad attributes before GPU work, and after a device loss the next generate() works', async () => {
    const result = await withElement<Record<string, string | number>>(`
      const ctx = await sharedContext();
      const tensors = ctx.liveTensors;
      const huge = await outcome(makeVideo({ prompt: 'a red circle', frames: '100000', height: '4096', width: '4096', steps: '2' }).generate());
      const steps = await outcome(makeVideo({ prompt: 'a red circle', steps: '0' }).generate());
      const cache = await outcome(makeVideo({ prompt: 'a red circle', steps: '2', cache: 'bwcache:speed=9' }).generate());
      const leftAfterRefusals = ctx.liveTensors - tensors;
      const sync = ctx.sync.bind(ctx);
      let syncs = 0;
      ctx.sync = async () => {
        if (++syncs === 2) ctx.device.destroy();
        return sync();
      };
      const el = makeVideo({ prompt: 'a red circle moving right', steps: '3', cache: 'none' });
      const lost = await outcome(el.generate());
      const again = await outcome(el.generate());
      return { huge, steps, cache, leftAfterRefusals, lost, again };`);
    expect(result.huge).toMatch(/^error: generate: 100000 frames of 4096×4096 needs about \d+ GiB of GPU memory, with one buffer of \d+ GiB; your adapter's largest buffer is/);
    expect(result.steps).toMatch(/^error: generate: steps must be an integer from 1 to 1000, got 0/);
    expect(result.cache).toMatch(/^error: .*bwcache.*speed/);
    expect(result.leftAfterRefusals).toBe(0);
    expect(result.lost).toMatch(/^error: generate: the GPU device was lost during the run .*generate again/);
    expect(result.again).toBe('done');
  }, 300_000);
});
