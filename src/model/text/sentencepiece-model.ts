// A SentencePiece model file (`spiece.model`): the protobuf ModelProto of sentencepiece_model.proto,
// read by a small wire-format reader. Only the fields the encoder needs are kept (pieces, the
// trainer's special ids and byte fallback, the normalizer spec); a protobuf library with code
// generation would be a large dependency for twelve fields. Browser-safe.

/** ModelProto.SentencePiece.Type */
export const PieceType = { Normal: 1, Unknown: 2, Control: 3, UserDefined: 4, Unused: 5, Byte: 6 } as const;
export type PieceType = (typeof PieceType)[keyof typeof PieceType];

export interface SentencePiece {
  piece: string;
  /** The piece's UTF-8 bytes, as stored. */
  bytes: Uint8Array;
  /** A float32 in the file: read exactly, as the C++ encoder sees it. */
  score: number;
  type: PieceType;
}

export interface NormalizerSpec {
  name: string;
  /** Double-array trie of the normalization rules plus their replacement strings; empty = identity. */
  precompiledCharsmap: Uint8Array;
  addDummyPrefix: boolean;
  removeExtraWhitespaces: boolean;
  escapeWhitespaces: boolean;
}

export interface TrainerSpec {
  /** 1 unigram, 2 BPE, 3 word, 4 char. */
  modelType: number;
  byteFallback: boolean;
  treatWhitespaceAsSuffix: boolean;
  unkId: number;
  bosId: number;
  eosId: number;
  padId: number;
}

export interface SentencePieceModel {
  pieces: SentencePiece[];
  trainer: TrainerSpec;
  normalizer: NormalizerSpec;
}

const WIRE_VARINT = 0;
const WIRE_64BIT = 1;
const WIRE_BYTES = 2;
const WIRE_32BIT = 5;

/** Calls `field(number, wireType, reader)` for each field of one message; the callback must consume it. */
class WireReader {
  private pos = 0;
  private readonly view: DataView;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly what: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get done(): boolean {
    return this.pos >= this.bytes.length;
  }

