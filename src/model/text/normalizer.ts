// SentencePiece's normalizer (normalizer.cc), on UTF-8 bytes as the C++ code works: at each position
// a user-defined piece passes through whole, else the longest rule of the precompiled charsmap
// (a darts-clone double-array trie over the input bytes; each rule's value is the offset of a
// NUL-terminated replacement string) replaces its match, else one character is copied. Then the
// whitespace rules: leading, trailing and repeated spaces removed, one space added in front (the
// "dummy prefix"), spaces escaped as U+2581. Browser-safe.

import type { NormalizerSpec } from './sentencepiece-model.ts';

/** U+2581 LOWER ONE EIGHTH BLOCK, SentencePiece's visible space. */
export const SPACE_SYMBOL = '\u2581';
const SPACE_SYMBOL_BYTES = [0xe2, 0x96, 0x81];
const REPLACEMENT_CHARACTER = [0xef, 0xbf, 0xbd];
const SPACE = 0x20;

/** Byte length of the UTF-8 character starting with `lead` (1 for a stray continuation byte). */
export function utf8CharLength(lead: number): number {
  return lead < 0xc0 ? 1 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : 4;
}

/** Length of the valid UTF-8 character at `pos`, or 0 where the bytes there are not one. */
function validUtf8Length(bytes: Uint8Array, pos: number): number {
  const lead = bytes[pos];
  if (lead < 0x80) return 1;
  const length = lead >= 0xc2 && lead < 0xe0 ? 2 : lead >= 0xe0 && lead < 0xf0 ? 3 : lead >= 0xf0 && lead < 0xf5 ? 4 : 0;
  if (length === 0 || pos + length > bytes.length) return 0;
  let cp = lead & (0x7f >> length);
  for (let i = 1; i < length; i++) {
    const b = bytes[pos + i];
    if ((b & 0xc0) !== 0x80) return 0;
    cp = (cp << 6) | (b & 0x3f);
  }
  const overlong = (length === 3 && cp < 0x800) || (length === 4 && cp < 0x10000);
  return overlong || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff ? 0 : length;
}

/** darts-clone's DoubleArray, read-only: commonPrefixSearch as the C++ library computes it. */
class DoubleArray {
  constructor(private readonly units: Uint32Array) {}

  private static hasLeaf(unit: number): boolean {
    return ((unit >>> 8) & 1) === 1;
  }
  private static value(unit: number): number {
    return unit & 0x7fffffff;
  }
  private static label(unit: number): number {
    return (unit & 0x800000ff) >>> 0;
  }
  private static offset(unit: number): number {
    return ((unit >>> 10) << ((unit & 0x200) >>> 6)) >>> 0;
  }

  /** The longest key that prefixes bytes[start..end): its length and value, or length 0. */
  longestPrefix(bytes: Uint8Array, start: number, end: number): { length: number; value: number } {
    const units = this.units;
    let best = { length: 0, value: 0 };
    let nodePos = DoubleArray.offset(units[0]);
    for (let i = start; i < end; i++) {
      const key = bytes[i];
      nodePos ^= key;
      if (nodePos >= units.length) break;
      const unit = units[nodePos];
      if (DoubleArray.label(unit) !== key) break;
      nodePos ^= DoubleArray.offset(unit);
      if (nodePos >= units.length) break;
      if (DoubleArray.hasLeaf(unit)) best = { length: i + 1 - start, value: DoubleArray.value(units[nodePos]) };
    }
    return best;
  }
}

/** A user-defined piece matcher: the longest user-defined piece starting at a position, or 0. */
export type PrefixMatcher = (bytes: Uint8Array, pos: number) => number;

export class Normalizer {
  private readonly trie?: DoubleArray;
  private readonly replacements: Uint8Array = new Uint8Array(0);

  constructor(
    private readonly spec: NormalizerSpec,
    private readonly treatWhitespaceAsSuffix: boolean,
    private readonly userDefined: PrefixMatcher | undefined,
    what: string,
  ) {
    const blob = spec.precompiledCharsmap;
    if (blob.length === 0) return;
    // <trie size: u32 little-endian><double-array units><NUL-terminated replacement strings>
    const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
    const trieSize = blob.length >= 4 ? view.getUint32(0, true) : Infinity;
    if (trieSize + 4 > blob.length || trieSize % 4 !== 0 || trieSize === 0) {
      throw new Error(`${what}: the normalizer's precompiled charsmap is malformed (trie of ${trieSize} bytes in a ${blob.length}-byte blob)`);
    }
    const units = new Uint32Array(trieSize / 4);
    for (let i = 0; i < units.length; i++) units[i] = view.getUint32(4 + 4 * i, true);
    this.trie = new DoubleArray(units);
    this.replacements = blob.subarray(4 + trieSize);
  }

  /** One normalization step at `pos`: the bytes it produces and how many input bytes it consumes. */
  private normalizePrefix(input: Uint8Array, pos: number): { out: ArrayLike<number>; consumed: number } {
    const userLength = this.userDefined?.(input, pos) ?? 0;
    if (userLength > 0) return { out: input.subarray(pos, pos + userLength), consumed: userLength };
    const rule = this.trie?.longestPrefix(input, pos, input.length);
    if (rule && rule.length > 0) {
      let end = rule.value;
      while (end < this.replacements.length && this.replacements[end] !== 0) end++;
      return { out: this.replacements.subarray(rule.value, end), consumed: rule.length };
    }
    const length = validUtf8Length(input, pos);
    // A malformed byte becomes U+FFFD, consuming one byte (as the C++ code does).
    if (length === 0) return { out: REPLACEMENT_CHARACTER, consumed: 1 };
    return { out: input.subarray(pos, pos + length), consumed: length };
  }

  /** The normalized UTF-8 bytes of `input`. */
  normalize(input: Uint8Array): Uint8Array {
    const { addDummyPrefix, removeExtraWhitespaces, escapeWhitespaces } = this.spec;
    const out: number[] = [];
    let pos = 0;
    if (removeExtraWhitespaces) {
      while (pos < input.length) {
        const step = this.normalizePrefix(input, pos);
        if (!(step.out.length === 1 && step.out[0] === SPACE)) break;
        pos += step.consumed;
      }
    }
    if (pos >= input.length) return new Uint8Array(0);

    const addSpace = () => {
      if (escapeWhitespaces) out.push(...SPACE_SYMBOL_BYTES);
      else out.push(SPACE);
    };
    if (!this.treatWhitespaceAsSuffix && addDummyPrefix) addSpace();

    let previousWasSpace = removeExtraWhitespaces;
    while (pos < input.length) {
      const step = this.normalizePrefix(input, pos);
      let start = 0;
      if (previousWasSpace) while (start < step.out.length && step.out[start] === SPACE) start++;
      if (start < step.out.length) {
        for (let i = start; i < step.out.length; i++) {
          if (escapeWhitespaces && step.out[i] === SPACE) out.push(...SPACE_SYMBOL_BYTES);
          else out.push(step.out[i]);
        }
        previousWasSpace = step.out[step.out.length - 1] === SPACE;
      }
      pos += step.consumed;
      if (!removeExtraWhitespaces) previousWasSpace = false;
    }

    if (removeExtraWhitespaces) {
      const space = escapeWhitespaces ? SPACE_SYMBOL_BYTES : [SPACE];
      const endsWithSpace = () => out.length >= space.length && space.every((b, i) => out[out.length - space.length + i] === b);
      while (endsWithSpace()) out.length -= space.length;
    }
    if (this.treatWhitespaceAsSuffix && addDummyPrefix) addSpace();
    return Uint8Array.from(out);
  }
}
