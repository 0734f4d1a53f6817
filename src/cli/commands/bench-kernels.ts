import type { Command } from '../main.ts';
import { UsageError } from '../args.ts';
import { createNodeContext, nodeGpu } from '../../gpu/node.ts';
import { floatToHalf, type GpuContext } from '../../gpu/context.ts';
import type { Tensor } from '../../gpu/tensor.ts';
import { matmul, preferredMatmulPath, type MatmulPath } from '../../gpu/kernels/matmul.ts';
import { isSoftwareAdapter } from '../../gpu/kernels/software-adapter.ts';
import { attention, preferredAttentionPath } from '../../gpu/kernels/attention.ts';
import { kernelPaths } from '../../gpu/features.ts';
import { matmulSubgroupMatrix, subgroupMatrixSupport } from '../../gpu/kernels/matmul-subgroup-matrix.ts';
import { attentionSubgroupMatrix } from '../../gpu/kernels/attention-subgroup-matrix.ts';
import { randomData, timeInterleaved, type Contender, type TimingOptions } from '../bench/timing.ts';
import { loadTfjsPeer, type TfjsPeer } from '../bench/tfjs-peer.ts';

// Shapes of a DiT block at `tokens` tokens and model width `width`: the attention projections and the
// 4× feed-forward, as Y[M, N] = X[M, K]·W[N, K]ᵀ.
function ditMatmuls(tokens: number, width: number, ffn = 4 * width): { op: string; M: number; N: number; K: number }[] {
  return [
    { op: 'qkv/out projection', M: tokens, N: width, K: width },
    { op: 'ffn up', M: tokens, N: ffn, K: width },
    { op: 'ffn down', M: tokens, N: width, K: ffn },
  ];
}

interface Mode {
  tokens: number[];
  widths: number[];
  /** FFN width; 4·width when absent. */
  ffn?: number;
  attention: { tokens: number; heads: number; headDim: number }[];
  timing: TimingOptions;
}

const QUICK: Mode = {
  tokens: [256],
  widths: [96, 384],
  attention: [
    { tokens: 256, heads: 2, headDim: 64 },
    { tokens: 256, heads: 12, headDim: 128 },
    { tokens: 1024, heads: 2, headDim: 64 },
  ],
  timing: { warmups: 2, trials: 3, targetTrialMs: 300, maxReps: 200 },
};

const FULL: Mode = {
  tokens: [256, 1024, 2048],
  widths: [96, 384, 1536],
  attention: [256, 512, 1024].flatMap((tokens) =>
    [2, 12].flatMap((heads) => [64, 128].map((headDim) => ({ tokens, heads, headDim }))),
  ),
  timing: { warmups: 3, trials: 7, targetTrialMs: 200, maxReps: 500 },
};

/** Wan2.1-1.3B's shapes (width 1,536, FFN 8,960, 12 heads of 128) at 2,304 and 16,384 tokens. */
const WAN: Mode = {
  tokens: [2304, 16384],
  widths: [1536],
  ffn: 8960,
  attention: [2304, 16384].map((tokens) => ({ tokens, heads: 12, headDim: 128 })),
  timing: { warmups: 2, trials: 3, targetTrialMs: 200, maxReps: 100 },
};

