// The benchmark page (bench.html): runCacheBenchmark in the browser, with its table, the per-block
// relative-L1 curve, the per-kernel GPU time, the adapter, and the report as JSON (#bench-json) and
// as a download. Settings come from the form or the address (?policies=none,bwcache&seeds=0&steps=4
// &autorun=1), so a run can be linked and scripted.

import { INDICATOR_LABEL } from '../cache/manager.ts';
import { expandCacheSpec, splitCacheSpecs } from '../cache/spec.ts';
import type { GpuContext } from '../gpu/context.ts';
import { runCacheBenchmark, type BenchReport } from '../pipeline/bench.ts';
import { AbortError } from '../pipeline/generate.ts';
import { urlFolder } from '../weights/folder.ts';
import { blobSource } from '../weights/source.ts';
import { heatmap, lineChart } from './charts.ts';
import { frontSvg, type FrontPoint } from '../pipeline/bench-front.ts';
import { compareReports, parseBenchReport } from './bench-compare.ts';
import { PROMPT_TENSORS, readPromptEmbedding } from './embeddings.ts';
import { runExclusive, sharedModel, type SharedModel } from './engine.ts';
import { byId, describeLoad, downloadBlob, errorMessage, formatBytes, formatPercent, formatSeconds, h } from './format.ts';
import { modelLabel, shippedModelUrl } from './model.ts';
import { adapterName, notice, setPageState, startWebGpu } from './page.ts';

const $ = {
  form: byId<HTMLFormElement>('bench-form'),
  checks: byId('policy-checks'),
  extra: byId<HTMLInputElement>('extra-specs'),
  seeds: byId<HTMLInputElement>('seeds'),
  steps: byId<HTMLInputElement>('steps'),
  prompt: byId<HTMLInputElement>('prompt'),
  frames: byId<HTMLInputElement>('frames'),
  height: byId<HTMLInputElement>('height'),
  width: byId<HTMLInputElement>('width'),
  guidance: byId<HTMLInputElement>('guidance'),
  profile: byId<HTMLInputElement>('profile'),
  modelUrl: byId<HTMLInputElement>('model-url'),
  decoderFile: byId<HTMLInputElement>('decoder-file'),
  embedsFile: byId<HTMLInputElement>('embeds-file'),
  run: byId<HTMLButtonElement>('run'),
  abort: byId<HTMLButtonElement>('abort'),
  bar: byId<HTMLProgressElement>('bench-bar'),
  label: byId('bench-label'),
  elapsed: byId('bench-elapsed'),
  message: byId('message'),
  results: byId('results'),
  resultsCaption: byId('results-caption'),
  tbody: byId('results-table').querySelector('tbody')!,
  curveCard: byId('curve-card'),
  curve: byId('curve'),
  kernelsCard: byId('kernels-card'),
  kernels: byId('kernels'),
  kernelsCaption: byId('kernels-caption'),
  adapter: byId('adapter'),
  jsonCard: byId('json-card'),
  json: byId('bench-json'),
  downloadJson: byId<HTMLButtonElement>('download-json'),
  frontCard: byId('front-card'),
  front: byId('front'),
  frontDetail: byId('front-detail'),
  compareFiles: byId<HTMLInputElement>('compare-files'),
  compare: byId('compare'),
  compareMessage: byId('compare-message'),
  badge: byId('gpu-badge'),
};

function selectedPolicies(): string[] {
  const boxes = [...$.checks.querySelectorAll<HTMLInputElement>('input[type=checkbox]')];
  const specs = boxes.filter((b) => b.checked).map((b) => b.value);
  specs.push(...splitCacheSpecs($.extra.value));
  for (const s of specs) expandCacheSpec(s); // a clear error before anything runs
  return [...new Set(specs)];
}

function parseSeeds(text: string): number[] {
  const seeds = text.split(/[\s,;]+/).filter(Boolean).map(Number);
  if (!seeds.length || seeds.some((s) => !Number.isInteger(s) || s < 0)) throw new Error(`seeds must be non-negative integers, got "${text}"`);
  return seeds;
}

