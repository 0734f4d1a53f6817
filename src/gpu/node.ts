// Node's WebGPU: Dawn through the `webgpu` package. Imported only by Node entry points (CLI, tests,
// benchmarks), never by browser code, so Vite never bundles it.

import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createContext, type RequestOptions } from './device.ts';
import type { GpuContext } from './context.ts';
import { setShaderLoader } from './shaders.ts';
import { packageRoot } from './package-root.ts';

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

// Dawn frees its instance when the object `create()` returns is garbage-collected, even while
// events are still being processed, and the process then dies at random. Keep it for good.
let dawn: GPU | undefined;

/** A GPU the system's Vulkan drivers could use: a DRM render node or an NVIDIA device file. */
function hasGpuDevice(): boolean {
  const dri = existsSync('/dev/dri') && readdirSync('/dev/dri').some((f) => f.startsWith('renderD'));
  return dri || existsSync('/dev/nvidia0');
}

/** How long one wait may poll Dawn back to back before its polls move to 1 ms timers. */
export const DAWN_SPIN_MS = 2;

/**
 * When to run each of Dawn's polls. While any GPU promise is pending, Dawn for Node calls the global
 * `setImmediate` with a native callback that processes events and, from inside, queues itself again: a
 * busy loop on the main thread. On a CPU adapter (SwiftShader) that loop takes a core from the adapter's
 * own threads, and a toy generation ran 1.7× slower on 2 cores. A wait's first DAWN_SPIN_MS still poll
 * immediately, so a quick answer stays quick (a real GPU's steps take a few ms); later polls run on timers.
 */
export class DawnPollThrottle {
  private waitStart = 0;

  /** `continuing`: asked from inside the previous poll (the same wait); otherwise a new wait starts. */
  schedule(now: number, continuing: boolean): 'immediate' | 'timer' {
    if (!continuing) this.waitStart = now;
    return now - this.waitStart < DAWN_SPIN_MS ? 'immediate' : 'timer';
  }
}

let pollingThrottled = false;

// Dawn looks `setImmediate` up on the global object at every poll, so wrapping it reaches Dawn's polls;
// they are the only native callbacks given to it (Node's and the tests' own are JavaScript functions).
function throttleDawnPolling(): void {
  if (pollingThrottled) return;
  pollingThrottled = true;
  const setImmediateOriginal = globalThis.setImmediate;
  const throttle = new DawnPollThrottle();
  const isNative = (f: unknown) => typeof f === 'function' && Function.prototype.toString.call(f).endsWith('{ [native code] }');
  let insidePoll = false;
  const wrapped = (callback: (...args: unknown[]) => void, ...args: unknown[]) => {
    if (!isNative(callback)) return setImmediateOriginal(callback, ...args);
    const poll = () => {
      insidePoll = true;
      try {
        callback(...args);
      } finally {
        insidePoll = false;
      }
    };
    if (throttle.schedule(performance.now(), insidePoll) === 'timer') return setTimeout(poll, 0) as unknown as NodeJS.Immediate;
    return setImmediateOriginal(poll);
  };
  globalThis.setImmediate = Object.assign(wrapped, setImmediateOriginal) as typeof setImmediate;
}

/**
 * Dawn toggles webdit turns on in Node: `shader-f16` on NVIDIA's Vulkan driver is refused without
 * vulkan_enable_f16_on_nvidia. The subgroup-matrix feature is offered only with allow_unsafe_apis (its
 * Vulkan path needs the Vulkan memory model): those stay opt-in (MATRIX_DAWN_TOGGLES, through
 * WEBDIT_DAWN_TOGGLES) until the model runs on matrix units. Browsers take these as command-line flags a
 * page cannot set, so every kernel keeps a path without them.
 */
export const DAWN_TOGGLES = ['vulkan_enable_f16_on_nvidia'] as const;
/** Add these (WEBDIT_DAWN_TOGGLES=vulkan_enable_f16_on_nvidia,allow_unsafe_apis,use_vulkan_memory_model) for matrix units. */
export const MATRIX_DAWN_TOGGLES = ['allow_unsafe_apis', 'use_vulkan_memory_model'] as const;

/**
 * The flags for Dawn's `create()`: one comma-joined `enable-dawn-features=` entry (two entries with the
 * same key replace each other). `WEBDIT_DAWN_TOGGLES=off` (or 0, none) asks for none; a comma list
 * replaces the defaults.
 */
export function dawnFlags(env: Record<string, string | undefined> = process.env, enabled = true): string[] {
  const setting = env.WEBDIT_DAWN_TOGGLES?.trim();
  if (!enabled || (setting !== undefined && /^(off|0|none|false)$/i.test(setting))) return [];
  const toggles = setting ? setting.split(',').map((t) => t.trim()).filter(Boolean) : [...DAWN_TOGGLES];
  for (const t of toggles) {
    if (!/^[a-z0-9_]+$/.test(t)) throw new Error(`WEBDIT_DAWN_TOGGLES: "${t}" is not a Dawn toggle name (lowercase words joined by _)`);
  }
  return toggles.length ? [`enable-dawn-features=${toggles.join(',')}`] : [];
}

/** The flags Dawn was created with (what `webdit info` reports). */
export let dawnFlagsInUse: readonly string[] = [];

export interface NodeGpuOptions {
  /** false creates Dawn without webdit's toggles (only the first call in a process decides). */
  dawnToggles?: boolean;
}

export async function nodeGpu(options: NodeGpuOptions = {}): Promise<GPU> {
  if (dawn) return dawn;
  throttleDawnPolling();
  // Without a GPU device, fall back to SwiftShader (Debian's Chromium ships it) when present.
  if (!process.env.VK_ICD_FILENAMES && !hasGpuDevice() && existsSync(SWIFTSHADER_ICD)) {
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  }
  const webgpu = await import('webgpu');
  Object.assign(globalThis, webgpu.globals);
  dawnFlagsInUse = dawnFlags(process.env, options.dawnToggles ?? true);
  dawn = webgpu.create([...dawnFlagsInUse]) as unknown as GPU;
  return dawn;
}

setShaderLoader((name) => {
  const shaderDir = join(packageRoot(), 'shaders');
  const path = join(shaderDir, `${name}.wgsl`);
  if (!existsSync(path)) throw new Error(`no shader named "${name}" in ${shaderDir}`);
  return readFileSync(path, 'utf8');
});

export async function createNodeContext(options: RequestOptions & NodeGpuOptions = {}): Promise<GpuContext> {
  return createContext(await nodeGpu(options), options);
}
