// Small SVG charts: the blocks × steps compute/reuse map, and line plots over steps (the cache
// indicator with its threshold; the per-block relative-L1 curves of the benchmark).

const SVG = 'http://www.w3.org/2000/svg';

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number> = {}, text?: string): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

/** Colours for series (blocks), readable on white. */
export const PALETTE = ['#4f46e5', '#0891b2', '#16a34a', '#ca8a04', '#dc2626', '#9333ea', '#db2777', '#475569', '#ea580c', '#0d9488'];

/** About `count` round tick values covering [min, max]. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!(max > min)) return [min];
  const raw = (max - min) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

function tickLabel(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1000 || a < 0.001) return v.toExponential(0);
  return String(Number(v.toPrecision(3)));
}

export interface HeatmapOptions {
  /** Labels of the two states, for the legend and the cell tooltips. */
  computedLabel?: string;
  reusedLabel?: string;
  title?: string;
}

/** computed[step][block] as a grid: steps left to right, block 0 at the top. */
export function heatmap(computed: boolean[][], options: HeatmapOptions = {}): SVGSVGElement {
  const steps = computed.length;
  const blocks = computed[0]?.length ?? 0;
  const computedLabel = options.computedLabel ?? 'computed';
  const reusedLabel = options.reusedLabel ?? 'reused';
  const cell = Math.max(6, Math.min(40, Math.floor(460 / Math.max(1, steps))));
  const cellH = Math.max(10, Math.min(30, Math.floor(200 / Math.max(1, blocks))));
  const left = 58;
  const top = 8;
  const width = Math.max(280, left + steps * cell + 12);
  const gridBottom = top + blocks * cellH;
  const height = gridBottom + 58;
  // Drawn at its own size (never stretched: a few steps would make giant cells).
  const root = svg('svg', { viewBox: `0 0 ${width} ${height}`, width, height, class: 'chart heatmap', role: 'img' });
  root.append(svg('title', {}, options.title ?? `Blocks × steps: ${computedLabel} or ${reusedLabel}`));
  for (let s = 0; s < steps; s++) {
    for (let b = 0; b < blocks; b++) {
      const on = computed[s][b];
      const rect = svg('rect', {
        x: left + s * cell + 0.5,
        y: top + b * cellH + 0.5,
        width: cell - 1,
        height: cellH - 1,
        rx: 2,
        class: on ? 'cell computed' : 'cell reused',
      });
      rect.append(svg('title', {}, `step ${s + 1}, block ${b}: ${on ? computedLabel : reusedLabel}`));
      root.append(rect);
    }
  }
  for (let b = 0; b < blocks; b++) {
    if (blocks > 12 && b % Math.ceil(blocks / 12) !== 0) continue;
    root.append(svg('text', { x: left - 6, y: top + (b + 0.5) * cellH, class: 'tick', 'text-anchor': 'end', 'dominant-baseline': 'middle' }, `block ${b}`));
  }
  const every = Math.ceil(steps / 16);
  for (let s = 0; s < steps; s++) {
    if (s % every !== 0 && s !== steps - 1) continue;
    root.append(svg('text', { x: left + (s + 0.5) * cell, y: gridBottom + 14, class: 'tick', 'text-anchor': 'middle' }, String(s + 1)));
  }
  root.append(svg('text', { x: left + (steps * cell) / 2, y: gridBottom + 30, class: 'axis-label', 'text-anchor': 'middle' }, 'step'));
  // Legend.
  const ly = gridBottom + 44;
  root.append(svg('rect', { x: left, y: ly, width: 12, height: 10, rx: 2, class: 'cell computed legend' }));
  root.append(svg('text', { x: left + 17, y: ly + 9, class: 'tick' }, computedLabel));
  root.append(svg('rect', { x: left + 100, y: ly, width: 12, height: 10, rx: 2, class: 'cell reused legend' }));
  root.append(svg('text', { x: left + 117, y: ly + 9, class: 'tick' }, reusedLabel));
  return root;
}

export interface Series {
  label: string;
  values: (number | null)[];
  color?: string;
}

export interface LineChartOptions {
  xLabel?: string;
  yLabel?: string;
  /** A horizontal reference line (the cache threshold δ). */
  threshold?: { value: number; label: string };
  /** x of value i (default i + 1, the step number). */
  x?: (i: number) => number;
  title?: string;
  width?: number;
  height?: number;
}

