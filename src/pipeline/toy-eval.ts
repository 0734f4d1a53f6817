// Automatic judging of the toy model's clips: does the video show what the prompt says?
// Colour: the dominant non-background colour, by nearest palette colour. Motion: the direction of the
// foreground centroid's least-squares velocity over the frames. Shape: how much of its bounding box the
// shape fills (square ≈ 1, circle ≈ 0.8 on a pixel grid, triangle ≈ ½), reported but not part of the
// pass criteria (a blurry generated shape fills its box less than a sharp one).
// The palette matches train/toy/data.py (and model_index.json's "palette" when the model ships one).

export type Rgb = [number, number, number];

export interface ToyPalette {
  colours: Record<string, Rgb>;
  backgrounds: Record<string, Rgb>;
  shapes: string[];
  directions: string[];
}

export const TOY_PALETTE: ToyPalette = {
  colours: {
    red: [1, 0, 0],
    green: [0, 0.8, 0],
    blue: [0, 0.2, 1],
    yellow: [1, 0.9, 0],
    cyan: [0, 0.9, 0.9],
    magenta: [0.9, 0, 0.9],
  },
  backgrounds: { black: [0, 0, 0], white: [1, 1, 1] },
  shapes: ['circle', 'square', 'triangle'],
  directions: ['left', 'right', 'up', 'down'],
};

export interface ToyPrompt {
  colour: string;
  shape: string;
  direction: string;
  background: string;
}

export function toyCaption(p: ToyPrompt): string {
  return `a ${p.colour} ${p.shape} moving ${p.direction} on a ${p.background} background`;
}

/** Reads the attributes back out of a caption; undefined if it is not one the toy model knows. */
export function parseToyCaption(text: string, palette: ToyPalette = TOY_PALETTE): ToyPrompt | undefined {
  const m = /^a (\w+) (\w+) moving (\w+) on a (\w+) background$/.exec(text.trim().toLowerCase());
  if (!m) return undefined;
  const [, colour, shape, direction, background] = m;
  if (!(colour in palette.colours) || !palette.shapes.includes(shape) || !palette.directions.includes(direction) || !(background in palette.backgrounds)) {
    return undefined;
  }
  return { colour, shape, direction, background };
}

/** The fixed evaluation set: every colour and every direction, both backgrounds, all shapes. */
export function defaultToyPrompts(palette: ToyPalette = TOY_PALETTE): ToyPrompt[] {
  const colours = Object.keys(palette.colours);
  const bgs = Object.keys(palette.backgrounds);
  const prompts: ToyPrompt[] = [];
  const n = Math.max(colours.length, palette.directions.length) * 2;
  for (let i = 0; i < n; i++) {
    prompts.push({
      colour: colours[i % colours.length],
      shape: palette.shapes[i % palette.shapes.length],
      direction: palette.directions[(i + Math.floor(i / palette.directions.length)) % palette.directions.length],
      background: bgs[Math.floor(i / 2) % bgs.length],
    });
  }
  return prompts;
}

export interface ToyJudgement {
  colour: string | null;
  direction: string | null;
  shape: string | null;
  /** Centroid velocity in pixels per frame (x right, y down). */
  velocity: [number, number];
  /** Fraction of pixels judged foreground, over all frames. */
  coverage: number;
}

const dist2 = (a: Rgb, b: Rgb) => (a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2 + (a[2] - b[2]) ** 2;

/** Judges frames [F, 3, H, W] in [0, 1] against a known background. */
export function judgeToyClip(frames: Float32Array, shape: readonly number[], background: Rgb, palette: ToyPalette = TOY_PALETTE): ToyJudgement {
  const [f, c, h, w] = shape;
  if (c !== 3 || frames.length !== f * c * h * w) throw new Error(`judgeToyClip: frames must be [F, 3, H, W], got [${shape.join(', ')}]`);
  const colourNames = Object.keys(palette.colours);
  const votes = new Map<string, number>();
  const cx: number[] = [];
  const cy: number[] = [];
  const fills: number[] = [];
  let foreground = 0;
  for (let t = 0; t < f; t++) {
    let sx = 0;
    let sy = 0;
    let n = 0;
    let minX = w, maxX = -1, minY = h, maxY = -1;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const at = (ch: number) => frames[((t * 3 + ch) * h + y) * w + x];
        const px: Rgb = [at(0), at(1), at(2)];
        // Foreground: clearly away from the background (anti-aliased edges fall below the bar).
        if (dist2(px, background) < 0.35 ** 2) continue;
        let best = colourNames[0];
        for (const name of colourNames) if (dist2(px, palette.colours[name]) < dist2(px, palette.colours[best])) best = name;
        votes.set(best, (votes.get(best) ?? 0) + 1);
        sx += x;
        sy += y;
        n++;
        minX = Math.min(minX, x);
        maxX = Math.max(maxX, x);
        minY = Math.min(minY, y);
        maxY = Math.max(maxY, y);
      }
    }
    foreground += n;
    if (n > 0) {
      cx.push(sx / n);
      cy.push(sy / n);
      fills.push(n / ((maxX - minX + 1) * (maxY - minY + 1)));
    } else {
      cx.push(NaN);
      cy.push(NaN);
    }
  }
  let colour: string | null = null;
  let most = 0;
  for (const [name, count] of votes) if (count > most) (most = count), (colour = name);

  // Least-squares slope of the centroid over the frames where a shape was seen.
  const seen = cx.map((v, t) => (Number.isNaN(v) ? -1 : t)).filter((t) => t >= 0);
  const slope = (vals: number[]) => {
    if (seen.length < 2) return 0;
    const mt = seen.reduce((s, t) => s + t, 0) / seen.length;
    const mv = seen.reduce((s, t) => s + vals[t], 0) / seen.length;
    let num = 0;
    let den = 0;
    for (const t of seen) {
      num += (t - mt) * (vals[t] - mv);
      den += (t - mt) ** 2;
    }
    return num / den;
  };
  const vx = slope(cx);
  const vy = slope(cy);
  const minSpeed = 0.5; // px per frame: the training clips move 1.8–2.6
  let direction: string | null = null;
  if (Math.max(Math.abs(vx), Math.abs(vy)) >= minSpeed) direction = Math.abs(vx) >= Math.abs(vy) ? (vx > 0 ? 'right' : 'left') : vy > 0 ? 'down' : 'up';

  let shapeName: string | null = null;
  if (fills.length) {
    const fill = fills.slice().sort((a, b) => a - b)[Math.floor(fills.length / 2)];
    // On a pixel grid an axis-aligned square fills its box; a circle of radius 3.5–5.5 fills 0.69–0.94.
    shapeName = fill >= 0.97 ? 'square' : fill < 0.62 ? 'triangle' : 'circle';
  }
  return { colour, direction, shape: shapeName, velocity: [vx, vy], coverage: foreground / (f * h * w) };
}
