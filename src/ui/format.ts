// Numbers as people read them, and small DOM helpers shared by the pages and the web component.

import type { LoadStatus } from './engine.ts';
import { formatBytes as formatStoredBytes } from '../weights/store.ts';

/** Byte counts in decimal units, as the download cache reports them ('–' for unknown). */
export function formatBytes(bytes: number): string {
  return Number.isFinite(bytes) ? formatStoredBytes(bytes) : '–';
}

/** 0.42 s, 12.3 s, 2 min 05 s. */
export function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '–';
  if (seconds < 10) return `${seconds.toFixed(2)} s`;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const m = Math.floor(seconds / 60);
  const s = Math.round(seconds - 60 * m);
  return `${m} min ${String(s).padStart(2, '0')} s`;
}

export function formatPercent(fraction: number, digits = 0): string {
  return Number.isFinite(fraction) ? `${(fraction * 100).toFixed(digits)}%` : '–';
}

/** PSNR in dB; identical frames give Infinity. */
export function formatPsnr(db: number): string {
  if (db === Infinity) return '∞ dB';
  return Number.isFinite(db) ? `${db.toFixed(1)} dB` : '–';
}

/** A model load's progress as a line of text and a fraction (undefined: unknown). */
export function describeLoad(status: LoadStatus): { text: string; fraction: number | undefined } {
  const { loadedBytes, totalBytes } = status;
  const fraction = totalBytes > 0 ? loadedBytes / totalBytes : undefined;
  const amount = `${formatBytes(loadedBytes)} of ${formatBytes(totalBytes)}`;
  if (status.phase === 'download') return { text: `Downloading ${status.path ?? 'a file'} · ${amount}`, fraction };
  return { text: `Loading the weights onto the GPU · ${amount}`, fraction };
}

/** A message for any thrown value. */
export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message || e.name;
  return String(e);
}

/** The element with this id, typed; throws if the page lacks it (a page/template mismatch). */
export function byId<T extends HTMLElement = HTMLElement>(id: string, root: Document | ShadowRoot = document): T {
  const el = root.getElementById(id);
  if (!el) throw new Error(`page has no element #${id}`);
  return el as T;
}

type Child = Node | string | null | undefined | false;

/** document.createElement with attributes and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number | boolean | undefined> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

/** Sets a progress bar (a <progress> element) and its label; fraction undefined = indeterminate. */
export function setProgress(bar: HTMLProgressElement, label: HTMLElement, fraction: number | undefined, text: string): void {
  if (fraction === undefined) bar.removeAttribute('value');
  else bar.value = Math.min(1, Math.max(0, fraction));
  bar.max = 1;
  label.textContent = text;
}

/** Saves bytes as a file (a temporary <a download>). */
export function downloadBlob(blob: Blob, fileName: string): void {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: fileName });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
