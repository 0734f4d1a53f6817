import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Sha256, sha256Hex } from '../../src/weights/store-sha256.ts';

const reference = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

describe('SHA-256', () => {
  it('matches the FIPS 180-4 examples', () => {
    expect(sha256Hex('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(sha256Hex('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')).toBe(
      '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
    );
  });

  it.each([0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000, 1_000_003])('matches node:crypto on %i random bytes', (length) => {
    const data = new Uint8Array(randomBytes(length));
    expect(sha256Hex(data)).toBe(reference(data));
  });

  it('gives the same digest however the data is split, and digest() leaves the hasher usable', () => {
    const data = new Uint8Array(randomBytes(10_007));
    const cuts = [0, 1, 3, 64, 64, 100, 163, 1000, 4096, 4097, 9999, 10_007];
    const hasher = new Sha256();
    for (let i = 1; i < cuts.length; i++) {
      hasher.update(data.subarray(cuts[i - 1], cuts[i]));
      expect(hasher.digestHex()).toBe(reference(data.subarray(0, cuts[i])));
      expect(hasher.byteLength).toBe(cuts[i]);
    }
  });

  it('resumes from a saved state, through JSON, with or without a partial block', () => {
    const data = new Uint8Array(randomBytes(5000));
    for (const cut of [0, 64, 100, 4096, 4999]) {
      const first = new Sha256().update(data.subarray(0, cut));
      const saved = JSON.parse(JSON.stringify(first.state()));
      const resumed = new Sha256(saved).update(data.subarray(cut));
      expect(resumed.digestHex()).toBe(reference(data));
    }
  });

  it('refuses a malformed state', () => {
    const good = new Sha256().update(new Uint8Array(70)).state();
    expect(() => new Sha256({ ...good, h: good.h.slice(1) })).toThrow(/invalid SHA-256 state/);
    expect(() => new Sha256({ ...good, length: 71 })).toThrow(/invalid SHA-256 state/);
    expect(() => new Sha256({ ...good, tail: 'zz' })).toThrow(/hex/);
  });
});
