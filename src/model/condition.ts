// Clean channels a model takes beside its noisy latents, concatenated along C at every step, the way
// Wan2.1's image-to-video model takes its image latents. webdit's toy models take ramps of x, y and t
// ("position"), because the Wan transformer has no absolute position of its own (RoPE is relative), and a
// toy world where only the direction word says which way a shape goes needs to know left from right.
// "spacetime" adds the products x·t and y·t: following a direction word then takes one product
// (word × channel) instead of three (word × x × t), which the shipped model learned many times faster.

/** Condition kinds a model folder may name in model_index.json ("condition"). */
export type ModelCondition = 'position' | 'spacetime';

export const CONDITION_CHANNELS: Record<ModelCondition, number> = { position: 3, spacetime: 5 };

export function parseCondition(value: unknown, where: string): ModelCondition | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string' && value in CONDITION_CHANNELS) return value as ModelCondition;
  const known = Object.keys(CONDITION_CHANNELS).map((k) => `"${k}"`).join(', ');
  throw new Error(`${where}: unknown "condition" ${JSON.stringify(value)} (webdit knows ${known})`);
}

/** Throws unless the condition's channels are exactly what the transformer takes beyond what it makes. */
export function checkConditionChannels(
  config: { inChannels: number; outChannels: number },
  condition: ModelCondition | undefined,
  where: string,
): void {
  const extra = condition ? CONDITION_CHANNELS[condition] : 0;
  if (config.inChannels === config.outChannels + extra) return;
  throw new Error(
    `${where}: the transformer takes ${config.inChannels} input channels and makes ${config.outChannels}; ` +
      (condition
        ? `the "${condition}" condition adds ${extra}`
        : 'no condition (model_index.json "condition") accounts for the difference; image-to-video models are not supported'),
  );
}

/** Ramp value of cell i of n: (i + ½)/n·2 − 1, from −1 (first) to 1 (last), at cell centres, rounded
 * step by step in f32 as torch computes it (so products of ramps match the training code bit for bit). */
function ramp(i: number, n: number): number {
  return Math.fround(Math.fround((i + 0.5) / n) * 2 - 1);
}

/**
 * The condition for a latent grid of `frames`×`height`×`width`, channel-major [C, F, H, W]: channel 0 = x
 * (left −1 … right 1), 1 = y (top −1 … bottom 1), 2 = t (first −1 … last frame 1); "spacetime" adds
 * 3 = x·t and 4 = y·t (each product of the f32 ramps, rounded once to f32); as train/toy/data.py's
 * position_condition.
 */
export function positionCondition(frames: number, height: number, width: number, kind: ModelCondition = 'position'): Float32Array {
  const plane = frames * height * width;
  const out = new Float32Array(CONDITION_CHANNELS[kind] * plane);
  for (let t = 0; t < frames; t++) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const i = (t * height + y) * width + x;
        const [rx, ry, rt] = [ramp(x, width), ramp(y, height), ramp(t, frames)];
        out[i] = rx;
        out[plane + i] = ry;
        out[2 * plane + i] = rt;
        if (kind === 'spacetime') {
          out[3 * plane + i] = rx * rt;
          out[4 * plane + i] = ry * rt;
        }
      }
    }
  }
  return out;
}

/** The condition's values for a latent shape [C, F, H, W] (C: the model's output channels). */
export function conditionValues(condition: ModelCondition, latentShape: readonly number[]): Float32Array {
  const [, frames, height, width] = latentShape;
  return positionCondition(frames, height, width, condition);
}
