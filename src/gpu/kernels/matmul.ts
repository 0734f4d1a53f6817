import type { GpuContext } from '../context.ts';
import { QuantizedWeight } from '../quantized.ts';
import { formatShape, type Tensor } from '../tensor.ts';
import { activationFlags, expectDType, expectShape } from './check.ts';
import { kernelPaths } from '../features.ts';
import { rowRange, rowSegments } from './segments.ts';
import { matmulByColumns, matmulColumnsPerSegment } from './matmul-columns.ts';

export type MatmulActivation = 'none' | 'gelu_tanh' | 'silu';

export interface MatmulOptions {
  /** [N] f32, added before the activation. */
  bias?: Tensor;
  activation?: MatmulActivation;
  /** The output's shape, f32: out = residual + … (must not be `out` itself). */
  residual?: Tensor;
  /** [R, N] f32: row `gateRow` (default 0) scales the activated product before the residual add. */
  gate?: Tensor;
  gateRow?: number;
  /** Written in place of a new tensor; the output's shape, f32. */
  out?: Tensor;
  /** How the kernel feeds its registers; defaults to the adapter's best (see `preferredMatmulPath`). */
  path?: MatmulPath;
}

/**
 * 'staged': K-slices staged in workgroup memory behind barriers (GPUs). 'direct': each thread streams
 * its rows from memory with no barrier (CPU implementations such as SwiftShader, where a barrier
 * suspends every 4-lane batch as a coroutine and the CPU caches do the staging anyway). 'vector': at
 * most VECTOR_ROWS rows of x, one thread per output column (matrix-vector products).
 */
export type MatmulPath = 'staged' | 'direct' | 'vector';

/** Rows of x the vector path takes; the shader's VECTOR_ROWS. */
export const VECTOR_ROWS = 4;

/** Output tile per workgroup, [rows, columns], for each path (the shader's TILE, DIRECT_SIDE·8×4, and 64 columns). */
const TILES: Record<MatmulPath, [number, number]> = { staged: [64, 64], direct: [64, 32], vector: [VECTOR_ROWS, 64] };
const PATH_CODE: Record<MatmulPath, number> = { staged: 0, direct: 1, vector: 2 };

/** The path for M rows of x: the vector path for a few rows on any adapter; else the tiles that suit it. */
export function preferredMatmulPath(ctx: GpuContext, M = Infinity): MatmulPath {
  if (M <= VECTOR_ROWS) return 'vector';
  // The matrix-unit path takes f16 activations (matmul-subgroup-matrix.ts); this kernel's GPU path is 'staged'.
  return kernelPaths(ctx).matmul === 'direct' ? 'direct' : 'staged';
}

const WEIGHT_FORMAT = { f32: 0, f16: 1, bf16: 2, i8: 3, i4: 4, f8e4m3: 5 } as const;
const ACTIVATION: Record<MatmulActivation, number> = { none: 0, gelu_tanh: 1, silu: 2 };

// Unused bindings (no bias, no residual, no gate) still need a buffer: one small one per context, a
// raw buffer outside the pool so it never counts as a live tensor and cannot be released by mistake.
const dummies = new WeakMap<GpuContext, GPUBuffer>();
function dummy(ctx: GpuContext): GPUBuffer {
  let b = dummies.get(ctx);
  if (!b) {
    b = ctx.device.createBuffer({ label: 'matmul dummy', size: 16, usage: GPUBufferUsage.STORAGE });
    dummies.set(ctx, b);
  }
  return b;
}

/** The shader reads x and w in 16-byte chunks, so a last partial chunk must still lie inside the buffer. */
function expectWholeChunks(op: string, name: string, t: Tensor): void {
  if (t.buffer.size < Math.ceil(t.byteLength / 16) * 16) {
    throw new Error(`${op}: ${name}'s buffer (${t.buffer.size} bytes) must be padded to a multiple of 16 bytes`);
  }
}

/** What a Linear layer's weight can be: a plain f32/f16/bf16 tensor, or int8/int4/fp8 codes with their scales. */
export type LinearWeight = Tensor | QuantizedWeight;

/**
 * Y = act(X·Wᵀ + b), optionally gated and added to a residual, as a PyTorch Linear layer:
 * x [..., K] f32 (leading dims flattened into M), w [N, K] f32/f16/bf16 or quantized (decoded in the
 * kernel, never widened in memory), output [..., N] f32.
 * out = residual + gate[gateRow, :] · act(x·wᵀ + bias). x may be f16 where the device has `shader-f16`
 * (template flag F16: half the activation traffic, each value widened to f32 as it is read, so the
 * result is float64's on the f16 values up to the f32 sums: ≤ 1e-5 relative, as for f32).
 */
