// What the Wan VAE decoder needs before it runs: the tiles of latent pixels it decodes in (spatial
// pieces, when a whole frame's tensors would pass the binding limit), and its peak GPU memory.
// Pure arithmetic over the decoder's structure, mirroring wan-vae.ts's order of allocations (the up
// path runs one frame at a time: a time conv's doubled frames go on one by one).

import { decoderStructure, decoderTensorShapes, type WanVaeConfig } from './wan-vae-config.ts';

const F32 = 4;

/** One run of latent rows or columns a tile decodes, and what it reads with its halo. */
export interface Span {
  /** The latent rows (or columns) this span decodes: [start, start + count). */
  start: number;
  count: number;
  /** The latent rows (or columns) it reads from the middle's output, halo included. */
  inputStart: number;
  inputCount: number;
}

/** A band of rows × a strip of columns. */
export interface Tile {
  rows: Span;
  cols: Span;
}

export interface PiecePlan {
  /** Row-major: every strip of the first band, then of the next. */
  tiles: Tile[];
  bands: Span[];
  strips: Span[];
  /** Latent rows (and columns) of halo each side of a cut. */
  haloLatentRows: number;
  /** The largest tensor of a tile, bytes. */
  largestTensorBytes: number;
}

/**
 * Rows of the final resolution that a cut can corrupt (where the band sees zeros instead of its
 * neighbours): two 3×3 convs per residual block, ×2 then one 3×3 conv per resample, the head's conv.
 * The same holds for columns.
 */
export function haloLatentRows(cfg: WanVaeConfig): number {
  const s = decoderStructure(cfg);
  let rows = 0;
  for (const layer of s.upLayers) rows = layer.kind === 'residual' ? rows + 2 : 2 * rows + 1;
  rows += 1;
  return Math.ceil(rows / s.spatialScale);
}

/**
 * Per latent pixel, the bytes of every tensor of the up path for one frame (the up path runs frame by
 * frame), and of what each time conv keeps alive while its frames go on.
 */
function upPathTensors(cfg: WanVaeConfig): { perPixel: number[]; held: number } {
  const s = decoderStructure(cfg);
  const perPixel: number[] = [];
  let scale = 1;
  let held = 0;
  const size = (c: number, sc: number) => c * sc * sc * F32;
  perPixel.push(size(s.middleDim, scale));
  for (const layer of s.upLayers) {
    if (layer.kind === 'residual') perPixel.push(size(layer.inDim, scale), size(layer.outDim, scale));
    else {
      if (layer.mode === 'upsample3d') {
        perPixel.push(size(2 * layer.dim, scale));
        // The doubled frames, and the spatial part's output of the frame going on.
        held += size(2 * layer.dim, scale) + size(layer.dim / 2, 2 * scale);
      }
      scale *= 2;
      perPixel.push(size(layer.dim, scale), size(layer.dim / 2, scale));
    }
  }
  perPixel.push(size(3, scale));
  return { perPixel, held };
}

/** Bytes of the up path's largest tensor per latent pixel. */
export function largestBytesPerLatentPixel(cfg: WanVaeConfig): number {
  return Math.max(...upPathTensors(cfg).perPixel);
}

/** Bytes of the up path's largest tensor per latent row of width w. */
export function largestBytesPerLatentRow(cfg: WanVaeConfig, w: number): number {
  return largestBytesPerLatentPixel(cfg) * w;
}

/** Cuts n latent rows (or columns) into spans of `own`, each reading `halo` more on each cut side. */
export function spans(n: number, own: number, halo: number): Span[] {
  const out: Span[] = [];
  for (let start = 0; start < n; start += own) {
    const count = Math.min(own, n - start);
    const inputStart = Math.max(0, start - halo);
    out.push({ start, count, inputStart, inputCount: Math.min(n, start + count + halo) - inputStart });
  }
  return out;
}

const widest = (s: Span[]) => Math.max(...s.map((x) => x.inputCount));
const sumInputs = (s: Span[]) => s.reduce((a, x) => a + x.inputCount, 0);

/** The most own rows (or columns) per span such that no span reads more than `fit` (0 when none does). */
function ownThatFits(n: number, fit: number, halo: number): number {
  for (let own = n; own >= 1; own--) if (widest(spans(n, own, halo)) <= fit) return own;
  return 0;
}

export interface PieceOptions {
  /** Latent rows per band, forced (a test of the pieces on small images, where the whole frame fits). */
  bandRows?: number;
  /** Latent columns per strip, forced. */
  stripColumns?: number;
}

/**
 * Tiles of latent pixels such that no tensor of a tile passes `maxBindingBytes`: one tile when the
 * whole frame fits, else the tiling that reads the fewest latent pixels (halos included) in all, the
 * fewest tiles among those.
 */
