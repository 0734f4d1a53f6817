// umT5 encoder hyperparameters: read from a Hugging Face `text_encoder/config.json` (UMT5 fields), or
// inferred from the checkpoint's shapes when there is none (Wan's original single files).

export interface Umt5Config {
  /** d_model: the width of the token states. */
  dModel: number;
  /** d_kv: the size of one attention head. */
  dKv: number;
  /** d_ff: the FFN's hidden width. */
  dFf: number;
  numLayers: number;
  numHeads: number;
  /** relative_attention_num_buckets (both directions together). */
  numBuckets: number;
  /** relative_attention_max_distance: offsets past it share the last bucket. */
  maxDistance: number;
  vocabSize: number;
  /** layer_norm_epsilon of T5's RMS norm. */
  eps: number;
}

/** Wan's t5.py hard-codes these; HF configs state them. */
export const UMT5_DEFAULT_MAX_DISTANCE = 128;
export const UMT5_DEFAULT_EPS = 1e-6;

function positiveInteger(json: Record<string, unknown>, key: string, where: string): number {
  const v = json[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new Error(`${where}: "${key}" must be a positive integer, got ${JSON.stringify(v)}`);
  return v;
}

export function parseUmt5Config(json: unknown, where: string): Umt5Config {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error(`${where}: not a JSON object`);
  const j = json as Record<string, unknown>;
  const proj = j.feed_forward_proj ?? 'gated-gelu';
  if (proj !== 'gated-gelu') throw new Error(`${where}: feed_forward_proj "${String(proj)}" is not umT5's "gated-gelu"`);
  const eps = j.layer_norm_epsilon ?? UMT5_DEFAULT_EPS;
  if (typeof eps !== 'number' || !(eps >= 0) || !Number.isFinite(eps)) throw new Error(`${where}: "layer_norm_epsilon" must be a finite number ≥ 0`);
  const config: Umt5Config = {
    dModel: positiveInteger(j, 'd_model', where),
    dKv: positiveInteger(j, 'd_kv', where),
    dFf: positiveInteger(j, 'd_ff', where),
    numLayers: positiveInteger(j, 'num_layers', where),
    numHeads: positiveInteger(j, 'num_heads', where),
    numBuckets: positiveInteger(j, 'relative_attention_num_buckets', where),
    maxDistance: j.relative_attention_max_distance === undefined ? UMT5_DEFAULT_MAX_DISTANCE : positiveInteger(j, 'relative_attention_max_distance', where),
    vocabSize: positiveInteger(j, 'vocab_size', where),
    eps,
  };
  if (config.numBuckets < 4) throw new Error(`${where}: relative_attention_num_buckets must be at least 4, got ${config.numBuckets}`);
  return config;
}
