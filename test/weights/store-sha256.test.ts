import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Sha256, sha256Hex } from '../../src/weights/store-sha256.ts';

const reference = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

describe('SHA-256 (hash-wasm, incremental and resumable)', () => {
  it('matches the FIPS 180-4 examples', async () => {
    expect(await sha256Hex('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(await sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(await sha256Hex('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')).toBe(
      '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
    );
  });

  it.each([0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000, 1_000_003])('matches node:crypto on %i random bytes', async (length) => {
    const data = new Uint8Array(randomBytes(length));
    expect(await sha256Hex(data)).toBe(reference(data));
  });

  it('gives the same digest however the data is split, and digestHex() leaves the hasher usable', async () => {
    const data = new Uint8Array(randomBytes(10_007));
    const cuts = [0, 1, 3, 64, 64, 100, 163, 1000, 4096, 4097, 9999, 10_007];
    const hasher = await Sha256.create();
    for (let i = 1; i < cuts.length; i++) {
      hasher.update(data.subarray(cuts[i - 1], cuts[i]));
      expect(hasher.digestHex()).toBe(reference(data.subarray(0, cuts[i])));
      expect(hasher.byteLength).toBe(cuts[i]);
    }
  });

  it('resumes from a saved state, through JSON, with or without a partial block', async () => {
    const data = new Uint8Array(randomBytes(5000));
    for (const cut of [0, 64, 100, 4096, 4999]) {
      const first = (await Sha256.create()).update(data.subarray(0, cut));
      const saved = JSON.parse(JSON.stringify(first.state()));
      const resumed = (await Sha256.create(saved)).update(data.subarray(cut));
      expect(resumed.byteLength).toBe(data.length);
      expect(resumed.digestHex()).toBe(reference(data));
    }
  });

  it('keeps two hashers apart', async () => {
    const a = new Uint8Array(randomBytes(300));
    const b = new Uint8Array(randomBytes(301));
    const ha = await Sha256.create();
    const hb = await Sha256.create();
    ha.update(a.subarray(0, 100));
    hb.update(b.subarray(0, 200));
    ha.update(a.subarray(100));
    hb.update(b.subarray(200));
    expect(ha.digestHex()).toBe(reference(a));
    expect(hb.digestHex()).toBe(reference(b));
  });

  it('refuses a malformed state, and the state of the old hand-written hasher', async () => {
    const good = (await Sha256.create()).update(new Uint8Array(70)).state();
    await expect(Sha256.create({ ...good, saved: 'AAAA' })).rejects.toThrow(/invalid SHA-256 state/);
    await expect(Sha256.create({ length: -1, saved: good.saved })).rejects.toThrow(/invalid SHA-256 state/);
    const legacy = { h: [1, 2, 3, 4, 5, 6, 7, 8], length: 64, tail: '' } as unknown as Parameters<typeof Sha256.create>[0];
    await expect(Sha256.create(legacy)).rejects.toThrow(/invalid SHA-256 state/);
  });
});
