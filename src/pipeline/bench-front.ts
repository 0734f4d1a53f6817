// The speed–quality front of a cache benchmark: every policy and sweep point as speedup (x) against PSNR
// (y), the Pareto front through them, as text for a terminal and as a standalone SVG (no DOM: the bench
// page and the CLI draw the same picture).

export interface FrontPoint {
  /** The full spec (hover text, JSON). */
  spec: string;
  /** The policy name; one colour per policy. */
  policy: string;
  speedup: number;
  /** Infinity where the frames equal the uncached run's. */
  psnr: number;
}

/**
 * The points no other point beats on both axes (at least as fast and at least as good, better on one),
 * sorted by speedup. The uncached run (speedup 1, PSNR ∞) is on the front by definition.
 */
export function paretoFront<P extends FrontPoint>(points: P[]): P[] {
  const dominated = (p: P) =>
    points.some((q) => q !== p && q.speedup >= p.speedup && q.psnr >= p.psnr && (q.speedup > p.speedup || q.psnr > p.psnr));
  const front = points.filter((p) => !dominated(p));
  // Equal points (a sweep whose steps change nothing) are kept once.
  const unique = front.filter((p, i) => front.findIndex((q) => q.speedup === p.speedup && q.psnr === p.psnr) === i);
  return unique.sort((a, b) => a.speedup - b.speedup || b.psnr - a.psnr);
}

const fmtPsnr = (v: number) => (v === Infinity ? '∞' : v.toFixed(1));

/** The front as lines of text: one per front point, fastest last. */
export function frontText(points: FrontPoint[]): string {
  const front = paretoFront(points);
  const width = Math.max(6, ...front.map((p) => p.spec.length));
  return [
    `speed–quality front (${front.length} of ${points.length} points; none of the others is both faster and better):`,
    `  ${'policy'.padEnd(width)}  speedup  PSNR dB`,
    ...front.map((p) => `  ${p.spec.padEnd(width)}  ${`${p.speedup.toFixed(2)}×`.padStart(7)}  ${fmtPsnr(p.psnr).padStart(7)}`),
  ].join('\n');
}

/** One colour per policy name, in a fixed order so that two reports colour alike. */
export const POLICY_COLOURS: Record<string, string> = {
  none: '#555555',
  bwcache: '#d62728',
  static: '#1f77b4',
  'first-block': '#2ca02c',
  teacache: '#9467bd',
};

const escapeXml = (s: string) => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

export interface FrontSvgOptions {
  width?: number;
  height?: number;
}

/**
 * An SVG scatter of the points with the front drawn as a step line. PSNR ∞ (identical frames) is drawn on
 * a band above the finite values and labelled ∞. Each circle carries `data-spec` and a <title> (hover).
 */
export function frontSvg(points: FrontPoint[], options: FrontSvgOptions = {}): string {
  const W = options.width ?? 560;
  const H = options.height ?? 320;
  const pad = { left: 52, right: 16, top: 32, bottom: 40 };
  const finite = points.filter((p) => Number.isFinite(p.psnr)).map((p) => p.psnr);
  const yLo = finite.length ? Math.floor(Math.min(...finite) - 1) : 20;
  const yHiFinite = finite.length ? Math.ceil(Math.max(...finite) + 1) : 40;
  const yInf = yHiFinite + Math.max(2, (yHiFinite - yLo) * 0.12);
  const xs = points.map((p) => p.speedup);
  const xLo = Math.min(1, ...xs) * 0.95;
  const xHi = Math.max(1.05, ...xs) * 1.05;
  const x = (v: number) => pad.left + ((v - xLo) / (xHi - xLo)) * (W - pad.left - pad.right);
  const yOf = (psnr: number) => (psnr === Infinity ? yInf : psnr);
  const y = (v: number) => pad.top + (1 - (yOf(v) - yLo) / (yInf - yLo)) * (H - pad.top - pad.bottom);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="sans-serif" font-size="11" role="img" aria-label="speed against quality">`,
    `<rect x="0" y="0" width="${W}" height="${H}" fill="white"/>`,
  ];
  // Axes and ticks.
  const x0 = pad.left;
  const y0 = H - pad.bottom;
  out.push(`<line x1="${x0}" y1="${y0}" x2="${W - pad.right}" y2="${y0}" stroke="#888"/>`, `<line x1="${x0}" y1="${pad.top}" x2="${x0}" y2="${y0}" stroke="#888"/>`);
  const xStep = xHi - xLo > 2 ? 0.5 : 0.25;
  for (let v = Math.ceil(xLo / xStep) * xStep; v <= xHi; v += xStep) {
    out.push(`<text x="${x(v).toFixed(1)}" y="${y0 + 14}" text-anchor="middle" fill="#444">${v.toFixed(2)}×</text>`);
  }
  const yStep = yHiFinite - yLo > 20 ? 5 : 2;
  for (let v = Math.ceil(yLo / yStep) * yStep; v <= yHiFinite; v += yStep) {
    out.push(`<text x="${x0 - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" fill="#444">${v}</text>`);
  }
  out.push(`<text x="${x0 - 6}" y="${(y(Infinity) + 4).toFixed(1)}" text-anchor="end" fill="#444">∞</text>`);
  out.push(`<text x="${(x0 + W - pad.right) / 2}" y="${H - 6}" text-anchor="middle" fill="#222">speedup against the uncached run</text>`);
  out.push(`<text x="12" y="${(pad.top + y0) / 2}" text-anchor="middle" fill="#222" transform="rotate(-90 12 ${(pad.top + y0) / 2})">PSNR (dB)</text>`);
  // The front.
  const front = paretoFront(points);
  if (front.length > 1) {
    const path = front.map((p, i) => `${i ? 'L' : 'M'}${x(p.speedup).toFixed(1)},${y(p.psnr).toFixed(1)}`).join(' ');
    out.push(`<path class="front" d="${path}" fill="none" stroke="#999" stroke-dasharray="4 3"/>`);
  }
  for (const p of points) {
    const colour = POLICY_COLOURS[p.policy] ?? '#ff7f0e';
    const onFront = front.includes(p);
    out.push(
      `<circle class="point" data-spec="${escapeXml(p.spec)}" data-policy="${escapeXml(p.policy)}" cx="${x(p.speedup).toFixed(1)}" cy="${y(p.psnr).toFixed(1)}" r="${onFront ? 5 : 4}" fill="${colour}" fill-opacity="${onFront ? 0.95 : 0.55}" stroke="${onFront ? '#000' : 'none'}">` +
        `<title>${escapeXml(`${p.spec}: ${p.speedup.toFixed(2)}×, ${fmtPsnr(p.psnr)} dB`)}</title></circle>`,
    );
  }
  // Legend: the policies present, in a row above the plot (never over a point).
  let lx = pad.left;
  for (const n of new Set(points.map((p) => p.policy))) {
    out.push(`<circle cx="${lx + 4}" cy="12" r="4" fill="${POLICY_COLOURS[n] ?? '#ff7f0e'}"/><text x="${lx + 12}" y="16" fill="#222">${escapeXml(n)}</text>`);
    lx += 22 + 6.5 * n.length;
  }
  out.push('</svg>');
  return out.join('\n');
}
