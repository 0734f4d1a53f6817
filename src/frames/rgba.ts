// Decoded frames to 8-bit RGBA images, the form a canvas (ImageData) or a video encoder takes.

/** frames [F, 3, H, W] (planar RGB in [0, 1]) → F images of H·W·4 bytes (R, G, B, 255), values rounded. */
export function framesToRgba8(frames: Float32Array, shape: readonly [number, number, number, number] | readonly number[]): Uint8ClampedArray[] {
  if (shape.length !== 4 || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new Error(`framesToRgba8: shape must be [F, 3, H, W], got [${shape.join(', ')}]`);
  }
  const [F, C, H, W] = shape;
  if (C !== 3) throw new Error(`framesToRgba8: frames must have 3 channels (RGB), got shape [${shape.join(', ')}]`);
  if (frames.length !== F * C * H * W) throw new Error(`framesToRgba8: ${frames.length} values for shape [${shape.join(', ')}]`);
  const plane = H * W;
  const images: Uint8ClampedArray[] = [];
  for (let f = 0; f < F; f++) {
    const image = new Uint8ClampedArray(plane * 4);
    const r = f * 3 * plane;
    const g = r + plane;
    const b = g + plane;
    // Uint8ClampedArray clamps to [0, 255] and rounds half to even; NaN becomes 0.
    for (let i = 0; i < plane; i++) {
      image[4 * i] = frames[r + i] * 255;
      image[4 * i + 1] = frames[g + i] * 255;
      image[4 * i + 2] = frames[b + i] * 255;
      image[4 * i + 3] = 255;
    }
    images.push(image);
  }
  return images;
}
