// Synthetic clips shaped like the toy model's output: a coloured square moving right across a dark
// background, with a fixed speckle (deterministic noise) like the model's. Pure code: Node and browser.

/** `count` RGBA frames of width × height. */
export function movingSquareFrames(count: number, width: number, height: number): Uint8ClampedArray[] {
  const side = Math.max(1, Math.round(Math.min(width, height) / 3));
  let state = 12345;
  const speckle = new Uint8Array(width * height);
  for (let i = 0; i < speckle.length; i++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    speckle[i] = (state >>> 24) % 24;
  }
  return Array.from({ length: count }, (_, f) => {
    const rgba = new Uint8ClampedArray(width * height * 4);
    const x0 = Math.round(((width - side) * f) / Math.max(1, count - 1));
    const y0 = Math.round((height - side) / 2);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const i = y * width + x;
        const inside = x >= x0 && x < x0 + side && y >= y0 && y < y0 + side;
        rgba[4 * i] = inside ? 230 - speckle[i] : speckle[i];
        rgba[4 * i + 1] = inside ? 40 + speckle[i] : speckle[i];
        rgba[4 * i + 2] = inside ? 60 : 20 + speckle[i];
        rgba[4 * i + 3] = 255;
      }
    }
    return rgba;
  });
}
