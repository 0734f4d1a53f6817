// SHA-256 (FIPS 180-4), incremental. WebCrypto's digest() takes the whole message at once, which a
// multi-GB download cannot give it, so the model cache hashes each chunk as it arrives. The state
// between updates is plain JSON (`Sha256State`), so an interrupted download can be resumed and its
// final hash still be the SHA-256 of the whole file: the same value a Hugging Face LFS pointer
// (`oid sha256:…`) or `sha256sum` gives. Browser-safe: no Node imports here.

// Int32 (not Uint32): values above 2^31 would leave V8's small-integer path and slow the rounds down.
const K = Int32Array.of(
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
);

const INITIAL = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

/** The state after some bytes: resuming from it continues the same digest. JSON-serialisable. */
export interface Sha256State {
  /** The eight working words H0..H7 after the last whole 64-byte block. */
  h: number[];
  /** Bytes hashed so far (whole blocks plus `tail`). */
  length: number;
  /** The bytes after the last whole block (fewer than 64), as hex. */
  tail: string;
}

function toHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-f]*$/i.test(hex)) throw new Error(`not a hex string: "${hex.slice(0, 20)}"`);
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export class Sha256 {
  private readonly h = new Int32Array(8);
  private readonly block = new Uint8Array(64);
  /** Bytes waiting in `block` for a whole block. */
  private filled = 0;
  private length = 0;

  constructor(state?: Sha256State) {
    if (!state) {
      this.h.set(INITIAL);
      return;
    }
    const tail = fromHex(state.tail);
    const valid =
      Array.isArray(state.h) && state.h.length === 8 && state.h.every((x) => Number.isInteger(x)) &&
      Number.isSafeInteger(state.length) && state.length >= 0 && tail.length < 64 && state.length % 64 === tail.length;
    if (!valid) throw new Error('invalid SHA-256 state');
    this.h.set(state.h);
    this.block.set(tail);
    this.filled = tail.length;
    this.length = state.length;
  }

  /** Bytes hashed so far. */
  get byteLength(): number {
    return this.length;
  }

  update(data: Uint8Array): this {
    let at = 0;
    const n = data.byteLength;
    this.length += n;
    if (this.filled > 0) {
      const take = Math.min(64 - this.filled, n);
      this.block.set(data.subarray(0, take), this.filled);
      this.filled += take;
      at = take;
      if (this.filled < 64) return this;
      compressBlocks(this.h, this.block, 0, 64);
      this.filled = 0;
    }
    const whole = at + Math.floor((n - at) / 64) * 64;
    compressBlocks(this.h, data, at, whole);
    at = whole;
    if (at < n) {
      this.block.set(data.subarray(at), 0);
      this.filled = n - at;
    }
    return this;
  }

  /** A snapshot to resume from (see the constructor). */
  state(): Sha256State {
    return { h: Array.from(this.h, (x) => x >>> 0), length: this.length, tail: toHex(this.block.subarray(0, this.filled)) };
  }

  /** The digest of everything so far; the hasher is unchanged and can take more data. */
  digest(): Uint8Array {
    const copy = new Sha256(this.state());
    // Padding: 0x80, zeros to 56 mod 64, then the length in bits as a 64-bit big-endian integer.
    const padLength = ((this.filled < 56 ? 56 : 120) - this.filled);
    const pad = new Uint8Array(padLength + 8);
    pad[0] = 0x80;
    const view = new DataView(pad.buffer);
    // length * 8 can pass 2^53: split it into the high and low 32 bits of the bit count.
    view.setUint32(padLength, Math.floor(this.length / 0x20000000));
    view.setUint32(padLength + 4, (this.length % 0x20000000) * 8);
    copy.update(pad);
    const out = new Uint8Array(32);
    const outView = new DataView(out.buffer);
    for (let i = 0; i < 8; i++) outView.setInt32(4 * i, copy.h[i]);
    return out;
  }

  digestHex(): string {
    return toHex(this.digest());
  }

}

/** The message schedule, shared: hashing never yields inside compressBlocks. */
const W = new Int32Array(64);

/**
 * Runs the rounds over the whole 64-byte blocks of data[at, end), updating `h`. Written for V8:
 * every sum wrapped to int32 as it goes so it stays on integer paths, the schedule word computed in
 * the round that uses it. Measured 60–95 MiB/s on a shared, loaded 2-core server (node:crypto: ~600–800).
 */
function compressBlocks(h: Int32Array, data: Uint8Array, at: number, end: number): void {
  const w = W;
  let h0 = h[0], h1 = h[1], h2 = h[2], h3 = h[3], h4 = h[4], h5 = h[5], h6 = h[6], h7 = h[7];
  for (; at < end; at += 64) {
    let a = h0, b = h1, c = h2, d = h3, e = h4, f = h5, g = h6, k = h7;
    for (let i = 0; i < 64; i++) {
      let wi: number;
      if (i < 16) {
        const j = at + 4 * i;
        wi = (data[j] << 24) | (data[j + 1] << 16) | (data[j + 2] << 8) | data[j + 3];
      } else {
        const x = w[i - 15];
        const y = w[i - 2];
        const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
        const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
        wi = (((w[i - 16] + s0) | 0) + ((w[i - 7] + s1) | 0)) | 0;
      }
      w[i] = wi;
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const ch = g ^ (e & (f ^ g));
      const t1 = (((k + S1) | 0) + ((ch + K[i]) | 0) + wi) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const maj = (a & b) | (c & (a | b));
      k = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + ((S0 + maj) | 0)) | 0;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
    h5 = (h5 + f) | 0;
    h6 = (h6 + g) | 0;
    h7 = (h7 + k) | 0;
  }
  h[0] = h0;
  h[1] = h1;
  h[2] = h2;
  h[3] = h3;
  h[4] = h4;
  h[5] = h5;
  h[6] = h6;
  h[7] = h7;
}

/** SHA-256 of bytes or of a string's UTF-8 encoding, as lowercase hex. */
export function sha256Hex(data: Uint8Array | string): string {
  return new Sha256().update(typeof data === 'string' ? new TextEncoder().encode(data) : data).digestHex();
}
