// What the Wan VAE decoder needs before it runs: the bands of latent rows it decodes in (spatial
// pieces, when a whole frame's tensors would pass the binding limit), and its peak GPU memory.
// Pure arithmetic over the decoder's structure, mirroring wan-vae.ts's order of allocations.

import { decoderStructure, decoderTensorShapes, type WanVaeConfig } from './wan-vae-config.ts';

const F32 = 4;

export interface Band {
  /** The latent rows this band decodes: [row0, row0 + rows). */
  row0: number;
  rows: number;
  /** The latent rows it reads from the middle's output, halo included. */
  inputRow0: number;
  inputRows: number;
}

export interface PiecePlan {
  bands: Band[];
  /** Latent rows of halo each side of a cut. */
  haloLatentRows: number;
  /** The largest tensor of a band, bytes. */
  largestTensorBytes: number;
}

/**
 * Rows of the final resolution that a cut can corrupt (where the band sees zeros instead of its
 * neighbours): two 3×3 convs per residual block, ×2 then one 3×3 conv per resample, the head's conv.
 */
export function haloLatentRows(cfg: WanVaeConfig): number {
  const s = decoderStructure(cfg);
  let rows = 0;
  for (const layer of s.upLayers) rows = layer.kind === 'residual' ? rows + 2 : 2 * rows + 1;
  rows += 1;
  return Math.ceil(rows / s.spatialScale);
}

/** Per latent row of width w, the bytes of every tensor of the up path for a chunk of the most frames. */
function upPathTensors(cfg: WanVaeConfig, w: number): { perRow: number[]; largestPerRow: number } {
  const s = decoderStructure(cfg);
  const perRow: number[] = [];
  let frames = 1;
  let scale = 1;
  let ch = s.middleDim;
  const size = (n: number, c: number, sc: number) => n * c * sc * sc * w * F32;
  perRow.push(size(frames, ch, scale));
  for (const layer of s.upLayers) {
    if (layer.kind === 'residual') {
      ch = layer.outDim;
      perRow.push(size(frames, layer.inDim, scale), size(frames, ch, scale));
    } else {
      if (layer.mode === 'upsample3d') {
        perRow.push(size(frames, 2 * layer.dim, scale));
        frames *= 2;
      }
      scale *= 2;
      perRow.push(size(frames, layer.dim, scale));
      ch = layer.dim / 2;
      perRow.push(size(frames, ch, scale));
    }
  }
  perRow.push(size(frames, 3, scale));
  return { perRow, largestPerRow: Math.max(...perRow) };
}

/** Bytes of the up path's largest tensor per latent row of width w (a chunk with the most frames). */
export function largestBytesPerLatentRow(cfg: WanVaeConfig, w: number): number {
  return upPathTensors(cfg, w).largestPerRow;
}

/**
 * Bands of latent rows such that no tensor of a band passes `maxBindingBytes`: one band when the
 * whole frame fits, else the most rows that fit with their halos. `bandRows` forces bands of that
 * many rows (a test of the pieces on small images, where the whole frame always fits).
 */
export function planPieces(cfg: WanVaeConfig, h: number, w: number, maxBindingBytes: number, bandRows?: number): PiecePlan {
  const halo = haloLatentRows(cfg);
  const { largestPerRow } = upPathTensors(cfg, w);
  if (bandRows !== undefined && (!Number.isInteger(bandRows) || bandRows < 1)) throw new Error(`Wan VAE: bandRows must be a positive integer, got ${bandRows}`);
  if (bandRows === undefined && largestPerRow * h <= maxBindingBytes) {
    return { bands: [{ row0: 0, rows: h, inputRow0: 0, inputRows: h }], haloLatentRows: halo, largestTensorBytes: largestPerRow * h };
  }
  const fitRows = Math.floor(maxBindingBytes / largestPerRow);
  const own = bandRows ?? fitRows - 2 * halo;
  if (own < 1) {
    throw new Error(
      `Wan VAE: ${w} latent columns need ${(largestPerRow / 2 ** 20).toFixed(1)} MiB per latent row in the largest tensor; ` +
        `a band of 1 row with its ${halo}-row halo on each side (${((1 + 2 * halo) * largestPerRow / 2 ** 20).toFixed(0)} MiB) passes this GPU's binding limit of ${(maxBindingBytes / 2 ** 20).toFixed(0)} MiB`,
    );
  }
  const bands: Band[] = [];
  for (let row0 = 0; row0 < h; row0 += own) {
    const rows = Math.min(own, h - row0);
    const inputRow0 = Math.max(0, row0 - halo);
    const inputEnd = Math.min(h, row0 + rows + halo);
    bands.push({ row0, rows, inputRow0, inputRows: inputEnd - inputRow0 });
  }
  const largestTensorBytes = Math.max(...bands.map((b) => b.inputRows)) * largestPerRow;
  if (largestTensorBytes > maxBindingBytes) throw new Error(`Wan VAE: bands of ${own} latent rows need ${largestTensorBytes} bytes in one tensor; the binding limit is ${maxBindingBytes}`);
  return { bands, haloLatentRows: halo, largestTensorBytes };
}

