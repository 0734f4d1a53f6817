// T5's bidirectional relative-position buckets, and the per-layer bias table the attention kernel
// reads. Computed on the host in float64: the test checks them against t5.py's float32 buckets over
// offsets −600…600 (test/golden/t5/buckets.json).

/**
 * The bucket of offset = key position − query position: half the buckets per direction (positive
 * offsets in the upper half); within a half, offsets below half/2 get their own bucket, larger ones
 * log-spaced buckets up to maxDistance, and everything past it the last.
 */
export function relativePositionBucket(offset: number, numBuckets: number, maxDistance: number): number {
  const half = Math.floor(numBuckets / 2);
  const base = offset > 0 ? half : 0;
  const distance = Math.abs(offset);
  const maxExact = Math.floor(half / 2);
  if (distance < maxExact) return base + distance;
  const large = maxExact + Math.trunc((Math.log(distance / maxExact) / Math.log(maxDistance / maxExact)) * (half - maxExact));
  return base + Math.min(large, half - 1);
}

/**
 * The bias of every offset −(span−1)…span−1 for each head, [heads, 2·span − 1], from a layer's
 * relative_attention_bias weight [numBuckets, heads] (row-major).
 */
export function positionBiasTable(embedding: Float32Array, numBuckets: number, heads: number, maxDistance: number, span: number): Float32Array {
  if (embedding.length !== numBuckets * heads) throw new Error(`relative_attention_bias has ${embedding.length} values, expected ${numBuckets} × ${heads}`);
  const width = 2 * span - 1;
  const table = new Float32Array(heads * width);
  for (let o = 0; o < width; o++) {
    const bucket = relativePositionBucket(o - (span - 1), numBuckets, maxDistance);
    for (let h = 0; h < heads; h++) table[h * width + o] = embedding[bucket * heads + h];
  }
  return table;
}
