// The benchmark page as a research instrument, in Chromium: a run with TeaCache and a BWCache sweep fills
// a table that keeps every column readable at desktop and phone widths (no card wider than itself), a
// speed–quality plot with one point per policy and sweep step, and a comparison with saved reports.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { launchBrowser, publicDirForTests, screenshot, startDevServer, watchErrors, type Browser, type Served } from './harness.ts';

let dev: Served;
let browser: Browser;

beforeAll(async () => {
  dev = await startDevServer(publicDirForTests().dir);
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await dev?.close();
});

/** Cards whose content is wider than the card (scrollWidth > clientWidth), by id. */
async function overflowingCards(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll<HTMLElement>('.card')]
      .filter((c) => !c.hidden && c.offsetParent !== null && c.scrollWidth > c.clientWidth)
      .map((c) => `${c.id || c.className} (${c.scrollWidth} > ${c.clientWidth})`),
  );
}

/** Per results row: how many of its cells are visible and lie inside the results card. */
async function visibleCellsPerRow(page: Page): Promise<number[]> {
  return page.evaluate(() => {
    const card = document.getElementById('results')!.getBoundingClientRect();
    return [...document.querySelectorAll('#results-table tbody tr')].map(
      (tr) =>
        [...tr.querySelectorAll('td')].filter((td) => {
          const r = td.getBoundingClientRect();
          return r.width > 0 && r.height > 0 && r.left >= card.left - 0.5 && r.right <= card.right + 0.5 && (td.textContent ?? '').trim() !== '';
        }).length,
    );
  });
}

describe('benchmark page: sweeps, the front, any width, machines side by side', () => {
  it('runs TeaCache and a BWCache sweep and shows every result at 1280×800 and 390×844', async () => {
    const page = await browser.context.newPage();
    const log = watchErrors(page);
    await page.setViewportSize({ width: 1280, height: 800 });
    const policies = encodeURIComponent('none,teacache,bwcache:threshold=0.1:0.3:0.1');
    await page.goto(`${dev.url}/bench.html?policies=${policies}&seeds=0&steps=3&profile=0&autorun=1`);
    await page.waitForFunction(() => document.body.dataset.lastRun !== undefined, null, { timeout: 240_000 });
    expect(await page.evaluate(() => document.body.dataset.lastRun)).toBe('done');

    const report = JSON.parse((await page.textContent('#bench-json'))!);
    const labels = report.policies.map((p: { label: string }) => p.label);
    expect(labels).toHaveLength(5);
    expect(labels.slice(2)).toEqual(['bwcache:threshold=0.1', 'bwcache:threshold=0.2', 'bwcache:threshold=0.3']);
    expect(report.policies.slice(2).map((p: { sweep: { value: number } }) => p.sweep.value)).toEqual([0.1, 0.2, 0.3]);
    // The plot: one point per policy and sweep step.
    expect(await page.locator('#front svg circle.point').count()).toBe(5);

    for (const [width, height] of [[1280, 800], [390, 844]]) {
      await page.setViewportSize({ width, height });
      await page.waitForTimeout(100);
      expect(await overflowingCards(page), `${width}×${height}`).toEqual([]);
      expect(await visibleCellsPerRow(page), `${width}×${height}`).toEqual([8, 8, 8, 8, 8]);
      // TeaCache's row is labelled briefly; its full spec is on hover.
      const teacache = page.locator('#results-table tbody tr').nth(1).locator('td').first();
      expect((await teacache.textContent())!.length).toBeLessThan(40);
      expect(await teacache.getAttribute('title')).toMatch(/^teacache:coefficients=/);
      await screenshot(page, `bench-${width}`);
    }

    // Hovering a point shows its settings and its compute/reuse pattern.
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.locator('#front svg circle.point').nth(4).hover();
    expect(await page.textContent('#front-detail')).toContain('bwcache:threshold=0.3');
    expect(await page.locator('#front-detail svg.heatmap').count()).toBe(1);

    // Two saved reports of different adapters, side by side with this run.
    const dir = mkdtempSync(join(tmpdir(), 'webdit-reports-'));
    const files = ['GPU A', 'GPU B'].map((name, i) => {
      const path = join(dir, `report-${i}.json`);
      const copy = { ...report, adapter: { ...report.adapter, description: name } };
      copy.policies = copy.policies.map((p: { speedup: number }) => ({ ...p, speedup: p.speedup * (i + 2) }));
      writeFileSync(path, JSON.stringify(copy));
      return path;
    });
    await page.setInputFiles('#compare-files', files);
    // The table shows this run already; wait for the two loaded reports' columns.
    await page.waitForFunction(() => document.querySelectorAll('#compare-policies thead th').length === 4, null, { timeout: 30_000 });
    const heads = await page.locator('#compare-policies thead th').allTextContents();
    expect(heads).toHaveLength(4);
    expect(heads[2]).toMatch(/^GPU A/);
    expect(heads[3]).toMatch(/^GPU B/);
    expect(await page.locator('#compare-policies tbody tr').count()).toBe(5);
    // A file that is not a report is refused by name; the comparison stays.
    const bad = join(dir, 'notes.json');
    writeFileSync(bad, '{"hello": 1}');
    await page.setInputFiles('#compare-files', bad);
    await page.waitForSelector('#compare-message.error');
    expect(await page.textContent('#compare-message')).toMatch(/notes\.json is not a webdit benchmark report/);
    expect(await page.locator('#compare-policies thead th').count()).toBe(4);
    expect(await overflowingCards(page)).toEqual([]);
    await page.setViewportSize({ width: 390, height: 844 });
    expect(await overflowingCards(page)).toEqual([]);
    await screenshot(page, 'bench-compare-390');
    expect(log.errors).toEqual([]);
    await page.close();
  }, 300_000);
});
