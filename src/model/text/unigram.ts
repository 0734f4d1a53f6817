// SentencePiece's unigram segmentation (unigram_model.cc, EncodeOptimized): Viterbi over every
// vocabulary piece that matches the normalized bytes, scores summed in float32 as the C++ code does,
// so ties break the same way. A character no piece covers becomes <unk> (scored min − 10), a run of
// them one <unk>; with byte fallback each is spelled as its UTF-8 bytes, <0xNN> pieces. Browser-safe.

import { utf8CharLength } from './normalizer.ts';
import { PieceType, type SentencePieceModel } from './sentencepiece-model.ts';

const UNKNOWN_PENALTY = 10;
const FLT_MAX = 3.4028234663852886e38;
const FLT_MIN = 1.1754943508222875e-38;
const utf8 = new TextEncoder();

/** A byte string as a JavaScript string of char codes 0–255, usable as a Map key. */
function byteKey(bytes: Uint8Array, start = 0, end = bytes.length): string {
  let s = '';
  // In chunks: fromCharCode takes its codes as arguments, and arguments are limited.
  for (let i = start; i < end; i += 8192) s += String.fromCharCode(...bytes.subarray(i, Math.min(end, i + 8192)));
  return s;
}

export class UnigramModel {
  /** Every piece by byte key (PieceToId, and the segmentation's vocabulary with the types below). */
  private readonly idByKey = new Map<string, number>();
  /** The pieces the segmentation may choose (normal, user-defined), byte keys sorted: a trie in a list. */
  private readonly sortedKeys: string[];
  private readonly sortedIds: Int32Array;
  private readonly scores: Float32Array;
  private readonly types: Uint8Array;
  private readonly minScore: number;
  private readonly maxScore: number;
  readonly unkId: number;
  readonly byteFallback: boolean;
  /** Longest user-defined piece at a position (the normalizer leaves those untouched). */
  readonly userDefinedMatcher?: (bytes: Uint8Array, pos: number) => number;

  constructor(model: SentencePieceModel, what: string) {
    if (model.trainer.modelType !== 1) throw new Error(`${what}: model type ${model.trainer.modelType} is not unigram (1); only unigram models are supported`);
    const n = model.pieces.length;
    this.scores = new Float32Array(n);
    this.types = new Uint8Array(n);
    let unkId = -1;
    let hasBytes = false;
    let minScore = FLT_MAX;
    let maxScore = FLT_MIN;
    const userDefined: Uint8Array[] = [];
    for (let id = 0; id < n; id++) {
      const { piece, bytes, score, type } = model.pieces[id];
      if (bytes.length === 0) throw new Error(`${what}: piece ${id} is empty`);
      if (type < PieceType.Normal || type > PieceType.Byte) throw new Error(`${what}: piece ${id} ("${piece}") has unknown type ${type}`);
      const key = byteKey(bytes);
      const previous = this.idByKey.get(key);
      if (previous !== undefined) throw new Error(`${what}: piece "${piece}" is defined twice (ids ${previous} and ${id})`);
      this.idByKey.set(key, id);
      this.scores[id] = score;
      this.types[id] = type;
      if (type === PieceType.UserDefined) userDefined.push(bytes);
      if (type === PieceType.Normal) {
        minScore = Math.min(minScore, score);
        maxScore = Math.max(maxScore, score);
      }
      if (type === PieceType.Unknown) {
        if (unkId >= 0) throw new Error(`${what}: two unknown pieces (ids ${unkId} and ${id})`);
        unkId = id;
      }
      if (type === PieceType.Byte) hasBytes = true;
    }
    // The default sort compares UTF-16 code units: byte order for these keys.
    this.sortedKeys = [...this.idByKey].filter(([, id]) => this.types[id] === PieceType.Normal || this.types[id] === PieceType.UserDefined).map(([key]) => key).sort();
    this.sortedIds = Int32Array.from(this.sortedKeys, (key) => this.idByKey.get(key)!);
    if (unkId < 0) throw new Error(`${what}: the model defines no unknown piece`);
    if (hasBytes && !model.trainer.byteFallback) throw new Error(`${what}: byte pieces present but byte_fallback is off`);
    if (model.trainer.byteFallback && !hasBytes) throw new Error(`${what}: byte_fallback is on but the model has no <0xNN> pieces`);
    this.unkId = unkId;
    this.byteFallback = model.trainer.byteFallback;
    this.minScore = minScore;
    this.maxScore = maxScore;
    if (userDefined.length > 0) {
      const keys = new Set(userDefined.map((b) => byteKey(b)));
      const longest = Math.max(...userDefined.map((b) => b.length));
      this.userDefinedMatcher = (bytes, pos) => {
        for (let length = Math.min(longest, bytes.length - pos); length > 0; length--) {
          if (keys.has(byteKey(bytes, pos, pos + length))) return length;
        }
        return 0;
      };
    }
  }

