// Argument checks shared by the kernel wrappers: every mismatch throws before anything is dispatched.

import type { GpuContext } from '../context.ts';
import { formatShape, type DType, type Tensor } from '../tensor.ts';

export function expectDType(op: string, name: string, t: Tensor, ...allowed: DType[]): void {
  t.assertLive(`${op} (${name})`);
  if (!allowed.includes(t.dtype)) {
    throw new Error(`${op}: ${name} must be ${allowed.join(' or ')}, got ${t.dtype}`);
  }
}

export function expectRank(op: string, name: string, t: Tensor, rank: number): void {
  if (t.shape.length !== rank) throw new Error(`${op}: ${name} must have rank ${rank}, got ${formatShape(t.shape)}`);
}

export function expectShape(op: string, name: string, t: Tensor, shape: readonly number[]): void {
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new Error(`${op}: ${name} must have shape ${formatShape(shape)}, got ${formatShape(t.shape)}`);
  }
}

export function expectSameShape(op: string, a: string, ta: Tensor, b: string, tb: Tensor): void {
  if (ta.shape.length !== tb.shape.length || ta.shape.some((d, i) => d !== tb.shape[i])) {
    throw new Error(`${op}: ${a} ${formatShape(ta.shape)} and ${b} ${formatShape(tb.shape)} must have the same shape`);
  }
}

/** The size of the last dimension, and the product of the others. */
export function rowsCols(t: Tensor): { rows: number; cols: number } {
  const cols = t.shape[t.shape.length - 1] ?? 1;
  return { rows: cols === 0 ? 0 : t.size / cols, cols };
}

export const WORKGROUP_256 = 256;
export function groupsFor(count: number, perGroup = WORKGROUP_256): number {
  return Math.ceil(count / perGroup);
}

/**
 * The template flags for a kernel's activation type: f32 (none), or f16 (`F16`: the shader's `act`
 * type becomes f16, read and written as WGSL f16, arithmetic still in f32) where the device has
 * `shader-f16`. Every activation tensor named must have the first one's dtype.
 */
export function activationFlags(ctx: GpuContext, op: string, tensors: Record<string, Tensor>): string[] {
  const entries = Object.entries(tensors);
  const dtype = entries[0][1].dtype;
  for (const [name, t] of entries) expectDType(op, name, t, dtype === 'f16' ? 'f16' : 'f32');
  if (dtype !== 'f16') return [];
  if (!ctx.features.has('shader-f16')) {
    throw new Error(`${op}: f16 activations need the 'shader-f16' feature, which this device lacks (use f32 tensors)`);
  }
  return ['F16'];
}
