// RGBA → I420 (planar Y, then U and V at half resolution) in BT.709 limited range: what a video encoder
// codes, done here where the encoder would otherwise pick its own matrix and leave the file's colour
// metadata saying RGB (@napi-rs/webcodecs does, and players then show wrong colours).

/** The colour space the I420 planes are in, for the encoder's VideoFrame and the file's metadata. */
export const I420_COLOR_SPACE = { primaries: 'bt709', transfer: 'bt709', matrix: 'bt709', fullRange: false } as const;

const KR = 0.2126;
const KB = 0.0722;
const KG = 1 - KR - KB;

/** One RGBA image (width × height × 4 bytes) → I420 bytes: Y (w·h), U and V (⌈w/2⌉·⌈h/2⌉ each). */
export function rgbaToI420(rgba: Uint8Array | Uint8ClampedArray, width: number, height: number): Uint8Array {
  if (rgba.length !== width * height * 4) throw new Error(`rgbaToI420: ${rgba.length} bytes for ${width}×${height} RGBA`);
  const cw = Math.ceil(width / 2);
  const ch = Math.ceil(height / 2);
  const out = new Uint8Array(width * height + 2 * cw * ch);
  const u = width * height;
  const v = u + cw * ch;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      out[y * width + x] = Math.round(16 + (219 / 255) * (KR * rgba[i] + KG * rgba[i + 1] + KB * rgba[i + 2]));
    }
  }
  // Chroma from the mean of each 2×2 block (fewer pixels at an odd edge).
  for (let cy = 0; cy < ch; cy++) {
    for (let cx = 0; cx < cw; cx++) {
      let r = 0;
      let g = 0;
      let b = 0;
      let n = 0;
      for (let y = 2 * cy; y < Math.min(2 * cy + 2, height); y++) {
        for (let x = 2 * cx; x < Math.min(2 * cx + 2, width); x++) {
          const i = (y * width + x) * 4;
          r += rgba[i];
          g += rgba[i + 1];
          b += rgba[i + 2];
          n++;
        }
      }
      const luma = (KR * r + KG * g + KB * b) / n;
      out[u + cy * cw + cx] = Math.round(128 + (224 / 255) * ((b / n - luma) / (2 * (1 - KB))));
      out[v + cy * cw + cx] = Math.round(128 + (224 / 255) * ((r / n - luma) / (2 * (1 - KR))));
    }
  }
  return out;
}
