// Runs in the browser (served by Vite with test/browser/kernel-check.html): matmul on both paths and a
// unary kernel on inputs from the test, and the matmul on quantized weights (int4 on the direct path, fp8
// on the staged one, word loads); the test compares the outputs with float64 references.
import { createBrowserContext } from '../../src/gpu/device.ts';
import { matmul } from '../../src/gpu/kernels/matmul.ts';
import { unary } from '../../src/gpu/kernels/unary.ts';
import { QuantizedWeight } from '../../src/gpu/quantized.ts';

export interface KernelCheckInput {
  x: number[];
  w: number[];
  bias: number[];
  u: number[];
  M: number;
  N: number;
  K: number;
  /** Quantized weights [qN, qK] for x [qM, qK]: int4 codes and f16 scale bits (groups of 16), fp8 codes and scale. */
  quantized: { x: number[]; int4: number[]; int4Scales: number[]; fp8: number[]; fp8Scale: number; M: number; N: number; K: number };
}

export interface KernelCheckOutput {
  adapter: string;
  direct: number[];
  staged: number[];
  silu: number[];
  int4Direct: number[];
  fp8Staged: number[];
}

async function runKernelCheck({ x, w, bias, u, M, N, K, quantized: q }: KernelCheckInput): Promise<KernelCheckOutput> {
  // Poisoned: every new tensor starts as NaN, so an element a kernel forgets to write fails.
  const ctx = await createBrowserContext({ poison: true });
  try {
    const xt = ctx.upload(new Float32Array(x), [M, K]);
    const wt = ctx.upload(new Float32Array(w), [N, K]);
    const bt = ctx.upload(new Float32Array(bias), [N]);
    const direct = matmul(ctx, xt, wt, { bias: bt, activation: 'gelu_tanh', path: 'direct' });
    const staged = matmul(ctx, xt, wt, { bias: bt, activation: 'gelu_tanh', path: 'staged' });
    const silu = unary(ctx, 'silu', ctx.upload(new Float32Array(u), [u.length]));
    const qx = ctx.upload(new Float32Array(q.x), [q.M, q.K]);
    const int4 = new QuantizedWeight(ctx.upload(new Uint8Array(q.int4), [q.N, q.K], 'i4'), ctx.upload(new Uint16Array(q.int4Scales), [q.N, q.K / 16], 'f16'), 16);
    const fp8 = new QuantizedWeight(ctx.upload(new Uint8Array(q.fp8), [q.N, q.K], 'f8e4m3'), ctx.upload(new Float32Array([q.fp8Scale]), [1]), 0);
    const int4Direct = matmul(ctx, qx, int4, { path: 'direct' });
    const fp8Staged = matmul(ctx, qx, fp8, { path: 'staged' });
    const out = {
      adapter: `${ctx.adapterInfo.vendor} ${ctx.adapterInfo.architecture}`.trim(),
      direct: Array.from(await ctx.read(direct)),
      staged: Array.from(await ctx.read(staged)),
      silu: Array.from(await ctx.read(silu)),
      int4Direct: Array.from(await ctx.read(int4Direct)),
      fp8Staged: Array.from(await ctx.read(fp8Staged)),
    };
    ctx.checkErrors();
    return out;
  } finally {
    ctx.destroy();
  }
}

(window as unknown as { runKernelCheck: typeof runKernelCheck }).runKernelCheck = runKernelCheck;