/** Our matmul as a contender: `reps` dispatches into one preallocated output, then ctx.sync(). */
function ourMatmul(ctx: GpuContext, x: Tensor, w: Tensor, out: Tensor, path: MatmulPath): Contender {
  return {
    run(reps) {
      for (let i = 0; i < reps; i++) matmul(ctx, x, w, { out, path });
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

async function benchMatmuls(ctx: GpuContext, peer: TfjsPeer | undefined, mode: Mode, path: MatmulPath): Promise<object[]> {
  const rows: object[] = [];
  for (const tokens of mode.tokens) {
    for (const width of mode.widths) {
      for (const { op, M, N, K } of ditMatmuls(tokens, width, mode.ffn)) {
        const flops = 2 * M * N * K;
        const xData = randomData(M * K, M + K);
        const wData = randomData(N * K, N * K + 1);
        const x = ctx.upload(xData, [M, K]);
        const w32 = ctx.upload(wData, [N, K]);
        const w16 = ctx.upload(Uint16Array.from(wData, floatToHalf), [N, K], 'f16');
        const out = ctx.empty([M, N]);
        const peerRuns = peer ? [peer.matmul(xData, wData, M, N, K, 'transposeB'), peer.matmul(xData, wData, M, N, K, 'pretransposed')] : [];
        // The matrix units, where the adapter has them: f16 activations and weights, f32 sums (last contender).
        const matrix = 'reason' in subgroupMatrixSupport(ctx) ? undefined : ctx.upload(Uint16Array.from(xData, floatToHalf), [M, K], 'f16');
        const matrixRun: Contender[] = matrix
          ? [{ run: (reps) => { for (let i = 0; i < reps; i++) matmulSubgroupMatrix(ctx, matrix, w16, { out }); }, wait: () => ctx.sync() }]
          : [];
        const contenders = [ourMatmul(ctx, x, w32, out, path), ourMatmul(ctx, x, w16, out, path), ...peerRuns, ...matrixRun];
        log(`matmul ${op} [${M}, ${K}]·[${N}, ${K}]ᵀ …`);
        const { msPerRun, reps } = await timeInterleaved(contenders, mode.timing);
        const gflopsOf = (ms: number | undefined): number | null => (ms === undefined ? null : round(flops / ms / 1e6));
        const [peerMs, pretransposedMs] = peer ? [msPerRun[2], msPerRun[3]] : [undefined, undefined];
        for (const [i, weights] of (['f32', 'f16'] as const).entries()) {
          rows.push({
            op,
            tokens,
            width,
            M,
            N,
            K,
            weights,
            ms: round(msPerRun[i]),
            gflops: gflopsOf(msPerRun[i]),
            tfjsMs: peerMs === undefined ? null : round(peerMs),
            tfjsGflops: gflopsOf(peerMs),
            ratio: peerMs === undefined ? null : round(peerMs / msPerRun[i]),
            tfjsPretransposedMs: pretransposedMs === undefined ? null : round(pretransposedMs),
            tfjsPretransposedGflops: gflopsOf(pretransposedMs),
            ratioVsPretransposed: pretransposedMs === undefined ? null : round(pretransposedMs / msPerRun[i]),
            reps: reps[i],
            tfjsReps: peer ? reps[2] : null,
          });
        }
        if (matrix) {
          const ms = msPerRun[contenders.length - 1];
          rows.push({ op, tokens, width, M, N, K, weights: 'f16', activations: 'f16', path: 'subgroup-matrix', ms: round(ms), gflops: gflopsOf(ms), reps: reps[contenders.length - 1] });
          matrix.release();
        }
        peerRuns.forEach((r) => r.dispose());
        [x, w32, w16, out].forEach((t) => t.release());
      }
    }
  }
  return rows;
}

/** Self-attention (Lq = Lk = tokens), heads packed in the columns; no peer. */
async function benchAttention(ctx: GpuContext, mode: Mode): Promise<object> {
  const rows: object[] = [];
  for (const { tokens, heads, headDim } of mode.attention) {
    const width = heads * headDim;
    const make = (seed: number): Tensor => ctx.upload(randomData(tokens * width, seed), [tokens, width]);
    const [q, k, v] = [make(1), make(2), make(3)];
    const out = ctx.empty([tokens, width]);
    const ours: Contender = {
      run(reps) {
        for (let i = 0; i < reps; i++) attention(ctx, q, k, v, heads, out);
      },
      wait: () => ctx.sync(),
    };
    // The matrix units, where the adapter has them and the head fits: f16 q, k, v (last contender).
    const support = subgroupMatrixSupport(ctx);
    const halves =
      'reason' in support || headDim % support.config.M !== 0
        ? undefined
        : [1, 2, 3].map((seed) => ctx.upload(Uint16Array.from(randomData(tokens * width, seed), floatToHalf), [tokens, width], 'f16'));
    const contenders: Contender[] = [ours];
    if (halves) {
      const [q16, k16, v16] = halves;
      contenders.push({ run: (reps) => { for (let i = 0; i < reps; i++) attentionSubgroupMatrix(ctx, q16, k16, v16, heads, out); }, wait: () => ctx.sync() });
    }
    log(`attention ${tokens} tokens × ${heads} heads × ${headDim} …`);
    const { msPerRun, reps } = await timeInterleaved(contenders, mode.timing);
    const flops = 4 * tokens * tokens * headDim * heads;
    rows.push({ tokens, heads, headDim, path: preferredAttentionPath(ctx), ms: round(msPerRun[0]), gflops: round(flops / msPerRun[0] / 1e6), reps: reps[0] });
    if (halves) {
      rows.push({ tokens, heads, headDim, path: 'subgroup-matrix', inputs: 'f16', ms: round(msPerRun[1]), gflops: round(flops / msPerRun[1] / 1e6), reps: reps[1] });
      halves.forEach((t) => t.release());
    }
    [q, k, v, out].forEach((t) => t.release());
  }
  return { status: 'ok', flops: '4·Lq·Lk·D·H', results: rows };
}

/** TensorFlow.js is a dev dependency: the npm package's CLI says how to get it instead of a resolver error. */
async function loadPeer(): Promise<TfjsPeer> {
  try {
    return await loadTfjsPeer(await nodeGpu());
  } catch (e) {
    if ((e as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND' || !/@tensorflow\//.test(String(e))) throw e;
    throw new UsageError('the TensorFlow.js peer is not installed: npm install @tensorflow/tfjs-core @tensorflow/tfjs-backend-webgpu, or pass --no-peer');
  }
}

const benchKernels: Command = {
  summary:
    'Time the matmul kernel on a DiT block’s shapes against TensorFlow.js’s WebGPU backend (same process, same adapter), and the attention kernel; prints JSON.',
  usage:
    'webdit bench-kernels [--quick | --full | --wan] [--tokens 256,1024] [--widths 96,384] [--path staged|direct] [--no-peer] [--no-attention]\n' +
    '  --quick    tokens 256, widths 96 and 384 (the default on a software adapter such as SwiftShader)\n' +
    '  --full     tokens 256/1024/2048 × widths 96/384/1536 (the default on a real GPU)\n' +
    '  --wan      Wan2.1-1.3B: tokens 2,304 and 16,384, width 1,536, FFN 8,960, attention 12 heads of 128\n' +
    '  --tokens, --widths  override the matmul shapes (comma-separated)\n' +
    '  --path     force the matmul path (default: the adapter\'s, see preferredMatmulPath)\n' +
    '  --no-peer  skip TensorFlow.js\n' +
    '  --no-attention  skip the attention section',
  async run(options) {
    const quick = options.flag('quick');
    const full = options.flag('full');
    const wan = options.flag('wan');
    const noPeer = options.flag('no-peer');
    const noAttention = options.flag('no-attention');
    const forcedPath = options.string('path');
    if (forcedPath !== undefined && forcedPath !== 'staged' && forcedPath !== 'direct') {
      throw new UsageError(`bench-kernels: --path must be staged or direct, got "${forcedPath}"`);
    }
    const tokens = integerList(options.string('tokens'), '--tokens');
    const widths = integerList(options.string('widths'), '--widths');
    options.finish();
    if ([quick, full, wan].filter(Boolean).length > 1) throw new UsageError('bench-kernels: --quick, --full and --wan exclude each other');
    const ctx = await createNodeContext();
    try {
      const preset = wan ? WAN : quick || (!full && isSoftwareAdapter(ctx)) ? QUICK : FULL;
      const mode = { ...preset, tokens: tokens ?? preset.tokens, widths: widths ?? preset.widths };
      const peer = noPeer ? undefined : await loadPeer();
      const path = (forcedPath as MatmulPath | undefined) ?? preferredMatmulPath(ctx);
      const matmulRows = await benchMatmuls(ctx, peer, mode, path);
      const attentionResults = noAttention ? { status: 'skipped', reason: '--no-attention' } : await benchAttention(ctx, mode);
      console.log(
        JSON.stringify(
          {
            adapter: ctx.adapterInfo,
            mode: preset === WAN ? 'wan' : preset === QUICK ? 'quick' : 'full',
            kernelPaths: kernelPaths(ctx),
            matmulPath: path,
            peer: peer
              ? `@tensorflow/tfjs-backend-webgpu ${peer.version}, f32: tf.matMul(x, w, false, true) (tfjs*, ratio = its time / ours); ` +
                'also tf.matMul(x, wT) with the weight transposed beforehand (tfjsPretransposed*), its faster vec4 path'
              : null,
            timing:
              'median over trials that alternate between contenders; each trial records `reps` runs (chosen per contender ' +
              'so that a trial lasts about ' + mode.timing.targetTrialMs + ' ms), then waits for its own ' +
              'device queue (ours: ctx.sync(); TF.js: submit + onSubmittedWorkDone); uploads and compilation are excluded. ' +
              'f16 rows: our matmul with f16 weights, ratio against the same TF.js f32 matmul (TF.js has no 16-bit weights).',
            matmul: matmulRows,
            attention: attentionResults,
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