export interface WanVaePlan {
  frames: number;
  height: number;
  width: number;
  weightBytes: number;
  /** Frames every causal conv carries between chunks (all bands). */
  carriedBytes: number;
  /** The output frames [F, 3, H, W] f32. */
  framesBytes: number;
  /** Tensors alive within one chunk at its busiest, beside the carried frames and the output. */
  chunkBytes: number;
  peakBytes: number;
  pieces: PiecePlan;
}

/**
 * GPU memory to decode T latent frames of h × w (f32 activations; `weightBytesPerValue` 4 for F32
 * checkpoints, 2 for F16/BF16; `carriedBytesPerValue` 2 with f16 carried frames), without the latents.
 */
export function planWanVaeDecode(
  cfg: WanVaeConfig,
  T: number,
  h: number,
  w: number,
  maxBindingBytes: number,
  weightBytesPerValue = 4,
  carriedBytesPerValue = 4,
): WanVaePlan {
  const s = decoderStructure(cfg);
  const pieces = planPieces(cfg, h, w, maxBindingBytes);
  let weightValues = 0;
  for (const shape of decoderTensorShapes(cfg).values()) weightValues += shape.reduce((a, b) => a * b, 1);
  const frameCount = s.temporalScale * (T - 1) + 1;
  const H = h * s.spatialScale;
  const W = w * s.spatialScale;
  const plane = (c: number, rows: number, sc: number) => c * rows * sc * sc * w * F32;

  // Carried frames: 2 input frames of every 3-frame conv, per band (the middle's once, at full height).
  const carriedFor = (rows: number): number => {
    let bytes = 0;
    let scale = 1;
    for (const layer of s.upLayers) {
      if (layer.kind === 'residual') bytes += 2 * (plane(layer.inDim, rows, scale) + plane(layer.outDim, rows, scale));
      else {
        if (layer.mode === 'upsample3d') bytes += 2 * plane(layer.dim, rows, scale);
        scale *= 2;
      }
    }
    return bytes + 2 * plane(s.outDim, rows, scale);
  };
  const middleCarried = 2 * plane(cfg.zDim, h, 1) + 4 * 2 * plane(s.middleDim, h, 1);
  const carriedBytes = ((middleCarried + pieces.bands.reduce((sum, b) => sum + carriedFor(b.inputRows), 0)) * carriedBytesPerValue) / F32;

  // Within a chunk: the conv2 output of every latent frame and the middle's output stay alive; a
  // residual block holds its input, shortcut, second norm and output; a resample its input, doubled
  // frames, upsampled frames and output.
  const { perRow } = upPathTensors(cfg, w);
  const rows = Math.max(...pieces.bands.map((b) => b.inputRows));
  let busiest = 0;
  for (let i = 0; i + 1 < perRow.length; i++) busiest = Math.max(busiest, (perRow[i] + 3 * perRow[i + 1]) * rows);
  const L = h * w;
  const attention = 3 * s.middleDim * L * F32 + Math.min(L * L * F32, maxBindingBytes) * 2;
  const chunkBytes = T * plane(cfg.zDim, h, 1) + plane(s.middleDim, h, 1) * (pieces.bands.length > 1 ? 2 : 1) + Math.max(busiest, attention);
  const weightBytes = weightValues * weightBytesPerValue;
  const framesBytes = frameCount * 3 * H * W * F32;
  return {
    frames: frameCount,
    height: H,
    width: W,
    weightBytes,
    carriedBytes,
    framesBytes,
    chunkBytes,
    peakBytes: weightBytes + carriedBytes + framesBytes + chunkBytes,
    pieces,
  };
}