  get size(): number {
    return this.scores.length;
  }

  /** The id of a piece's text, or undefined. */
  pieceId(piece: string): number | undefined {
    return this.idByKey.get(byteKey(utf8.encode(piece)));
  }

  /** First index in sortedKeys[lo, hi) whose byte at `depth` is at least `byte` (all are longer than depth). */
  private lowerBound(lo: number, hi: number, depth: number, byte: number): number {
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.sortedKeys[mid].charCodeAt(depth) < byte) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Ids of the best segmentation of normalized UTF-8 bytes. */
  encode(normalized: Uint8Array): number[] {
    const size = normalized.length;
    // Best path ending at each byte position: its score (float32), the piece and where it starts.
    const bestScore = new Float32Array(size + 1);
    const bestId = new Int32Array(size + 1);
    const bestStart = new Int32Array(size + 1).fill(-1);
    const unkScore = Math.fround(this.minScore - UNKNOWN_PENALTY);
    const userScoreUnit = this.maxScore;
    for (let start = 0; start < size; ) {
      const scoreHere = bestScore[start];
      const charLength = Math.min(utf8CharLength(normalized[start]), size - start);
      let coveredByOnePiece = false;
      // Walk the sorted keys byte by byte: [lo, hi) holds the pieces that start with the bytes so far.
      let lo = 0;
      let hi = this.sortedKeys.length;
      for (let end = start + 1; end <= size; end++) {
        const depth = end - start - 1;
        if (lo < hi && this.sortedKeys[lo].length === depth) lo++; // the piece that ended one byte earlier
        const byte = normalized[end - 1];
        lo = this.lowerBound(lo, hi, depth, byte);
        hi = this.lowerBound(lo, hi, depth, byte + 1);
        if (lo >= hi) break;
        if (this.sortedKeys[lo].length !== depth + 1) continue;
        const id = this.sortedIds[lo];
        const length = end - start;
        // C++: a user-defined piece scores length·max − 0.1 in double; others their float score.
        const score = this.types[id] === PieceType.UserDefined ? Math.fround(length * userScoreUnit) - 0.1 : this.scores[id];
        const candidate = score + scoreHere;
        if (bestStart[end] === -1 || candidate > bestScore[end]) {
          bestScore[end] = candidate;
          bestStart[end] = start;
          bestId[end] = id;
        }
        if (length === charLength) coveredByOnePiece = true;
      }
      if (!coveredByOnePiece) {
        const end = start + charLength;
        const candidate = Math.fround(unkScore + scoreHere);
        if (bestStart[end] === -1 || candidate > bestScore[end]) {
          bestScore[end] = candidate;
          bestStart[end] = start;
          bestId[end] = this.unkId;
        }
      }
      start += charLength;
    }

    const path: { id: number; start: number; end: number }[] = [];
    for (let end = size; end > 0; end = bestStart[end]) path.push({ id: bestId[end], start: bestStart[end], end });
    path.reverse();

    const ids: number[] = [];
    let previousWasUnknown = false;
    for (const { id, start, end } of path) {
      const unknown = id === this.unkId;
      if (unknown && this.byteFallback) {
        for (let i = start; i < end; i++) {
          const hex = normalized[i].toString(16).toUpperCase().padStart(2, '0');
          ids.push(this.pieceId(`<0x${hex}>`) ?? this.unkId);
        }
      } else if (!(unknown && previousWasUnknown)) {
        // A run of unknown characters is one <unk> (SentencePieceProcessor merges them).
        ids.push(id);
      }
      previousWasUnknown = unknown;
    }
    return ids;
  }
}
