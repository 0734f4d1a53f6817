// Checkpoint key names. Diffusers names are the model's own field names; single-file checkpoints use
// the original Wan2.1 names, mapped here (and only here) by plain substring replacements, in order.

const ORIGINAL_TO_DIFFUSERS: [string, string][] = [
  ['time_embedding.0', 'condition_embedder.time_embedder.linear_1'],
  ['time_embedding.2', 'condition_embedder.time_embedder.linear_2'],
  ['text_embedding.0', 'condition_embedder.text_embedder.linear_1'],
  ['text_embedding.2', 'condition_embedder.text_embedder.linear_2'],
  ['time_projection.1', 'condition_embedder.time_proj'],
  ['head.modulation', 'scale_shift_table'],
  ['head.head', 'proj_out'],
  ['modulation', 'scale_shift_table'],
  ['ffn.0', 'ffn.net.0.proj'],
  ['ffn.2', 'ffn.net.2'],
  // The original's norm3 is the affine LayerNorm before cross-attention, which diffusers calls norm2.
  ['norm2', '__norm_swap__'],
  ['norm3', 'norm2'],
  ['__norm_swap__', 'norm3'],
  ['self_attn.q.', 'attn1.to_q.'],
  ['self_attn.k.', 'attn1.to_k.'],
  ['self_attn.v.', 'attn1.to_v.'],
  ['self_attn.o.', 'attn1.to_out.0.'],
  ['self_attn.norm_q', 'attn1.norm_q'],
  ['self_attn.norm_k', 'attn1.norm_k'],
  ['cross_attn.q.', 'attn2.to_q.'],
  ['cross_attn.k.', 'attn2.to_k.'],
  ['cross_attn.v.', 'attn2.to_v.'],
  ['cross_attn.o.', 'attn2.to_out.0.'],
  ['cross_attn.norm_q', 'attn2.norm_q'],
  ['cross_attn.norm_k', 'attn2.norm_k'],
];

const SINGLE_FILE_PREFIX = 'model.diffusion_model.';

export function originalToDiffusers(name: string): string {
  let n = name.startsWith(SINGLE_FILE_PREFIX) ? name.slice(SINGLE_FILE_PREFIX.length) : name;
  for (const [from, to] of ORIGINAL_TO_DIFFUSERS) n = n.split(from).join(to);
  return n;
}

/** True when the names look like the original Wan layout (single-file checkpoints). */
export function usesOriginalNames(names: Iterable<string>): boolean {
  for (const n of names) {
    if (n.startsWith(SINGLE_FILE_PREFIX) || n.includes('.self_attn.') || n.startsWith('head.head') || n.startsWith('time_embedding.')) return true;
  }
  return false;
}

/** Maps each diffusers name to the checkpoint's own name for it. */
export function diffusersNameMap(checkpointNames: Iterable<string>): Map<string, string> {
  const names = [...checkpointNames];
  const original = usesOriginalNames(names);
  const map = new Map<string, string>();
  for (const n of names) {
    const d = original ? originalToDiffusers(n) : n;
    if (map.has(d)) throw new Error(`checkpoint has two tensors for ${d}: ${map.get(d)} and ${n}`);
    map.set(d, n);
  }
  return map;
}
