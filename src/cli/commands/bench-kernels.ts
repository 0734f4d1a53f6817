import type { Command } from '../main.ts';
import { UsageError } from '../args.ts';
import { createNodeContext, nodeGpu } from '../../gpu/node.ts';
import { floatToHalf, type GpuContext } from '../../gpu/context.ts';
import type { Tensor } from '../../gpu/tensor.ts';
import { matmul } from '../../gpu/kernels/matmul.ts';
import { timeInterleaved, type Contender, type TimingOptions } from '../../../bench/timing.ts';
import { loadTfjsPeer, type TfjsPeer } from '../../../bench/tfjs-peer.ts';

// Shapes of a DiT block at `tokens` tokens and model width `width`: the attention projections and the
// 4× feed-forward, as Y[M, N] = X[M, K]·W[N, K]ᵀ.
function ditMatmuls(tokens: number, width: number): { op: string; M: number; N: number; K: number }[] {
  return [
    { op: 'qkv/out projection', M: tokens, N: width, K: width },
    { op: 'ffn up', M: tokens, N: 4 * width, K: width },
    { op: 'ffn down', M: tokens, N: width, K: 4 * width },
  ];
}

interface Mode {
  tokens: number[];
  widths: number[];
  attention: { tokens: number; heads: number; headDim: number }[];
  timing: TimingOptions;
}

const QUICK: Mode = {
  tokens: [256],
  widths: [96, 384],
  attention: [
    { tokens: 256, heads: 2, headDim: 64 },
    { tokens: 256, heads: 2, headDim: 128 },
  ],
  timing: { warmups: 2, trials: 3, targetTrialMs: 300, maxReps: 200 },
};

const FULL: Mode = {
  tokens: [256, 1024, 2048],
  widths: [96, 384, 1536],
  attention: [256, 1024].flatMap((tokens) =>
    [2, 12].flatMap((heads) => [64, 128].map((headDim) => ({ tokens, heads, headDim }))),
  ),
  timing: { warmups: 3, trials: 7, targetTrialMs: 200, maxReps: 500 },
};

function isSoftwareAdapter(ctx: GpuContext): boolean {
  const { architecture, description, vendor } = ctx.adapterInfo;
  return /swiftshader|llvmpipe|lavapipe|software/i.test(`${architecture} ${description} ${vendor}`);
}

function randomData(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 2 ** 31 - 1;
  }
  return a;
}

/** Our matmul as a contender: `reps` dispatches into one preallocated output, then ctx.sync(). */
function ourMatmul(ctx: GpuContext, x: Tensor, w: Tensor, out: Tensor): Contender {
  return {
    run(reps) {
      for (let i = 0; i < reps; i++) matmul(ctx, x, w, { out });
    },
    wait: () => ctx.sync(),
  };
}

function integerList(value: string | undefined, name: string): number[] | undefined {
  if (value === undefined) return undefined;
  const list = value.split(',').map(Number);
  if (!list.length || list.some((v) => !Number.isInteger(v) || v < 1)) throw new UsageError(`bench-kernels: ${name} must be positive integers separated by commas, got "${value}"`);
  return list;
}

const round = (v: number, digits = 3): number => Number(v.toPrecision(digits));
const log = (message: string): void => void process.stderr.write(`${message}\n`);

async function benchMatmuls(ctx: GpuContext, peer: TfjsPeer | undefined, mode: Mode): Promise<object[]> {
  const rows: object[] = [];
  for (const tokens of mode.tokens) {
    for (const width of mode.widths) {
      for (const { op, M, N, K } of ditMatmuls(tokens, width)) {
        const flops = 2 * M * N * K;
        const xData = randomData(M * K, M + K);
        const wData = randomData(N * K, N * K + 1);
        const x = ctx.upload(xData, [M, K]);
        const w32 = ctx.upload(wData, [N, K]);
        const w16 = ctx.upload(Uint16Array.from(wData, floatToHalf), [N, K], 'f16');
        const out = ctx.empty([M, N]);
        const theirs = peer?.matmul(xData, wData, M, N, K);
        const contenders = [ourMatmul(ctx, x, w32, out), ourMatmul(ctx, x, w16, out), ...(theirs ? [theirs] : [])];
        log(`matmul ${op} [${M}, ${K}]·[${N}, ${K}]ᵀ …`);
        const { msPerRun, reps } = await timeInterleaved(contenders, mode.timing);
        const peerMs = theirs ? msPerRun[2] : undefined;
        for (const [i, weights] of (['f32', 'f16'] as const).entries()) {
          const gflops = flops / msPerRun[i] / 1e6;
          const peerGflops = peerMs === undefined ? undefined : flops / peerMs / 1e6;
          rows.push({
            op,
            tokens,
            width,
            M,
            N,
            K,
            weights,
            ms: round(msPerRun[i]),
            gflops: round(gflops),
            tfjsMs: peerMs === undefined ? null : round(peerMs),
            tfjsGflops: peerGflops === undefined ? null : round(peerGflops),
            ratio: peerGflops === undefined ? null : round(gflops / peerGflops),
            reps,
          });
        }
        theirs?.dispose();
        [x, w32, w16, out].forEach((t) => t.release());
      }
    }
  }
  return rows;
}

