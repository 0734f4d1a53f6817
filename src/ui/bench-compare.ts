// Saved benchmark reports side by side: the page's own JSON and `webdit bench --json` (the same format),
// one column per report (its adapter), a row per policy with its speedup and PSNR on each, and a row per
// kernel with its share of the uncached run's GPU time. Pure: no DOM, tested in Node.

import type { BenchReport } from '../pipeline/bench.ts';

/** Parses a saved report ('Infinity' strings back to ∞), or says plainly why the file is not one. */
export function parseBenchReport(text: string, name: string): BenchReport {
  let data: unknown;
  try {
    data = JSON.parse(text, (_, v) => (v === 'Infinity' ? Infinity : v));
  } catch (e) {
    throw new Error(`${name} is not JSON (${(e as Error).message}).`);
  }
  const r = data as Partial<BenchReport> | null;
  const policiesOk =
    Array.isArray(r?.policies) &&
    r.policies.length > 0 &&
    r.policies.every((p) => typeof p?.spec === 'string' && typeof p.speedup === 'number' && typeof p.psnr === 'number');
  if (!r || typeof r !== 'object' || !policiesOk || typeof r.adapter !== 'object' || r.adapter === null) {
    throw new Error(`${name} is not a webdit benchmark report (it needs "adapter" and "policies" with spec, speedup and psnr).`);
  }
  return r as BenchReport;
}

/** A short name for the adapter a report was made on. */
export function adapterLabel(report: BenchReport): string {
  const a = report.adapter;
  return a.description || [a.vendor, a.architecture, a.device].filter(Boolean).join(' ') || 'unknown adapter';
}

export interface Comparison {
  adapters: { label: string; title: string }[];
  /** One row per policy label found in any report; a cell per report ('–' where it did not run). */
  policies: { label: string; cells: string[] }[];
  /** The slowest kernels of the uncached runs, as shares of each run's GPU time. */
  kernels: { label: string; cells: string[] }[];
}

const fmtPsnr = (v: number) => (v === Infinity ? '∞' : `${v.toFixed(1)} dB`);

export function compareReports(reports: { name: string; report: BenchReport }[], topKernels = 8): Comparison {
  const labelOf = (p: BenchReport['policies'][number]) => p.label ?? p.spec;
  const adapters = reports.map(({ name, report }) => ({
    label: `${adapterLabel(report)} (${name})`,
    title: `${report.model?.name ?? 'model'}, ${report.settings?.steps ?? '?'} steps, seeds ${report.settings?.seeds?.join(', ') ?? '?'}; features: ${(report.features ?? []).join(', ')}`,
  }));
  const labels = [...new Set(reports.flatMap(({ report }) => report.policies.map(labelOf)))];
  const policies = labels.map((label) => ({
    label,
    cells: reports.map(({ report }) => {
      const p = report.policies.find((q) => labelOf(q) === label);
      return p ? `${p.speedup.toFixed(2)}× · ${fmtPsnr(p.psnr)}` : '–';
    }),
  }));
  const shares = reports.map(({ report }) => {
    const total = (report.kernels ?? []).reduce((s, k) => s + k.ms, 0);
    return new Map((report.kernels ?? []).map((k) => [k.label, total > 0 ? k.ms / total : 0]));
  });
  const byWeight = new Map<string, number>();
  for (const m of shares) for (const [k, v] of m) byWeight.set(k, Math.max(byWeight.get(k) ?? 0, v));
  const kernelLabels = [...byWeight.entries()].sort((a, b) => b[1] - a[1]).slice(0, topKernels).map(([k]) => k);
  const kernels = kernelLabels.map((label) => ({
    label,
    cells: shares.map((m) => (m.has(label) ? `${(100 * m.get(label)!).toFixed(1)}%` : '–')),
  }));
  return { adapters, policies, kernels };
}
