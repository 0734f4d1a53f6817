// Wan2.1 transformer configuration, read from a diffusers `config.json` (WanTransformer3DModel).
// The class defaults in diffusers are the 14B model's, so every size field is required here.

export interface WanConfig {
  patchSize: [number, number, number];
  numHeads: number;
  headDim: number;
  /** Model width: numHeads · headDim. */
  dim: number;
  inChannels: number;
  outChannels: number;
  textDim: number;
  freqDim: number;
  ffnDim: number;
  numLayers: number;
  crossAttnNorm: boolean;
  eps: number;
  ropeMaxSeqLen: number;
}

function field(json: Record<string, unknown>, name: string, where: string): unknown {
  if (json[name] === undefined) throw new Error(`${where}: missing "${name}"`);
  return json[name];
}

function positiveInt(json: Record<string, unknown>, name: string, where: string): number {
  const v = field(json, name, where);
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new Error(`${where}: "${name}" must be a positive integer, got ${JSON.stringify(v)}`);
  return v;
}

/** The published Wan2.1 text-to-video transformers' config.json (diffusers' form), by size. */
export const WAN21_T2V_CONFIGS = {
  '1.3b': wan21Config({ num_attention_heads: 12, ffn_dim: 8960, num_layers: 30 }),
  '14b': wan21Config({ num_attention_heads: 40, ffn_dim: 13824, num_layers: 40 }),
};

function wan21Config(size: { num_attention_heads: number; ffn_dim: number; num_layers: number }) {
  return {
    _class_name: 'WanTransformer3DModel',
    patch_size: [1, 2, 2],
    attention_head_dim: 128,
    in_channels: 16,
    out_channels: 16,
    text_dim: 4096,
    freq_dim: 256,
    cross_attn_norm: true,
    qk_norm: 'rms_norm_across_heads',
    eps: 1e-6,
    image_dim: null,
    added_kv_proj_dim: null,
    rope_max_seq_len: 1024,
    ...size,
  };
}

export function parseWanConfig(json: unknown, where = 'config.json'): WanConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error(`${where}: not a JSON object`);
  const c = json as Record<string, unknown>;
  const cls = c._class_name;
  if (cls !== undefined && cls !== 'WanTransformer3DModel') {
    throw new Error(`${where}: _class_name is "${String(cls)}", webdit runs WanTransformer3DModel`);
  }
  const patch = field(c, 'patch_size', where);
  if (!Array.isArray(patch) || patch.length !== 3 || !patch.every((p) => Number.isInteger(p) && p > 0)) {
    throw new Error(`${where}: "patch_size" must be three positive integers, got ${JSON.stringify(patch)}`);
  }
  const numHeads = positiveInt(c, 'num_attention_heads', where);
  const headDim = positiveInt(c, 'attention_head_dim', where);
  if (headDim % 2 !== 0 || headDim < 6) throw new Error(`${where}: attention_head_dim ${headDim} must be even and ≥ 6 for the 3D RoPE split`);
  const qkNorm = c.qk_norm ?? 'rms_norm_across_heads';
  if (qkNorm !== 'rms_norm_across_heads') throw new Error(`${where}: qk_norm "${String(qkNorm)}" is not supported (only rms_norm_across_heads)`);
  for (const unsupported of ['image_dim', 'added_kv_proj_dim'] as const) {
    if (c[unsupported] !== undefined && c[unsupported] !== null) {
      throw new Error(`${where}: "${unsupported}" is set (image-to-video); webdit supports the text-to-video model only`);
    }
  }
  const eps = c.eps ?? 1e-6;
  if (typeof eps !== 'number' || !(eps > 0)) throw new Error(`${where}: "eps" must be a positive number`);
  return {
    patchSize: patch as [number, number, number],
    numHeads,
    headDim,
    dim: numHeads * headDim,
    inChannels: positiveInt(c, 'in_channels', where),
    outChannels: positiveInt(c, 'out_channels', where),
    textDim: positiveInt(c, 'text_dim', where),
    freqDim: positiveInt(c, 'freq_dim', where),
    ffnDim: positiveInt(c, 'ffn_dim', where),
    numLayers: positiveInt(c, 'num_layers', where),
    crossAttnNorm: c.cross_attn_norm === undefined ? true : Boolean(c.cross_attn_norm),
    eps,
    ropeMaxSeqLen: typeof c.rope_max_seq_len === 'number' ? c.rope_max_seq_len : 1024,
  };
}

/** Every tensor of the model under its diffusers name, with its shape. */
export function expectedTensors(cfg: WanConfig): Map<string, number[]> {
  const { dim, ffnDim, textDim, freqDim, inChannels, outChannels, patchSize } = cfg;
  const [pt, ph, pw] = patchSize;
  const m = new Map<string, number[]>();
  const linear = (name: string, out: number, inp: number) => {
    m.set(`${name}.weight`, [out, inp]);
    m.set(`${name}.bias`, [out]);
  };
  m.set('patch_embedding.weight', [dim, inChannels, pt, ph, pw]);
  m.set('patch_embedding.bias', [dim]);
  linear('condition_embedder.text_embedder.linear_1', dim, textDim);
  linear('condition_embedder.text_embedder.linear_2', dim, dim);
  linear('condition_embedder.time_embedder.linear_1', dim, freqDim);
  linear('condition_embedder.time_embedder.linear_2', dim, dim);
  linear('condition_embedder.time_proj', 6 * dim, dim);
  for (let i = 0; i < cfg.numLayers; i++) {
    const b = `blocks.${i}`;
    m.set(`${b}.scale_shift_table`, [1, 6, dim]);
    for (const attn of ['attn1', 'attn2']) {
      for (const p of ['to_q', 'to_k', 'to_v', 'to_out.0']) linear(`${b}.${attn}.${p}`, dim, dim);
      m.set(`${b}.${attn}.norm_q.weight`, [dim]);
      m.set(`${b}.${attn}.norm_k.weight`, [dim]);
    }
    if (cfg.crossAttnNorm) {
      m.set(`${b}.norm2.weight`, [dim]);
      m.set(`${b}.norm2.bias`, [dim]);
    }
    linear(`${b}.ffn.net.0.proj`, ffnDim, dim);
    linear(`${b}.ffn.net.2`, dim, ffnDim);
  }
  m.set('scale_shift_table', [1, 2, dim]);
  linear('proj_out', outChannels * pt * ph * pw, dim);
  return m;
}

/** Parameter count of a config (for `plan` and the README). */
export function parameterCount(cfg: WanConfig): number {
  let n = 0;
  for (const shape of expectedTensors(cfg).values()) n += shape.reduce((a, b) => a * b, 1);
  return n;
}
