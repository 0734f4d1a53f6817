import { describe, expect, it } from 'vitest';
import { DAWN_SPIN_MS, DawnPollThrottle, nodeGpu } from '../../src/gpu/node.ts';

describe("Dawn's polling in Node", () => {
  it('polls a wait back to back for its first DAWN_SPIN_MS, then on timers, and starts over for a new wait', () => {
    const throttle = new DawnPollThrottle();
    expect(throttle.schedule(100, false)).toBe('immediate');
    expect(throttle.schedule(100 + DAWN_SPIN_MS / 2, true)).toBe('immediate');
    expect(throttle.schedule(100 + DAWN_SPIN_MS, true)).toBe('timer');
    expect(throttle.schedule(500, true)).toBe('timer'); // the same wait, however long
    expect(throttle.schedule(501, false)).toBe('immediate'); // asked from outside a poll: a new wait
  });

  it("leaves JavaScript callbacks of setImmediate as they were: run soon, in order, with their arguments", async () => {
    await nodeGpu();
    const seen: string[] = [];
    await new Promise<void>((done) => {
      setImmediate((a: string) => seen.push(a), 'first');
      setImmediate((a: string, b: string) => {
        seen.push(a + b);
        done();
      }, 'sec', 'ond');
    });
    expect(seen).toEqual(['first', 'second']);
  });
});
