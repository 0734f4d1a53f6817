// Runs in the browser (served by Vite with test/browser/kernel-check.html): matmul on both paths and a
// unary kernel on inputs from the test; the test compares the outputs with float64 references.
import { createBrowserContext } from '../../src/gpu/device.ts';
import { matmul } from '../../src/gpu/kernels/matmul.ts';
import { unary } from '../../src/gpu/kernels/unary.ts';

export interface KernelCheckInput {
  x: number[];
  w: number[];
  bias: number[];
  u: number[];
  M: number;
  N: number;
  K: number;
}

export interface KernelCheckOutput {
  adapter: string;
  direct: number[];
  staged: number[];
  silu: number[];
}

async function runKernelCheck({ x, w, bias, u, M, N, K }: KernelCheckInput): Promise<KernelCheckOutput> {
  // Poisoned: every new tensor starts as NaN, so an element a kernel forgets to write fails.
  const ctx = await createBrowserContext({ poison: true });
  try {
    const xt = ctx.upload(new Float32Array(x), [M, K]);
    const wt = ctx.upload(new Float32Array(w), [N, K]);
    const bt = ctx.upload(new Float32Array(bias), [N]);
    const direct = matmul(ctx, xt, wt, { bias: bt, activation: 'gelu_tanh', path: 'direct' });
    const staged = matmul(ctx, xt, wt, { bias: bt, activation: 'gelu_tanh', path: 'staged' });
    const silu = unary(ctx, 'silu', ctx.upload(new Float32Array(u), [u.length]));
    const out = {
      adapter: `${ctx.adapterInfo.vendor} ${ctx.adapterInfo.architecture}`.trim(),
      direct: Array.from(await ctx.read(direct)),
      staged: Array.from(await ctx.read(staged)),
      silu: Array.from(await ctx.read(silu)),
    };
    ctx.checkErrors();
    return out;
  } finally {
    ctx.destroy();
  }
}

(window as unknown as { runKernelCheck: typeof runKernelCheck }).runKernelCheck = runKernelCheck;