function optionalNumber(el: HTMLInputElement, name: string): number | undefined {
  if (el.value.trim() === '') return undefined;
  const v = Number(el.value);
  if (!Number.isFinite(v)) throw new Error(`${name} must be a number, got "${el.value}"`);
  return v;
}

/** Fills the form from the address: policies, seeds, steps, prompt, frames, height, width, guidance, profile, model. */
function applyQuery(params: URLSearchParams): void {
  const policies = params.get('policies');
  if (policies !== null) {
    const specs = splitCacheSpecs(policies);
    const boxes = [...$.checks.querySelectorAll<HTMLInputElement>('input[type=checkbox]')];
    for (const b of boxes) if (!b.disabled) b.checked = specs.includes(b.value);
    $.extra.value = specs.filter((s) => !boxes.some((b) => b.value === s)).join(', ');
  }
  const fields: [string, HTMLInputElement][] = [
    ['seeds', $.seeds],
    ['steps', $.steps],
    ['prompt', $.prompt],
    ['frames', $.frames],
    ['height', $.height],
    ['width', $.width],
    ['guidance', $.guidance],
    ['model', $.modelUrl],
  ];
  for (const [name, el] of fields) {
    const v = params.get(name);
    if (v !== null) el.value = v;
  }
  const profile = params.get('profile');
  if (profile !== null) $.profile.checked = profile !== '0' && profile !== 'false';
}

