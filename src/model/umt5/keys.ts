// umT5 encoder tensor names. Canonical names are Hugging Face `UMT5EncoderModel`'s; Wan's original
// names (wan/modules/t5.py's T5Encoder state_dict) are mapped onto them here and nowhere else.

import type { Umt5Config } from './config.ts';

/** The tensors of layer i, canonical names (shape comments: out × in, as nn.Linear stores them). */
export function layerNames(i: number) {
  const a = `encoder.block.${i}.layer.0`;
  const f = `encoder.block.${i}.layer.1`;
  return {
    norm1: `${a}.layer_norm.weight`, // [d_model]
    q: `${a}.SelfAttention.q.weight`, // [heads·d_kv, d_model]
    k: `${a}.SelfAttention.k.weight`, // [heads·d_kv, d_model]
    v: `${a}.SelfAttention.v.weight`, // [heads·d_kv, d_model]
    o: `${a}.SelfAttention.o.weight`, // [d_model, heads·d_kv]
    positionBias: `${a}.SelfAttention.relative_attention_bias.weight`, // [num_buckets, heads]
    norm2: `${f}.layer_norm.weight`, // [d_model]
    wi0: `${f}.DenseReluDense.wi_0.weight`, // [d_ff, d_model]: the GELU-gated branch
    wi1: `${f}.DenseReluDense.wi_1.weight`, // [d_ff, d_model]: the linear branch
    wo: `${f}.DenseReluDense.wo.weight`, // [d_model, d_ff]
  };
}

export const EMBEDDING = 'shared.weight'; // [vocab, d_model]
export const FINAL_NORM = 'encoder.final_layer_norm.weight'; // [d_model]
/** HF checkpoints may hold the embedding twice (tied): this name is accepted and ignored beside EMBEDDING. */
const TIED_EMBEDDING = 'encoder.embed_tokens.weight';

export function expectedTensors(cfg: Umt5Config): Map<string, number[]> {
  const inner = cfg.numHeads * cfg.dKv;
  const m = new Map<string, number[]>([
    [EMBEDDING, [cfg.vocabSize, cfg.dModel]],
    [FINAL_NORM, [cfg.dModel]],
  ]);
  for (let i = 0; i < cfg.numLayers; i++) {
    const n = layerNames(i);
    m.set(n.norm1, [cfg.dModel]);
    m.set(n.q, [inner, cfg.dModel]);
    m.set(n.k, [inner, cfg.dModel]);
    m.set(n.v, [inner, cfg.dModel]);
    m.set(n.o, [cfg.dModel, inner]);
    m.set(n.positionBias, [cfg.numBuckets, cfg.numHeads]);
    m.set(n.norm2, [cfg.dModel]);
    m.set(n.wi0, [cfg.dFf, cfg.dModel]);
    m.set(n.wi1, [cfg.dFf, cfg.dModel]);
    m.set(n.wo, [cfg.dModel, cfg.dFf]);
  }
  return m;
}

const WAN_BLOCK: Record<string, keyof ReturnType<typeof layerNames>> = {
  'norm1.weight': 'norm1',
  'attn.q.weight': 'q',
  'attn.k.weight': 'k',
  'attn.v.weight': 'v',
  'attn.o.weight': 'o',
  'pos_embedding.embedding.weight': 'positionBias',
  'norm2.weight': 'norm2',
  'ffn.gate.0.weight': 'wi0',
  'ffn.fc1.weight': 'wi1',
  'ffn.fc2.weight': 'wo',
};

/** A Wan original name's canonical name, or undefined for a name Wan's T5Encoder does not have. */
function canonicalFromWan(name: string): string | undefined {
  if (name === 'token_embedding.weight') return EMBEDDING;
  if (name === 'norm.weight') return FINAL_NORM;
  const m = /^blocks\.(\d+)\.(.+)$/.exec(name);
  const field = m ? WAN_BLOCK[m[2]] : undefined;
  return field ? layerNames(Number(m![1]))[field] : undefined;
}

/**
 * Canonical name → checkpoint name. Wan's names are recognised by `token_embedding.weight`; a name
 * that maps to nothing is kept as is (so the loader lists it as unexpected).
 */
export function canonicalNameMap(names: Iterable<string>): Map<string, string> {
  const all = [...names];
  const wan = all.includes('token_embedding.weight');
  const map = new Map<string, string>();
  for (const name of all) {
    if (!wan && name === TIED_EMBEDDING) {
      if (!all.includes(EMBEDDING)) map.set(EMBEDDING, name);
      continue;
    }
    const canonical = wan ? (canonicalFromWan(name) ?? name) : name;
    if (map.has(canonical)) throw new Error(`two tensors map to "${canonical}": ${map.get(canonical)} and ${name}`);
    map.set(canonical, name);
  }
  return map;
}
