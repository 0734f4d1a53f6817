// Page plumbing shared by the demo and the benchmark: starting WebGPU (or saying plainly why not),
// the adapter badge, the page state that tests and scripts can wait on, and status notices.

import type { GpuContext } from '../gpu/context.ts';
import { WebGpuUnavailableError } from '../gpu/device.ts';
import { sharedContext } from './engine.ts';
import { errorMessage } from './format.ts';

/** The page's state, on <body data-state>: starting, loading, ready, generating, running, no-webgpu, failed. */
export function setPageState(state: string): void {
  document.body.dataset.state = state;
}

/** A short adapter name: "nvidia ampere", "google swiftshader". */
export function adapterName(ctx: GpuContext): string {
  const { vendor, architecture, device, description } = ctx.adapterInfo;
  return [vendor, architecture, device].filter(Boolean).join(' ') || description || 'unknown adapter';
}

/**
 * Starts the shared GPU context. Without WebGPU, shows the page's #gpu-missing notice with the reason
 * and returns undefined; the caller leaves the GPU controls disabled.
 */
export async function startWebGpu(badge: HTMLElement | null): Promise<GpuContext | undefined> {
  try {
    const ctx = await sharedContext();
    if (badge) {
      badge.textContent = `WebGPU · ${adapterName(ctx)}`;
      badge.title = `WebGPU adapter: ${ctx.adapterInfo.description || adapterName(ctx)}; features: ${[...ctx.features].sort().join(', ')}`;
      badge.classList.add('ok');
    }
    return ctx;
  } catch (e) {
    const missing = document.getElementById('gpu-missing');
    const text = document.getElementById('gpu-missing-message');
    if (text) text.textContent = e instanceof WebGpuUnavailableError ? e.message : `WebGPU failed to start: ${errorMessage(e)}`;
    if (missing) missing.hidden = false;
    if (badge) {
      badge.textContent = 'No WebGPU';
      badge.classList.add('bad');
    }
    setPageState('no-webgpu');
    return undefined;
  }
}

export type NoticeKind = 'error' | 'info' | 'ok';

/** Shows `text` in a .notice element (or hides it when text is empty). */
export function notice(el: HTMLElement, text: string, kind: NoticeKind = 'info'): void {
  el.classList.remove('error', 'info', 'ok');
  if (!text) {
    el.hidden = true;
    el.textContent = '';
    return;
  }
  el.classList.add(kind);
  el.textContent = text;
  el.hidden = false;
}
