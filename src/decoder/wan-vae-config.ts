// The Wan2.1 VAE decoder's structure (wan/modules/vae.py: WanVAE_.conv2 and Decoder3d), the tensors
// it needs under the original key names (as in the single-file wan_2.1_vae.safetensors), and their
// diffusers AutoencoderKLWan names. Pure data: no GPU here.

/** Wan2.1's latent statistics (vae.py's WanVAE; diffusers' latents_mean / latents_std). */
export const WAN21_LATENTS_MEAN = [
  -0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508, 0.4134, -0.0715, 0.5517, -0.3632, -0.1922, -0.9497, 0.2503, -0.2921,
];
export const WAN21_LATENTS_STD = [
  2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743, 3.2687, 2.1526, 2.8652, 1.5579, 1.6382, 1.1253, 2.8251, 1.916,
];

export interface WanVaeConfig {
  /** Base width (96 in Wan2.1). */
  baseDim: number;
  zDim: number;
  dimMult: number[];
  numResBlocks: number;
  /** Per up stage but the last: whether its resample doubles the frames (Wan2.1: [true, true, false]). */
  temporalUpsample: boolean[];
  latentsMean: number[];
  latentsStd: number[];
}

export const WAN21_VAE_CONFIG: WanVaeConfig = {
  baseDim: 96,
  zDim: 16,
  dimMult: [1, 2, 4, 4],
  numResBlocks: 2,
  temporalUpsample: [true, true, false],
  latentsMean: WAN21_LATENTS_MEAN,
  latentsStd: WAN21_LATENTS_STD,
};