  private fail(message: string): never {
    throw new Error(`${this.what}: not a SentencePiece model (${message} at byte ${this.pos})`);
  }

  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.bytes.length) this.fail('truncated varint');
      const b = this.bytes[this.pos++];
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
      scale *= 128;
    }
    this.fail('varint longer than 10 bytes');
  }

  /** An int32 field: negative values are written as 10-byte two's complement varints. */
  int32(): number {
    const v = this.varint();
    return v >= 2 ** 63 ? v - 2 ** 64 : v > 0x7fffffff ? v - 2 ** 32 : v;
  }

  float32(): number {
    if (this.pos + 4 > this.bytes.length) this.fail('truncated float');
    const v = this.view.getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }

  bytesField(): Uint8Array {
    const length = this.varint();
    if (this.pos + length > this.bytes.length) this.fail('field runs past the end');
    const out = this.bytes.subarray(this.pos, this.pos + length);
    this.pos += length;
    return out;
  }

  tag(): { field: number; wire: number } {
    const key = this.varint();
    return { field: Math.floor(key / 8), wire: key % 8 };
  }

  skip(wire: number): void {
    if (wire === WIRE_VARINT) this.varint();
    else if (wire === WIRE_64BIT) this.pos += 8;
    else if (wire === WIRE_BYTES) this.bytesField();
    else if (wire === WIRE_32BIT) this.pos += 4;
    else this.fail(`unsupported wire type ${wire}`);
    if (this.pos > this.bytes.length) this.fail('field runs past the end');
  }

  expect(wire: number, expected: number, field: number): void {
    if (wire !== expected) this.fail(`field ${field} has wire type ${wire}, expected ${expected}`);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function readPiece(bytes: Uint8Array, what: string): SentencePiece {
  const r = new WireReader(bytes, what);
  const piece: SentencePiece = { piece: '', bytes: new Uint8Array(0), score: 0, type: PieceType.Normal };
  while (!r.done) {
    const { field, wire } = r.tag();
    if (field === 1) {
      r.expect(wire, WIRE_BYTES, field);
      piece.bytes = r.bytesField();
      piece.piece = utf8.decode(piece.bytes);
    } else if (field === 2) {
      r.expect(wire, WIRE_32BIT, field);
      piece.score = r.float32();
    } else if (field === 3) {
      r.expect(wire, WIRE_VARINT, field);
      piece.type = r.varint() as PieceType;
    } else r.skip(wire);
  }
  return piece;
}

function readTrainer(bytes: Uint8Array, what: string): TrainerSpec {
  const r = new WireReader(bytes, what);
  // proto2 defaults of sentencepiece_model.proto
  const spec: TrainerSpec = { modelType: 1, byteFallback: false, treatWhitespaceAsSuffix: false, unkId: 0, bosId: 1, eosId: 2, padId: -1 };
  while (!r.done) {
    const { field, wire } = r.tag();
    const varint = () => (r.expect(wire, WIRE_VARINT, field), r.int32());
    if (field === 3) spec.modelType = varint();
    else if (field === 24) spec.treatWhitespaceAsSuffix = varint() !== 0;
    else if (field === 35) spec.byteFallback = varint() !== 0;
    else if (field === 40) spec.unkId = varint();
    else if (field === 41) spec.bosId = varint();
    else if (field === 42) spec.eosId = varint();
    else if (field === 43) spec.padId = varint();
    else r.skip(wire);
  }
  return spec;
}

function readNormalizer(bytes: Uint8Array, what: string): NormalizerSpec {
  const r = new WireReader(bytes, what);
  const spec: NormalizerSpec = { name: '', precompiledCharsmap: new Uint8Array(0), addDummyPrefix: true, removeExtraWhitespaces: true, escapeWhitespaces: true };
  while (!r.done) {
    const { field, wire } = r.tag();
    if (field === 1) {
      r.expect(wire, WIRE_BYTES, field);
      spec.name = utf8.decode(r.bytesField());
    } else if (field === 2) {
      r.expect(wire, WIRE_BYTES, field);
      spec.precompiledCharsmap = r.bytesField().slice();
    } else if (field >= 3 && field <= 5) {
      r.expect(wire, WIRE_VARINT, field);
      const on = r.varint() !== 0;
      if (field === 3) spec.addDummyPrefix = on;
      else if (field === 4) spec.removeExtraWhitespaces = on;
      else spec.escapeWhitespaces = on;
    } else r.skip(wire);
  }
  return spec;
}

/** Parses `spiece.model` bytes; `what` names the file in errors. */
export function parseSentencePieceModel(bytes: Uint8Array, what = 'spiece.model'): SentencePieceModel {
  const r = new WireReader(bytes, what);
  const pieces: SentencePiece[] = [];
  let trainer: TrainerSpec | undefined;
  let normalizer: NormalizerSpec | undefined;
  try {
    while (!r.done) {
      const { field, wire } = r.tag();
      if (field === 1) {
        r.expect(wire, WIRE_BYTES, field);
        pieces.push(readPiece(r.bytesField(), what));
      } else if (field === 2) {
        r.expect(wire, WIRE_BYTES, field);
        trainer = readTrainer(r.bytesField(), what);
      } else if (field === 3) {
        r.expect(wire, WIRE_BYTES, field);
        normalizer = readNormalizer(r.bytesField(), what);
      } else r.skip(wire);
    }
  } catch (e) {
    if (e instanceof TypeError) throw new Error(`${what}: not a SentencePiece model (a piece is not valid UTF-8)`, { cause: e });
    throw e;
  }
  if (pieces.length === 0) throw new Error(`${what}: not a SentencePiece model (no pieces)`);
  return {
    pieces,
    trainer: trainer ?? readTrainer(new Uint8Array(0), what),
    normalizer: normalizer ?? readNormalizer(new Uint8Array(0), what),
  };
}
