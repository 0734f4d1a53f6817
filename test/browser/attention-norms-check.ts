// Runs in the browser (served by Vite with test/browser/attention-norms-check.html): attention on the
// tiled and direct paths (direct-subgroups too where the adapter has subgroups), layerNorm and rmsNorm
// on the tree and rows paths, on inputs from the test, which compares the outputs with float64
// references.
import { createBrowserContext } from '../../src/gpu/device.ts';
import { attention, type AttentionPath } from '../../src/gpu/kernels/attention.ts';
import { layerNorm, type NormPath } from '../../src/gpu/kernels/layer-norm.ts';
import { rmsNorm } from '../../src/gpu/kernels/rms-norm.ts';

export interface PathCheckInput {
  q: number[];
  k: number[];
  v: number[];
  queries: number;
  keys: number;
  heads: number;
  headDim: number;
  x: number[];
  table: number[];
  weight: number[];
  rows: number;
  cols: number;
}

export interface PathCheckOutput {
  adapter: string;
  subgroups: boolean;
  attention: Partial<Record<AttentionPath, number[]>>;
  layerNorm: Partial<Record<NormPath, number[]>>;
  rmsNorm: Partial<Record<NormPath, number[]>>;
}

async function runPathCheck(input: PathCheckInput): Promise<PathCheckOutput> {
  const { queries, keys, heads, headDim, rows, cols } = input;
  // Poisoned: every new tensor starts as NaN, so an element a kernel forgets to write fails.
  const ctx = await createBrowserContext({ poison: true });
  try {
    const width = heads * headDim;
    const q = ctx.upload(new Float32Array(input.q), [queries, width]);
    const k = ctx.upload(new Float32Array(input.k), [keys, width]);
    const v = ctx.upload(new Float32Array(input.v), [keys, width]);
    const x = ctx.upload(new Float32Array(input.x), [rows, cols]);
    const table = ctx.upload(new Float32Array(input.table), [2, cols]);
    const weight = ctx.upload(new Float32Array(input.weight), [cols]);
    const subgroups = ctx.features.has('subgroups');
    const out: PathCheckOutput = {
      adapter: `${ctx.adapterInfo.vendor} ${ctx.adapterInfo.architecture}`.trim(),
      subgroups,
      attention: {},
      layerNorm: {},
      rmsNorm: {},
    };
    const attentionPaths: AttentionPath[] = ['tiled', 'direct', ...(subgroups ? ['direct-subgroups' as const] : [])];
    for (const path of attentionPaths) out.attention[path] = Array.from(await ctx.read(attention(ctx, q, k, v, heads, undefined, { path })));
    for (const path of ['tree', 'rows'] as const) {
      const modulation = { table, shiftRow: 0, scaleRow: 1 };
      out.layerNorm[path] = Array.from(await ctx.read(layerNorm(ctx, x, { eps: 1e-6, modulation, path })));
      out.rmsNorm[path] = Array.from(await ctx.read(rmsNorm(ctx, x, weight, 1e-6, undefined, { path })));
    }
    ctx.checkErrors();
    return out;
  } finally {
    ctx.destroy();
  }
}

(window as unknown as { runPathCheck: typeof runPathCheck }).runPathCheck = runPathCheck;
