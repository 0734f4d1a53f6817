// Clean channels a model takes beside its noisy latents, concatenated along C at every step, the way
// Wan2.1's image-to-video model takes its image latents. webdit's toy model takes "position": ramps of
// x, y and t, because the Wan transformer has no absolute position of its own (RoPE is relative), and a
// toy world where only the direction word says which way a shape goes needs to know left from right.

/** Condition kinds a model folder may name in model_index.json ("condition"). */
export type ModelCondition = 'position';

export const CONDITION_CHANNELS: Record<ModelCondition, number> = { position: 3 };

export function parseCondition(value: unknown, where: string): ModelCondition | undefined {
  if (value === undefined || value === null) return undefined;
  if (value === 'position') return value;
  throw new Error(`${where}: unknown "condition" ${JSON.stringify(value)} (webdit knows "position")`);
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

/** Ramp value of cell i of n: (i + ½)/n·2 − 1, from −1 (first) to 1 (last), at cell centres. */
function ramp(i: number, n: number): number {
  return ((i + 0.5) / n) * 2 - 1;
}

/**
 * The "position" condition for a latent grid of `frames`×`height`×`width`: [3, F, H, W], channel 0 = x
 * (left −1 … right 1), 1 = y (top −1 … bottom 1), 2 = t (first −1 … last frame 1); as
 * train/toy/data.py's position_condition.
 */
export function positionCondition(frames: number, height: number, width: number): Float32Array {
  const plane = frames * height * width;
  const out = new Float32Array(3 * plane);
  for (let t = 0; t < frames; t++) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const i = (t * height + y) * width + x;
        out[i] = ramp(x, width);
        out[plane + i] = ramp(y, height);
        out[2 * plane + i] = ramp(t, frames);
      }
    }
  }
  return out;
}

/** The condition's values for a latent shape [C, F, H, W] (C: the model's output channels). */
export function conditionValues(condition: ModelCondition, latentShape: readonly number[]): Float32Array {
  const [, frames, height, width] = latentShape;
  switch (condition) {
    case 'position':
      return positionCondition(frames, height, width);
  }
}