/** Lines over steps; null values leave gaps (a step with nothing measured). */
export function lineChart(series: Series[], options: LineChartOptions = {}): SVGSVGElement {
  const width = options.width ?? 560;
  const height = options.height ?? 240;
  const m = { left: 54, right: 16, top: 14, bottom: series.length > 1 ? 60 : 40 };
  const xOf = options.x ?? ((i: number) => i + 1);
  const n = Math.max(0, ...series.map((s) => s.values.length));
  const values = series.flatMap((s) => s.values.filter((v): v is number => v !== null && Number.isFinite(v)));
  if (options.threshold) values.push(options.threshold.value);
  let yMax = values.length ? Math.max(...values) : 1;
  if (!(yMax > 0)) yMax = 1;
  yMax *= 1.08;
  const xs = Array.from({ length: n }, (_, i) => xOf(i));
  const xMin = xs.length ? Math.min(...xs) : 0;
  const xMax = xs.length > 1 ? Math.max(...xs) : xMin + 1;
  const pw = width - m.left - m.right;
  const ph = height - m.top - m.bottom;
  const px = (x: number) => m.left + ((x - xMin) / (xMax - xMin)) * pw;
  const py = (y: number) => m.top + ph - (y / yMax) * ph;

  const root = svg('svg', { viewBox: `0 0 ${width} ${height}`, class: 'chart line-chart', role: 'img' });
  if (options.title) root.append(svg('title', {}, options.title));
  for (const t of niceTicks(0, yMax, 4)) {
    root.append(svg('line', { x1: m.left, x2: width - m.right, y1: py(t), y2: py(t), class: 'grid' }));
    root.append(svg('text', { x: m.left - 6, y: py(t), class: 'tick', 'text-anchor': 'end', 'dominant-baseline': 'middle' }, tickLabel(t)));
  }
  const xTicks = n <= 12 ? xs : niceTicks(xMin, xMax, 8);
  for (const t of xTicks) {
    root.append(svg('text', { x: px(t), y: m.top + ph + 15, class: 'tick', 'text-anchor': 'middle' }, tickLabel(t)));
  }
  root.append(svg('line', { x1: m.left, x2: width - m.right, y1: m.top + ph, y2: m.top + ph, class: 'axis' }));
  root.append(svg('line', { x1: m.left, x2: m.left, y1: m.top, y2: m.top + ph, class: 'axis' }));
  if (options.xLabel) root.append(svg('text', { x: m.left + pw / 2, y: m.top + ph + 31, class: 'axis-label', 'text-anchor': 'middle' }, options.xLabel));
  if (options.yLabel) {
    root.append(
      svg('text', { x: 12, y: m.top + ph / 2, class: 'axis-label', 'text-anchor': 'middle', transform: `rotate(-90 12 ${m.top + ph / 2})` }, options.yLabel),
    );
  }
  if (options.threshold) {
    const y = py(options.threshold.value);
    root.append(svg('line', { x1: m.left, x2: width - m.right, y1: y, y2: y, class: 'threshold' }));
    root.append(svg('text', { x: width - m.right - 4, y: y - 5, class: 'threshold-label', 'text-anchor': 'end' }, options.threshold.label));
  }
  series.forEach((s, k) => {
    const color = s.color ?? PALETTE[k % PALETTE.length];
    let d = '';
    let pen = false;
    s.values.forEach((v, i) => {
      if (v === null || !Number.isFinite(v)) {
        pen = false;
        return;
      }
      d += `${pen ? 'L' : 'M'}${px(xOf(i)).toFixed(1)},${py(v).toFixed(1)}`;
      pen = true;
    });
    if (d) root.append(svg('path', { d, class: 'series', stroke: color }));
    s.values.forEach((v, i) => {
      if (v === null || !Number.isFinite(v)) return;
      const dot = svg('circle', { cx: px(xOf(i)), cy: py(v), r: 2.6, fill: color, class: 'dot' });
      dot.append(svg('title', {}, `${s.label}, ${options.xLabel ?? 'x'} ${xOf(i)}: ${v.toPrecision(3)}`));
      root.append(dot);
    });
  });
  if (series.length > 1) {
    let lx = m.left;
    const ly = height - 14;
    series.forEach((s, k) => {
      const color = s.color ?? PALETTE[k % PALETTE.length];
      root.append(svg('line', { x1: lx, x2: lx + 16, y1: ly, y2: ly, stroke: color, class: 'series' }));
      root.append(svg('text', { x: lx + 20, y: ly + 4, class: 'tick' }, s.label));
      lx += 28 + s.label.length * 6.5;
    });
  }
  return root;
}