export function matmul(ctx: GpuContext, x: Tensor, weight: LinearWeight, options: MatmulOptions = {}): Tensor {
  const op = 'matmul';
  const { bias, residual, gate, activation = 'none' } = options;
  const quantized = weight instanceof QuantizedWeight ? weight : undefined;
  const w = quantized ? quantized.codes : (weight as Tensor);
  const template = activationFlags(ctx, op, { x });
  if (quantized) {
    expectDType(op, 'w', w, 'i8', 'i4', 'f8e4m3');
    expectDType(op, 'scales', quantized.scales, quantized.format === 'fp8' ? 'f32' : 'f16');
  } else {
    expectDType(op, 'w', w, 'f32', 'f16', 'bf16');
  }
  if (x.shape.length < 1) throw new Error(`${op}: x must have at least one dimension, got ${formatShape(x.shape)}`);
  if (w.shape.length !== 2) throw new Error(`${op}: w must be [N, K], got ${formatShape(w.shape)}`);
  expectWholeChunks(op, 'x', x);
  expectWholeChunks(op, 'w', w);
  const K = x.shape[x.shape.length - 1];
  const M = x.shape.slice(0, -1).reduce((a, b) => a * b, 1); // not x.size / K, which fails for K = 0
  const [N, wK] = w.shape;
  if (wK !== K) throw new Error(`${op}: x ${formatShape(x.shape)} and w ${formatShape(w.shape)} disagree on K (${K} vs ${wK})`);
  if (!Object.hasOwn(ACTIVATION, activation)) throw new Error(`${op}: unknown activation "${activation}"`);
  const path = options.path ?? preferredMatmulPath(ctx, M);
  if (!Object.hasOwn(TILES, path)) throw new Error(`${op}: unknown path "${path}"`);
  if (path === 'vector' && M > VECTOR_ROWS) throw new Error(`${op}: the vector path takes at most ${VECTOR_ROWS} rows, got ${M}`);
  const outShape = [...x.shape.slice(0, -1), N];
  if (bias) {
    expectDType(op, 'bias', bias, 'f32');
    expectShape(op, 'bias', bias, [N]);
  }
  if (residual) {
    expectDType(op, 'residual', residual, 'f32');
    expectShape(op, 'residual', residual, outShape);
  }
  let gateRow = 0;
  if (gate) {
    expectDType(op, 'gate', gate, 'f32');
    if (gate.shape.length !== 2 || gate.shape[1] !== N) {
      throw new Error(`${op}: gate must be [R, ${N}], got ${formatShape(gate.shape)}`);
    }
    gateRow = options.gateRow ?? 0;
    if (!Number.isInteger(gateRow) || gateRow < 0 || gateRow >= gate.shape[0]) {
      throw new Error(`${op}: gateRow ${gateRow} is outside gate's ${gate.shape[0]} rows`);
    }
  } else if (options.gateRow !== undefined) {
    throw new Error(`${op}: gateRow given without a gate`);
  }
  const out = options.out ?? ctx.empty(outShape, 'f32', op);
  if (options.out) {
    expectDType(op, 'out', out, 'f32');
    expectShape(op, 'out', out, outShape);
    // WebGPU forbids binding one buffer as both read and read_write in a dispatch.
    for (const [name, t] of Object.entries({ x, w, scales: quantized?.scales, bias, gate, residual })) {
      if (t && t.buffer === out.buffer) throw new Error(`${op}: ${name} and out are the same buffer; write to a separate output`);
    }
  }
  if (M === 0 || N === 0) return out;

  // A weight (bias, gate) over the binding limit: along output columns, each segment as a matmul of its own.
  const columns = matmulColumnsPerSegment(ctx, M, w, bias, gate);
  if (columns !== undefined) {
    if (quantized || template.length) throw new Error(`${op}: a ${quantized ? `${quantized.format} weight` : 'matmul with f16 activations'} over the binding limit (${ctx.bindingLimit} bytes) is not split yet`);
    matmulByColumns(ctx, matmul, { x, w, bias, gate, gateRow, residual, activation, path, out, columns });
    return out;
  }

  // Every format but f32 is read 8 weights at a time.
  const aligned = K % 4 === 0 && (w.dtype === 'f32' || K % 8 === 0);
  const groupSize = quantized?.groupSize ?? 0;
  const placeholder = dummy(ctx);
  const [tileRows, tileCols] = TILES[path];
  const nTiles = Math.ceil(N / tileCols);
  // Along tokens when x, the residual or the output is over the binding limit (rows are independent).
  const xRowBytes = (x.dtype === 'f16' ? 2 : 4) * K;
  const splits = [{ tensor: x, rowBytes: xRowBytes }, { tensor: out, rowBytes: 4 * N }];
  if (residual) splits.push({ tensor: residual, rowBytes: 4 * N });
  const segments = rowSegments(ctx, op, M, splits, [w, quantized?.scales, bias, gate]);
  for (const segment of segments) {
    ctx.dispatch(
      {
        shader: 'matmul',
        flags: template,
        constants: {
          WEIGHT_FORMAT: WEIGHT_FORMAT[w.dtype as keyof typeof WEIGHT_FORMAT],
          HAS_BIAS: bias ? 1 : 0,
          ACTIVATION: ACTIVATION[activation],
          HAS_GATE: gate ? 1 : 0,
          HAS_RESIDUAL: residual ? 1 : 0,
          ALIGNED: aligned ? 1 : 0,
          PATH: PATH_CODE[path],
        },
      },
      {
        bindings: {
          x: rowRange(x, xRowBytes, segment, M),
          w,
          scales: quantized?.scales ?? placeholder,
          bias: bias ?? placeholder,
          gate: gate ?? placeholder,
          residual: residual ? rowRange(residual, 4 * N, segment, M) : placeholder,
          out: rowRange(out, 4 * N, segment, M),
        },
        uniforms: { M: segment.count, N, K, gateRow, groupShift: groupSize > 0 ? Math.log2(groupSize) : 0, groupsPerRow: groupSize > 0 ? Math.ceil(K / groupSize) : 0 },
        workgroups: [nTiles, Math.ceil(segment.count / tileRows), 1],
        label: op,
      },
    );
  }
  return out;
}
