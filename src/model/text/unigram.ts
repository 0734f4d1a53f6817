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
  for (let i = start; i < end; i++) s += String.fromCharCode(bytes[i]);
  return s;
}

export class UnigramModel {
  /** Pieces the segmentation may choose (normal, user-defined, unused), by byte key. */
  private readonly matchable = new Map<string, number>();
  /** Every piece by text (PieceToId), for byte pieces and special tokens. */
  private readonly idByPiece = new Map<string, number>();
  private readonly scores: Float32Array;
  private readonly types: Uint8Array;
  private readonly maxPieceBytes: number;
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
    let maxPieceBytes = 0;
    const userDefined: Uint8Array[] = [];
    model.pieces.forEach(({ piece, score, type }, id) => {
      if (piece === '') throw new Error(`${what}: piece ${id} is empty`);
      if (type < PieceType.Normal || type > PieceType.Byte) throw new Error(`${what}: piece ${id} ("${piece}") has unknown type ${type}`);
      if (this.idByPiece.has(piece)) throw new Error(`${what}: piece "${piece}" is defined twice (ids ${this.idByPiece.get(piece)} and ${id})`);
      this.idByPiece.set(piece, id);
      this.scores[id] = score;
      this.types[id] = type;
      if (type === PieceType.Normal || type === PieceType.UserDefined || type === PieceType.Unused) {
        const bytes = utf8.encode(piece);
        this.matchable.set(byteKey(bytes), id);
        maxPieceBytes = Math.max(maxPieceBytes, bytes.length);
        if (type === PieceType.UserDefined) userDefined.push(bytes);
      }
      if (type === PieceType.Normal) {
        minScore = Math.min(minScore, score);
        maxScore = Math.max(maxScore, score);
      }
      if (type === PieceType.Unknown) {
        if (unkId >= 0) throw new Error(`${what}: two unknown pieces (ids ${unkId} and ${id})`);
        unkId = id;
      }
      if (type === PieceType.Byte) hasBytes = true;
    });
    if (unkId < 0) throw new Error(`${what}: the model defines no unknown piece`);
    if (hasBytes && !model.trainer.byteFallback) throw new Error(`${what}: byte pieces present but byte_fallback is off`);
    if (model.trainer.byteFallback && !hasBytes) throw new Error(`${what}: byte_fallback is on but the model has no <0xNN> pieces`);
    this.unkId = unkId;
    this.byteFallback = model.trainer.byteFallback;
    this.minScore = minScore;
    this.maxScore = maxScore;
    this.maxPieceBytes = maxPieceBytes;
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
    return this.idByPiece.get(piece);
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
      const last = Math.min(size, start + this.maxPieceBytes);
      let key = '';
      for (let end = start + 1; end <= last; end++) {
        key += String.fromCharCode(normalized[end - 1]);
        const id = this.matchable.get(key);
        if (id === undefined || this.types[id] === PieceType.Unused) continue;
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
          ids.push(this.idByPiece.get(`<0x${hex}>`) ?? this.unkId);
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
