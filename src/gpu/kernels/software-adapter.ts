import type { GpuContext } from '../context.ts';
import { isSoftwareAdapterInfo } from '../features.ts';

/**
 * Whether the adapter is a CPU implementation of WebGPU (SwiftShader, llvmpipe, lavapipe, …), judged
 * from its info. There a workgroup barrier suspends each SIMD batch of
 * the workgroup as a coroutine (milliseconds for a 256-thread workgroup) and every load with per-lane
 * addresses is a gather, so kernels pick barrier-free variants that reuse values in registers.
 * The choice is by adapter rather than timed at first use: kernel wrappers never read back or wait,
 * and on SwiftShader the barrier-free variants win by 4× to 27× on every shape measured, small and
 * Wan-sized (bench/attention-norms.ts), so a per-shape timing would pick the same.
 */
export function isSoftwareAdapter(ctx: GpuContext): boolean {
  return isSoftwareAdapterInfo(ctx.adapterInfo);
}
