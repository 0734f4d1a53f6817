// SHA-256, incremental and resumable, through hash-wasm (a maintained WebAssembly build with a public
// save/load of the hash state; no hand-written crypto here). WebCrypto's digest() takes the whole message
// at once, which a multi-GB download cannot give it, so the model cache hashes each chunk as it arrives.
// The state between updates is plain JSON (`Sha256State`), so an interrupted download can be resumed and
// its final hash still be the SHA-256 of the whole file: the same value a Hugging Face LFS pointer
// (`oid sha256:…`) or `sha256sum` gives. Browser-safe: no Node imports here.

import { createSHA256, type IHasher } from 'hash-wasm';

/** The state after some bytes: resuming from it continues the same digest. JSON-serialisable. */
export interface Sha256State {
  /** Bytes hashed so far. */
  length: number;
  /** hash-wasm's saved state, base64. A state from another hash-wasm build is refused on load. */
  saved: string;
}

function toBase64(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

function fromBase64(text: string): Uint8Array {
  const s = atob(text);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

export class Sha256 {
  private constructor(private readonly hasher: IHasher, private length: number) {}

  /** A new hasher, or one resumed from `state` (throws 'invalid SHA-256 state' if it cannot be). */
  static async create(state?: Sha256State): Promise<Sha256> {
    const hasher = await createSHA256();
    if (!state) return new Sha256(hasher.init(), 0);
    const valid = typeof state === 'object' && state !== null && Number.isSafeInteger(state.length) && state.length >= 0 &&
      typeof state.saved === 'string';
    if (!valid) throw new Error('invalid SHA-256 state');
    try {
      hasher.load(fromBase64(state.saved));
    } catch (e) {
      throw new Error(`invalid SHA-256 state: ${(e as Error).message}`);
    }
    return new Sha256(hasher, state.length);
  }

  /** Bytes hashed so far. */
  get byteLength(): number {
    return this.length;
  }

  update(data: Uint8Array): this {
    this.hasher.update(data);
    this.length += data.byteLength;
    return this;
  }

  /** A snapshot to resume from (see `create`). */
  state(): Sha256State {
    return { length: this.length, saved: toBase64(this.hasher.save()) };
  }

  /** The digest of everything so far, lowercase hex; the hasher is unchanged and can take more data. */
  digestHex(): string {
    const saved = this.hasher.save();
    const hex = this.hasher.digest('hex');
    this.hasher.load(saved);
    return hex;
  }
}

/** SHA-256 of bytes or of a string's UTF-8 encoding, as lowercase hex. */
export async function sha256Hex(data: Uint8Array | string): Promise<string> {
  return (await Sha256.create()).update(typeof data === 'string' ? new TextEncoder().encode(data) : data).digestHex();
}
