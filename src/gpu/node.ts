// Node's WebGPU: Dawn through the `webgpu` package. Imported only by Node entry points (CLI, tests,
// benchmarks), never by browser code, so Vite never bundles it.

import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createContext, type RequestOptions } from './device.ts';
import type { GpuContext } from './context.ts';
import { setShaderLoader } from './shaders.ts';

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

// Dawn frees its instance when the object `create()` returns is garbage-collected, even while
// events are still being processed, and the process then dies at random. Keep it for good.
let dawn: GPU | undefined;

/** A GPU the system's Vulkan drivers could use: a DRM render node or an NVIDIA device file. */
function hasGpuDevice(): boolean {
  const dri = existsSync('/dev/dri') && readdirSync('/dev/dri').some((f) => f.startsWith('renderD'));
  return dri || existsSync('/dev/nvidia0');
}

export async function nodeGpu(): Promise<GPU> {
  if (dawn) return dawn;
  // Without a GPU device, fall back to SwiftShader (Debian's Chromium ships it) when present.
  if (!process.env.VK_ICD_FILENAMES && !hasGpuDevice() && existsSync(SWIFTSHADER_ICD)) {
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  }
  const webgpu = await import('webgpu');
  Object.assign(globalThis, webgpu.globals);
  dawn = webgpu.create([]) as unknown as GPU;
  return dawn;
}

const shaderDir = fileURLToPath(new URL('../../shaders/', import.meta.url));
setShaderLoader((name) => {
  const path = `${shaderDir}${name}.wgsl`;
  if (!existsSync(path)) throw new Error(`no shader named "${name}" in ${shaderDir}`);
  return readFileSync(path, 'utf8');
});

export async function createNodeContext(options: RequestOptions = {}): Promise<GpuContext> {
  return createContext(await nodeGpu(), options);
}