type AttentionFn = (ctx: GpuContext, q: Tensor, k: Tensor, v: Tensor, heads: number) => Tensor;

/** The attention kernel, if it exists yet (another engineer's module; loaded by path so this file builds without it). */
async function loadAttention(): Promise<AttentionFn | undefined> {
  const path = '../../gpu/kernels/attention.ts';
  try {
    const mod = (await import(/* @vite-ignore */ path)) as { attention?: AttentionFn };
    return mod.attention;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') return undefined;
    throw e;
  }
}

async function benchAttention(ctx: GpuContext, mode: Mode): Promise<object> {
  const attention = await loadAttention();
  if (!attention) {
    return { status: 'skipped', reason: 'src/gpu/kernels/attention.ts does not exist yet (attention(ctx, q, k, v, heads))' };
  }
  const rows: object[] = [];
  for (const { tokens, heads, headDim } of mode.attention) {
    const width = heads * headDim;
    const make = (seed: number): Tensor => ctx.upload(randomData(tokens * width, seed), [tokens, width]);
    const [q, k, v] = [make(1), make(2), make(3)];
    let last: Tensor | undefined;
    const ours: Contender = {
      run(reps) {
        for (let i = 0; i < reps; i++) {
          last?.release();
          last = attention(ctx, q, k, v, heads);
        }
      },
      wait: () => ctx.sync(),
    };
    log(`attention ${tokens} tokens × ${heads} heads × ${headDim} …`);
    const { msPerRun, reps } = await timeInterleaved([ours], mode.timing);
    const flops = 4 * tokens * tokens * headDim * heads;
    rows.push({ tokens, heads, headDim, ms: round(msPerRun[0]), gflops: round(flops / msPerRun[0] / 1e6), reps });
    [q, k, v, last].forEach((t) => t?.release());
  }
  return { status: 'ok', flops: '4·Lq·Lk·D·H', results: rows };
}

const benchKernels: Command = {
  summary:
    'Time the matmul kernel on a DiT block’s shapes against TensorFlow.js’s WebGPU backend (same process, same adapter), and the attention kernel; prints JSON.',
  usage:
    'webdit bench-kernels [--quick | --full] [--tokens 256,1024] [--widths 96,384] [--no-peer] [--no-attention]\n' +
    '  --quick    tokens 256, widths 96 and 384 (the default on a software adapter such as SwiftShader)\n' +
    '  --full     tokens 256/1024/2048 × widths 96/384/1536 (the default on a real GPU)\n' +
    '  --tokens, --widths  override the matmul shapes (comma-separated)\n' +
    '  --no-peer  skip TensorFlow.js\n' +
    '  --no-attention  skip the attention section',
  async run(options) {
    const quick = options.flag('quick');
    const full = options.flag('full');
    const noPeer = options.flag('no-peer');
    const noAttention = options.flag('no-attention');
    const tokens = integerList(options.string('tokens'), '--tokens');
    const widths = integerList(options.string('widths'), '--widths');
    options.finish();
    if (quick && full) throw new UsageError('bench-kernels: --quick and --full exclude each other');
    const ctx = await createNodeContext();
    try {
      const software = isSoftwareAdapter(ctx);
      const preset = quick || (!full && software) ? QUICK : FULL;
      const mode = { ...preset, tokens: tokens ?? preset.tokens, widths: widths ?? preset.widths };
      const peer = noPeer ? undefined : await loadTfjsPeer(await nodeGpu());
      const matmulRows = await benchMatmuls(ctx, peer, mode);
      const attention = noAttention ? { status: 'skipped', reason: '--no-attention' } : await benchAttention(ctx, mode);
      console.log(
        JSON.stringify(
          {
            adapter: ctx.adapterInfo,
            mode: preset === QUICK ? 'quick' : 'full',
            peer: peer ? `@tensorflow/tfjs-backend-webgpu ${peer.version}, tf.matMul(x, w, false, true), f32` : null,
            timing:
              'median over trials that alternate between contenders; each trial records `reps` runs, then waits for its own ' +
              'device queue (ours: ctx.sync(); TF.js: submit + onSubmittedWorkDone); uploads and compilation are excluded. ' +
              'f16 rows: our matmul with f16 weights, ratio against the same TF.js f32 matmul (TF.js has no 16-bit weights).',
            matmul: matmulRows,
            attention,
          },
          null,
          2,
        ),
      );
    } finally {
      ctx.destroy();
    }
  },
};
export default benchKernels;