/** Reads a diffusers `vae/config.json` (AutoencoderKLWan); missing fields take Wan2.1's values. */
export function parseWanVaeConfig(text: string, where: string): WanVaeConfig {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${where}: not JSON (${(e as Error).message})`);
  }
  if (raw._class_name !== undefined && raw._class_name !== 'AutoencoderKLWan') {
    throw new Error(`${where}: a ${String(raw._class_name)} config, not AutoencoderKLWan`);
  }
  const num = (key: string, fallback: number): number => {
    const v = raw[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new Error(`${where}: "${key}" must be a positive integer, got ${JSON.stringify(v)}`);
    return v;
  };
  const list = <T>(key: string, fallback: T[], ok: (v: unknown) => v is T): T[] => {
    const v = raw[key] ?? fallback;
    if (!Array.isArray(v) || !v.every(ok)) throw new Error(`${where}: "${key}" must be a list, got ${JSON.stringify(v)}`);
    return v as T[];
  };
  const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
  const isBool = (v: unknown): v is boolean => typeof v === 'boolean';
  const downsample = list('temperal_downsample', [false, true, true], isBool);
  const attnScales = list('attn_scales', [], isNumber);
  if (attnScales.length > 0) throw new Error(`${where}: attention at the up scales (attn_scales ${JSON.stringify(attnScales)}) is not supported; Wan2.1 has none`);
  const cfg: WanVaeConfig = {
    baseDim: num('base_dim', 96),
    zDim: num('z_dim', 16),
    dimMult: list('dim_mult', [1, 2, 4, 4], isNumber),
    numResBlocks: num('num_res_blocks', 2),
    temporalUpsample: [...downsample].reverse(),
    latentsMean: list('latents_mean', WAN21_LATENTS_MEAN, isNumber),
    latentsStd: list('latents_std', WAN21_LATENTS_STD, isNumber),
  };
  checkConfig(cfg, where);
  return cfg;
}

export function checkConfig(cfg: WanVaeConfig, where: string): void {
  const stages = cfg.dimMult.length;
  if (stages < 2) throw new Error(`${where}: dim_mult needs at least 2 entries, got ${JSON.stringify(cfg.dimMult)}`);
  if (cfg.temporalUpsample.length !== stages - 1) {
    throw new Error(`${where}: temperal_downsample must have ${stages - 1} entries (one per resample), got ${cfg.temporalUpsample.length}`);
  }
  if (cfg.latentsMean.length !== cfg.zDim || cfg.latentsStd.length !== cfg.zDim) {
    throw new Error(`${where}: latents_mean and latents_std must have z_dim = ${cfg.zDim} values`);
  }
  if (cfg.latentsStd.some((s) => !(s > 0))) throw new Error(`${where}: latents_std must be positive`);
}

export type ResampleMode = 'upsample2d' | 'upsample3d';

export interface ResidualBlockSpec {
  kind: 'residual';
  /** The original key prefix, e.g. "decoder.upsamples.4". */
  key: string;
  inDim: number;
  outDim: number;
}
export interface ResampleSpec {
  kind: 'resample';
  key: string;
  dim: number;
  mode: ResampleMode;
}
export type UpLayer = ResidualBlockSpec | ResampleSpec;

export interface DecoderStructure {
  /** Channels after conv1 and through the middle. */
  middleDim: number;
  upLayers: UpLayer[];
  /** Channels entering the head. */
  outDim: number;
  /** Frames per latent frame after the first: 2^(temporal resamples). */
  temporalScale: number;
  spatialScale: number;
}

/** Decoder3d's layers in order, as its constructor builds them. */
export function decoderStructure(cfg: WanVaeConfig): DecoderStructure {
  const mult = [cfg.dimMult[cfg.dimMult.length - 1], ...[...cfg.dimMult].reverse()];
  const dims = mult.map((m) => cfg.baseDim * m);
  const upLayers: UpLayer[] = [];
  const stages = cfg.dimMult.length;
  let outDim = dims[0];
  for (let i = 0; i < stages; i++) {
    // A resample halves the channels, so every stage after the first starts at half its input width.
    let inDim = i === 0 ? dims[i] : dims[i] / 2;
    outDim = dims[i + 1];
    for (let r = 0; r < cfg.numResBlocks + 1; r++) {
      upLayers.push({ kind: 'residual', key: `decoder.upsamples.${upLayers.length}`, inDim, outDim });
      inDim = outDim;
    }
    if (i !== stages - 1) {
      upLayers.push({ kind: 'resample', key: `decoder.upsamples.${upLayers.length}`, dim: outDim, mode: cfg.temporalUpsample[i] ? 'upsample3d' : 'upsample2d' });
    }
  }
  return {
    middleDim: dims[0],
    upLayers,
    outDim,
    temporalScale: 2 ** cfg.temporalUpsample.filter(Boolean).length,
    spatialScale: 2 ** (stages - 1),
  };
}

function residualShapes(shapes: Map<string, number[]>, key: string, inDim: number, outDim: number): void {
  shapes.set(`${key}.residual.0.gamma`, [inDim, 1, 1, 1]);
  shapes.set(`${key}.residual.2.weight`, [outDim, inDim, 3, 3, 3]);
  shapes.set(`${key}.residual.2.bias`, [outDim]);
  shapes.set(`${key}.residual.3.gamma`, [outDim, 1, 1, 1]);
  shapes.set(`${key}.residual.6.weight`, [outDim, outDim, 3, 3, 3]);
  shapes.set(`${key}.residual.6.bias`, [outDim]);
  if (inDim !== outDim) {
    shapes.set(`${key}.shortcut.weight`, [outDim, inDim, 1, 1, 1]);
    shapes.set(`${key}.shortcut.bias`, [outDim]);
  }
}

/** Every tensor of the decoder under its original key, with its shape. */
export function decoderTensorShapes(cfg: WanVaeConfig): Map<string, number[]> {
  const s = decoderStructure(cfg);
  const shapes = new Map<string, number[]>();
  const z = cfg.zDim;
  const m = s.middleDim;
  shapes.set('conv2.weight', [z, z, 1, 1, 1]);
  shapes.set('conv2.bias', [z]);
  shapes.set('decoder.conv1.weight', [m, z, 3, 3, 3]);
  shapes.set('decoder.conv1.bias', [m]);
  residualShapes(shapes, 'decoder.middle.0', m, m);
  shapes.set('decoder.middle.1.norm.gamma', [m, 1, 1]);
  shapes.set('decoder.middle.1.to_qkv.weight', [3 * m, m, 1, 1]);
  shapes.set('decoder.middle.1.to_qkv.bias', [3 * m]);
  shapes.set('decoder.middle.1.proj.weight', [m, m, 1, 1]);
  shapes.set('decoder.middle.1.proj.bias', [m]);
  residualShapes(shapes, 'decoder.middle.2', m, m);
  for (const layer of s.upLayers) {
    if (layer.kind === 'residual') residualShapes(shapes, layer.key, layer.inDim, layer.outDim);
    else {
      shapes.set(`${layer.key}.resample.1.weight`, [layer.dim / 2, layer.dim, 3, 3]);
      shapes.set(`${layer.key}.resample.1.bias`, [layer.dim / 2]);
      if (layer.mode === 'upsample3d') {
        shapes.set(`${layer.key}.time_conv.weight`, [2 * layer.dim, layer.dim, 3, 1, 1]);
        shapes.set(`${layer.key}.time_conv.bias`, [2 * layer.dim]);
      }
    }
  }
  shapes.set('decoder.head.0.gamma', [s.outDim, 1, 1, 1]);
  shapes.set('decoder.head.2.weight', [3, s.outDim, 3, 3, 3]);
  shapes.set('decoder.head.2.bias', [3]);
  return shapes;
}

const RESIDUAL_NAMES: Record<string, string> = {
  'residual.0.gamma': 'norm1.gamma',
  'residual.2.weight': 'conv1.weight',
  'residual.2.bias': 'conv1.bias',
  'residual.3.gamma': 'norm2.gamma',
  'residual.6.weight': 'conv2.weight',
  'residual.6.bias': 'conv2.bias',
  'shortcut.weight': 'conv_shortcut.weight',
  'shortcut.bias': 'conv_shortcut.bias',
};

/** The diffusers AutoencoderKLWan name of an original decoder key (scripts/convert_wan_to_diffusers.py's mapping). */
export function diffusersKey(key: string, cfg: WanVaeConfig): string {
  const p = key.split('.');
  if (p[0] === 'conv2') return `post_quant_conv.${p[1]}`;
  if (key.startsWith('decoder.conv1.')) return `decoder.conv_in.${p[2]}`;
  if (key === 'decoder.head.0.gamma') return 'decoder.norm_out.gamma';
  if (key.startsWith('decoder.head.2.')) return `decoder.conv_out.${p[3]}`;
  const index = Number(p[2]);
  const rest = p.slice(3).join('.');
  if (key.startsWith('decoder.middle.')) {
    if (index === 1) return `decoder.mid_block.attentions.0.${rest}`;
    return `decoder.mid_block.resnets.${index / 2}.${RESIDUAL_NAMES[rest]}`;
  }
  if (key.startsWith('decoder.upsamples.')) {
    const perStage = cfg.numResBlocks + 2; // residual blocks, then the stage's resample
    const stage = Math.floor(index / perStage);
    const j = index % perStage;
    if (j === cfg.numResBlocks + 1) return `decoder.up_blocks.${stage}.upsamplers.0.${rest}`;
    return `decoder.up_blocks.${stage}.resnets.${j}.${RESIDUAL_NAMES[rest]}`;
  }
  throw new Error(`no diffusers name for "${key}"`);
}