function showAdapter(ctx: GpuContext): void {
  const { vendor, architecture, device, description } = ctx.adapterInfo;
  const features = [...ctx.features].sort();
  const rows: [string, Node | string][] = [
    ['Adapter', adapterName(ctx)],
    ['Description', description || '–'],
    ['Vendor / architecture', `${vendor || '–'} / ${architecture || '–'}${device ? ` / ${device}` : ''}`],
    ['Max buffer', formatBytes(ctx.limits.maxBufferSize)],
    ['Max binding', formatBytes(ctx.limits.maxStorageBufferBindingSize)],
    ['Features', h('div', { class: 'tags' }, ...features.map((f) => h('span', { class: ['shader-f16', 'subgroups', 'timestamp-query'].includes(f) ? 'tag on' : 'tag' }, f)))],
  ];
  $.adapter.replaceChildren(...rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
  if (!ctx.features.has('timestamp-query')) {
    $.profile.checked = false;
    $.profile.disabled = true;
    $.profile.parentElement!.title = 'This adapter has no timestamp-query feature';
  }
}

let running: AbortController | undefined;
let lastJson: string | undefined;
let lastReport: BenchReport | undefined;
/** Reports loaded for comparison, by file name. */
const loadedReports = new Map<string, BenchReport>();

function setRunning(on: boolean): void {
  $.run.disabled = on;
  $.abort.hidden = !on;
  $.run.textContent = on ? 'Running…' : 'Run benchmark';
}

async function loadModel(): Promise<SharedModel> {
  const url = $.modelUrl.value.trim() ? new URL($.modelUrl.value.trim().replace(/\/?$/, '/'), location.href).href : shippedModelUrl();
  const decoder = $.decoderFile.files?.[0];
  const key = decoder ? `${url} + ${decoder.name}` : url;
  return sharedModel(key, () => urlFolder(url), {
    decoder: decoder ? blobSource(decoder) : undefined,
    cache: true,
    onProgress: (status) => {
      const { text, fraction } = describeLoad(status);
      $.bar.value = fraction ?? 0;
      $.label.textContent = text;
    },
  });
}

async function runBench(ctx: GpuContext): Promise<void> {
  if (running) return;
  notice($.message, '');
  let policies: string[];
  let seeds: number[];
  try {
    policies = selectedPolicies();
    seeds = parseSeeds($.seeds.value);
  } catch (e) {
    notice($.message, errorMessage(e), 'error');
    return;
  }
  const controller = new AbortController();
  running = controller;
  setRunning(true);
  setPageState('running');
  const started = performance.now();
  const tick = setInterval(() => ($.elapsed.textContent = formatSeconds((performance.now() - started) / 1000)), 500);
  try {
    $.label.textContent = 'Loading the model…';
    $.bar.removeAttribute('value');
    const { bundle } = await loadModel();
    const embedsFile = $.embedsFile.files?.[0];
    // Text goes through the model's encoder in the generate entry; a chosen embeddings file replaces it.
    const prompt = embedsFile ? await readPromptEmbedding(blobSource(embedsFile), PROMPT_TENSORS, bundle.model.config.textDim) : $.prompt.value;
    if (!embedsFile && !bundle.textEncoder) throw new Error(`${bundle.name} has no text encoder in webdit: choose a prompt embeddings file under "Another model".`);
    const profile = $.profile.checked && ctx.features.has('timestamp-query');
    const points = policies.reduce((n, p) => n + expandCacheSpec(p).length, 0);
    const configs = policies.includes('none') ? points : points + 1;
    const expected = configs + configs * seeds.length + 1 + (profile ? configs : 0);
    let done = 0;
    $.bar.value = 0;
    const report = await runExclusive(
      () =>
        runCacheBenchmark(ctx, bundle, {
          prompt,
          steps: optionalNumber($.steps, 'steps'),
          seeds,
          policies,
          frames: optionalNumber($.frames, 'frames'),
          height: optionalNumber($.height, 'height'),
          width: optionalNumber($.width, 'width'),
          guidance: optionalNumber($.guidance, 'guidance'),
          profile,
          signal: controller.signal,
          onProgress: (m) => {
            // One message per phase: the warm-up covers one run per policy; the others one run each.
            done = m.startsWith('warm-up') ? 0 : done === 0 ? configs : done + 1;
            $.bar.value = Math.min(1, done / expected);
            $.label.textContent = m.startsWith('warm-up') ? 'Warming up (compiles every kernel)…' : `Running ${m}…`;
          },
        }),
      controller.signal,
    );
    $.bar.value = 1;
    $.label.textContent = `Done in ${formatSeconds((performance.now() - started) / 1000)}.`;
    showReport(report, modelLabel({ bundle }));
    document.body.dataset.lastRun = 'done';
  } catch (e) {
    if (e instanceof AbortError || controller.signal.aborted) {
      notice($.message, 'Stopped. Nothing was measured to the end.', 'info');
      $.label.textContent = 'Stopped.';
      document.body.dataset.lastRun = 'aborted';
    } else {
      notice($.message, errorMessage(e), 'error');
      $.label.textContent = 'Failed.';
      document.body.dataset.lastRun = 'error';
    }
    $.bar.value = 0;
  } finally {
    clearInterval(tick);
    running = undefined;
    setRunning(false);
    setPageState('ready');
  }
}

/** The table's column names, also each cell's label when a narrow card stacks the rows. */
const COLUMNS = ['policy', 'time', 'speedup', 'reused', 'PSNR', 'SSIM', 'indicator', 'cache memory'];

function cell(column: number, text: string, title?: string): HTMLTableCellElement {
  return h('td', title ? { title, 'data-label': COLUMNS[column] } : { 'data-label': COLUMNS[column] }, text);
}

/** The plot of every policy and sweep point, with the hovered point's settings and compute pattern below. */
function showFront(report: BenchReport): void {
  const points: (FrontPoint & { index: number })[] = report.policies.map((p, index) => ({ spec: p.label, policy: p.policy, speedup: p.speedup, psnr: p.psnr, index }));
  $.frontCard.hidden = false;
  $.front.innerHTML = frontSvg(points);
  const circles = [...$.front.querySelectorAll<SVGCircleElement>('circle.point')];
  circles.forEach((c, i) => {
    c.setAttribute('tabindex', '0');
    const show = () => {
      circles.forEach((o) => o.classList.toggle('active', o === c));
      const p = report.policies[points[i].index];
      const rows: [string, string][] = [
        ['Policy', p.spec],
        ['Speedup', `${p.speedup.toFixed(2)}× (rounds ${p.speedupRange[0].toFixed(2)}–${p.speedupRange[1].toFixed(2)})`],
        ['PSNR / SSIM', `${p.psnr === Infinity ? '∞' : `${p.psnr.toFixed(1)} dB`} / ${p.ssim.toFixed(4)}`],
        ['Blocks computed', formatPercent(p.computedFraction)],
      ];
      if (p.sweep) rows.push(['Sweep', `${p.sweep.option} = ${p.sweep.value} of ${p.sweep.spec}`]);
      $.frontDetail.replaceChildren(
        h('dl', { class: 'kv' }, ...rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
        heatmap(p.computeMap.map((row) => row.map((v) => v === 1)), { title: `Blocks × steps for ${p.label}` }),
      );
    };
    c.addEventListener('mouseenter', show);
    c.addEventListener('focus', show);
  });
}

/** Every loaded report, and this page's last run, side by side. */
function showComparison(): void {
  const reports = [...loadedReports.entries()].map(([name, report]) => ({ name, report }));
  if (lastReport) reports.unshift({ name: 'this run', report: lastReport });
  if (reports.length === 0) {
    $.compare.replaceChildren();
    return;
  }
  const { adapters, policies, kernels } = compareReports(reports);
  const head = (first: string) => h('thead', {}, h('tr', {}, h('th', {}, first), ...adapters.map((a) => h('th', { title: a.title }, a.label))));
  const speedTable = h(
    'table',
    { class: 'compare-table', id: 'compare-policies' },
    head('policy'),
    h('tbody', {}, ...policies.map((row) => h('tr', {}, h('td', {}, h('code', {}, row.label)), ...row.cells.map((c, i) => h('td', { 'data-label': adapters[i].label }, c))))),
  );
  const kernelTable = h(
    'table',
    { class: 'compare-table', id: 'compare-kernels' },
    head('kernel (share of GPU time, uncached)'),
    h(
      'tbody',
      {},
      ...(kernels.length
        ? kernels.map((row) => h('tr', {}, h('td', {}, h('code', {}, row.label)), ...row.cells.map((c, i) => h('td', { 'data-label': adapters[i].label }, c))))
        : [h('tr', {}, h('td', { colspan: String(adapters.length + 1) }, 'No kernel times in these reports (profiling was off, or the adapter has no timestamp queries).'))]),
    ),
  );
  $.compare.replaceChildren(h('div', { class: 'table-wrap' }, speedTable), h('h3', { style: 'margin-top: 14px' }, 'Where the GPU time goes'), h('div', { class: 'table-wrap' }, kernelTable));
}

async function loadComparisonFiles(files: FileList | null): Promise<void> {
  notice($.compareMessage, '');
  const problems: string[] = [];
  for (const file of files ?? []) {
    try {
      loadedReports.set(file.name, parseBenchReport(await file.text(), file.name));
    } catch (e) {
      problems.push(errorMessage(e));
    }
  }
  if (problems.length) notice($.compareMessage, problems.join(' '), 'error');
  showComparison();
}

function showReport(report: BenchReport, bundleName: string): void {
  const s = report.settings;
  $.results.hidden = false;
  $.resultsCaption.textContent = `· ${bundleName}, ${s.frames}×${s.height}×${s.width}, ${s.steps} steps, guidance ${s.guidance}, seeds ${s.seeds.join(', ')}`;
  $.tbody.replaceChildren(
    ...report.policies.map((p) =>
      h(
        'tr',
        { class: p.spec === 'none' ? 'baseline' : undefined },
        h('td', { 'data-label': COLUMNS[0], title: p.spec }, h('code', {}, p.label)),
        cell(1, formatSeconds(p.seconds), `sampling ${formatSeconds(p.samplingSeconds)}`),
        cell(
          2,
          p.spec === 'none' ? '1.00×' : `${p.speedup.toFixed(2)}×`,
          p.spec === 'none' ? undefined : `median of the per-round ratios against none; range ${p.speedupRange[0].toFixed(2)}–${p.speedupRange[1].toFixed(2)}×`,
        ),
        cell(3, formatPercent(1 - p.computedFraction)),
        cell(4, p.psnr === Infinity ? '∞' : `${p.psnr.toFixed(1)} dB`),
        cell(5, p.ssim.toFixed(4)),
        cell(
          6,
          p.indicatorShare === null ? '–' : formatPercent(p.indicatorShare, 1),
          p.indicatorMs === null ? undefined : `${p.indicatorMs.toFixed(1)} ms of indicator GPU time per generation (${formatPercent(p.indicatorTimeShare ?? 0, 1)} of its wall time)`,
        ),
        cell(7, `${formatBytes(p.cacheBytes)} (${formatPercent(p.cacheOverhead, 1)})`),
      ),
    ),
  );
  showFront(report);

  const relL1 = report.curve.relL1;
  const blocks = relL1[0]?.length ?? 0;
  $.curveCard.hidden = false;
  if (relL1.length > 1 && blocks > 0) {
    const series = Array.from({ length: blocks }, (_, b) => ({ label: `block ${b}`, values: relL1.map((row) => row[b]) }));
    $.curve.replaceChildren(lineChart(series, { xLabel: 'step', yLabel: 'relative L1 change', width: 720, height: 280, title: 'Per-block relative L1 over steps' }));
  } else {
    $.curve.replaceChildren(h('div', { class: 'empty-chart' }, 'The curve needs at least two steps.'));
  }

  $.kernelsCard.hidden = false;
  if (report.kernels?.length) {
    const total = report.kernels.reduce((a, k) => a + k.ms, 0);
    const top = report.kernels.slice(0, 16);
    const max = top[0].ms;
    $.kernelsCaption.textContent = `· uncached run, ${total.toFixed(0)} ms of GPU time in ${report.kernels.length} kernels`;
    $.kernels.replaceChildren(
      ...top.map((k) =>
        h(
          'div',
          { class: 'bar-row', title: `${k.label}: ${k.ms.toFixed(2)} ms in ${k.calls} dispatches` },
          h('span', { class: 'name' }, k.label),
          h('span', {}, h('div', { class: k.label.startsWith(`${INDICATOR_LABEL}/`) ? 'bar indicator' : 'bar', style: `width: ${(100 * k.ms) / max}%` })),
          h('span', { class: 'value' }, `${k.ms.toFixed(1)} ms · ${formatPercent(k.ms / total, 1)}`),
        ),
      ),
    );
  } else {
    $.kernelsCaption.textContent = '';
    $.kernels.replaceChildren(
      h('p', { class: 'fine' }, $.profile.disabled ? 'This adapter has no timestamp queries, so kernels cannot be timed.' : 'Profiling was off for this run.'),
    );
  }

  lastReport = report;
  showComparison();
  lastJson = JSON.stringify(report, (_, v) => (v === Infinity ? 'Infinity' : v), 2);
  $.json.textContent = lastJson;
  $.jsonCard.hidden = false;
}

async function main(): Promise<void> {
  applyQuery(new URLSearchParams(location.search));
  setPageState('starting');
  const ctx = await startWebGpu($.badge);
  if (!ctx) {
    $.label.textContent = 'WebGPU is not available.';
    $.adapter.replaceChildren(h('dt', {}, 'WebGPU'), h('dd', {}, 'not available'));
    return;
  }
  showAdapter(ctx);
  $.run.disabled = false;
  $.label.textContent = 'Ready.';
  setPageState('ready');
  $.form.addEventListener('submit', (e) => {
    e.preventDefault();
    void runBench(ctx);
  });
  $.abort.addEventListener('click', () => {
    running?.abort();
    $.label.textContent = 'Stopping…';
  });
  $.compareFiles.addEventListener('change', () => void loadComparisonFiles($.compareFiles.files));
  $.downloadJson.addEventListener('click', () => {
    if (lastJson) downloadBlob(new Blob([lastJson], { type: 'application/json' }), 'webdit-bench.json');
  });
  const autorun = new URLSearchParams(location.search).get('autorun');
  if (autorun !== null && autorun !== '0') void runBench(ctx);
}

void main();