export function planPieces(cfg: WanVaeConfig, h: number, w: number, maxBindingBytes: number, forced: PieceOptions = {}): PiecePlan {
  const halo = haloLatentRows(cfg);
  const perPixel = largestBytesPerLatentPixel(cfg);
  if (!(maxBindingBytes > 0)) throw new Error(`Wan VAE: the binding limit must be a positive number of bytes, got ${maxBindingBytes}`);
  for (const [name, v] of Object.entries(forced)) {
    if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw new Error(`Wan VAE: ${name} must be a positive integer, got ${v}`);
  }
  const plan = (bands: Span[], strips: Span[]): PiecePlan => ({
    tiles: bands.flatMap((rows) => strips.map((cols) => ({ rows, cols }))),
    bands,
    strips,
    haloLatentRows: halo,
    largestTensorBytes: widest(bands) * widest(strips) * perPixel,
  });
  let best: PiecePlan | undefined;
  if (forced.bandRows !== undefined || forced.stripColumns !== undefined) {
    best = plan(spans(h, forced.bandRows ?? h, halo), spans(w, forced.stripColumns ?? w, halo));
  } else if (h * w * perPixel <= maxBindingBytes) {
    best = plan(spans(h, h, halo), spans(w, w, halo));
  } else {
    let bestCost = Infinity;
    for (let ownCols = w; ownCols >= 1; ownCols--) {
      const strips = spans(w, ownCols, halo);
      const ownRows = ownThatFits(h, Math.floor(maxBindingBytes / (perPixel * widest(strips))), halo);
      if (ownRows < 1) continue;
      const bands = spans(h, ownRows, halo);
      const cost = sumInputs(bands) * sumInputs(strips);
      if (cost < bestCost || (cost === bestCost && bands.length * strips.length < best!.tiles.length)) [best, bestCost] = [plan(bands, strips), cost];
    }
  }
  if (!best || best.largestTensorBytes > maxBindingBytes) {
    const smallest = Math.min(h, 1 + 2 * halo) * Math.min(w, 1 + 2 * halo) * perPixel;
    const what = best ? `tiles of ${best.bands[0].count}×${best.strips[0].count} latent pixels need ${(best.largestTensorBytes / 2 ** 20).toFixed(1)} MiB in one tensor` : `a tile of 1 latent pixel with its ${halo}-pixel halo on each cut side needs ${(smallest / 2 ** 20).toFixed(1)} MiB in one tensor`;
    throw new Error(`Wan VAE: ${h}×${w} latent pixels at ${(perPixel / 2 ** 10).toFixed(0)} KiB each in the largest tensor: ${what}, more than this GPU's binding limit of ${(maxBindingBytes / 2 ** 20).toFixed(1)} MiB`);
  }
  return best;
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
  const plane = (c: number, rows: number, cols: number, sc: number) => c * rows * sc * sc * cols * F32;

  // Carried frames: 2 input frames of every 3-frame conv, per tile (the middle's once, whole).
  const carriedFor = (rows: number, cols: number): number => {
    let bytes = 0;
    let scale = 1;
    for (const layer of s.upLayers) {
      if (layer.kind === 'residual') bytes += 2 * (plane(layer.inDim, rows, cols, scale) + plane(layer.outDim, rows, cols, scale));
      else {
        if (layer.mode === 'upsample3d') bytes += 2 * plane(layer.dim, rows, cols, scale);
        scale *= 2;
      }
    }
    return bytes + 2 * plane(s.outDim, rows, cols, scale);
  };
  const middleCarried = 2 * plane(cfg.zDim, h, w, 1) + 4 * 2 * plane(s.middleDim, h, w, 1);
  const tilesCarried = pieces.tiles.reduce((sum, t) => sum + carriedFor(t.rows.inputCount, t.cols.inputCount), 0);
  const carriedBytes = ((middleCarried + tilesCarried) * carriedBytesPerValue) / F32;

  // Within a chunk: the conv2 output of every latent frame and the middle's output stay alive (and a
  // tile's crop of it); the time convs' doubled frames while their frames go on; a residual block holds
  // its input, shortcut, second norm and output; a resample its input, upsampled frame and output.
  const { perPixel, held } = upPathTensors(cfg);
  const area = Math.max(...pieces.bands.map((b) => b.inputCount)) * Math.max(...pieces.strips.map((c) => c.inputCount));
  let busiest = 0;
  // A conv's carry builds its next two frames while the old ones are still alive.
  for (let i = 0; i + 1 < perPixel.length; i++) busiest = Math.max(busiest, (perPixel[i] + 3 * perPixel[i + 1] + 2 * Math.max(perPixel[i], perPixel[i + 1])) * area);
  busiest += held * area;
  const L = h * w;
  const attention = 3 * s.middleDim * L * F32 + Math.min(L * L * F32, maxBindingBytes) * 2;
  const crops = pieces.tiles.length > 1 ? plane(s.middleDim, Math.max(...pieces.bands.map((b) => b.inputCount)), w, 1) + plane(s.middleDim, 1, area, 1) : 0;
  // Pasting a strip: its own rows of one RGB frame, and the full-width rows they go into.
  const paste = pieces.strips.length > 1 ? plane(3, Math.max(...pieces.bands.map((b) => b.count)), w + Math.max(...pieces.strips.map((c) => c.count)), s.spatialScale) : 0;
  const chunkBytes = T * plane(cfg.zDim, h, w, 1) + plane(s.middleDim, h, w, 1) + crops + Math.max(busiest + paste, attention);
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
