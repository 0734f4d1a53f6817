// The whole pipeline on a random tiny pixel-space model: determinism, progress, abort, validation,
// and the caches' guarantees (δ = 0 is exact, every cache buffer released).
import { beforeAll, describe, expect, it } from 'vitest';
import { testContext } from '../helpers/gpu.ts';
import { writeTinyModel } from '../helpers/tiny-model.ts';
import { directoryFolder } from '../../src/weights/node-folder.ts';
import { loadBundle, type ModelBundle } from '../../src/pipeline/bundle.ts';
import { AbortError, generate, type GenerateOptions } from '../../src/pipeline/generate.ts';
import { parseCacheSpec } from '../../src/cache/spec.ts';
import type { BranchStats } from '../../src/cache/manager.ts';
import type { GpuContext } from '../../src/gpu/context.ts';

let ctx: GpuContext;
let bundle: ModelBundle;

beforeAll(async () => {
  ctx = await testContext();
  bundle = await loadBundle(ctx, directoryFolder(writeTinyModel()));
  // Warm-up: RoPE tables, the decoder's constants and kernel placeholders persist across runs.
  await generate(ctx, options({ steps: 1 }));
});

function options(overrides: Partial<GenerateOptions> = {}): GenerateOptions {
  return {
    model: bundle.model,
    decoder: bundle.decoder,
    prompt: bundle.textEncoder!.encode('a red circle moving left'),
    textLen: bundle.textLen,
    frames: 4,
    height: 8,
    width: 8,
    steps: 8,
    guidance: 4,
    seed: 11,
    scheduler: bundle.scheduler,
    ...overrides,
  };
}

describe('generate()', () => {
  it('gives identical frames for the same seed, different for another; progress once per step', async () => {
    const steps: number[] = [];
    const a = await generate(ctx, options({ onProgress: (p) => steps.push(p.step) }));
    const b = await generate(ctx, options());
    const c = await generate(ctx, options({ seed: 12 }));
    expect(a.shape).toEqual([4, 3, 8, 8]);
    expect(Array.from(a.frames)).toEqual(Array.from(b.frames));
    expect(Array.from(a.frames)).not.toEqual(Array.from(c.frames));
    expect(steps).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(a.frames.every((v) => v >= 0 && v <= 1)).toBe(true);
  });

  it('abort mid-run rejects within a step and leaves no GPU buffer of the run allocated', async () => {
    const before = ctx.liveTensors;
    const controller = new AbortController();
    let seen = 0;
    const run = generate(
      ctx,
      options({
        cache: parseCacheSpec('bwcache'),
        signal: controller.signal,
        onProgress: (p) => {
          seen = p.step;
          if (p.step === 3) controller.abort();
        },
      }),
    );
    await expect(run).rejects.toBeInstanceOf(AbortError);
    expect(seen).toBe(3);
    expect(ctx.liveTensors).toBe(before);
  });

  it('validates sizes as the diffusers pipeline does', async () => {
    await expect(generate(ctx, options({ height: 7 }))).rejects.toThrow(/multiples of 2/);
    await expect(generate(ctx, options({ steps: 0 }))).rejects.toThrow(/steps must be a positive integer/);
    await expect(generate(ctx, options({ latents: new Float32Array(5) }))).rejects.toThrow(/supplied latents have 5 values/);
  });

  it('supplied latents replace the seeded noise', async () => {
    const noise = new Float32Array(3 * 4 * 8 * 8).fill(0.25);
    const a = await generate(ctx, options({ latents: noise, seed: 1 }));
    const b = await generate(ctx, options({ latents: noise, seed: 2 }));
    expect(Array.from(a.frames)).toEqual(Array.from(b.frames));
  });
});

describe('caches in the pipeline', () => {
  /** A branch's steps: C computed, R reused, P partly reused (per-block reuse). */
  const pattern = (b: BranchStats | undefined) => b!.computed.map((row) => (row.every(Boolean) ? 'C' : row.some(Boolean) ? 'P' : 'R')).join('');

  for (const spec of ['bwcache:threshold=0', 'bwcache:threshold=0,reuse=block', 'bwcache:threshold=0,branches=joint', 'first-block:threshold=0', 'teacache:threshold=0']) {
    it(`${spec} gives frames identical to none, computes every block, and releases its buffers`, async () => {
      const none = await generate(ctx, options());
      const before = ctx.liveTensors;
      const cached = await generate(ctx, options({ cache: parseCacheSpec(spec) }));
      expect(ctx.liveTensors).toBe(before);
      expect(Array.from(cached.frames)).toEqual(Array.from(none.frames));
      expect(cached.stats.computedFraction).toBe(1);
      expect(cached.stats.peakCacheBytes).toBeGreaterThan(0);
    });
  }

  it('bwcache with a high threshold reuses, keeps separate state per CFG branch, and reports its indicator', async () => {
    const before = ctx.liveTensors;
    const result = await generate(ctx, options({ steps: 12, cache: parseCacheSpec('bwcache:threshold=10,maxReuse=2,tailSteps=2,branches=separate') }));
    expect(ctx.liveTensors).toBe(before);
    const { cond, uncond } = result.stats.branches;
    expect(cond && uncond).toBeTruthy();
    // Step 0 computes (nothing to compare), step 1 triggers (any change < 10), then R = 2 reused + 1 computed.
    expect(pattern(cond)).toBe('CC' + 'RRC'.repeat(2) + 'RR' + 'CC');
    expect(pattern(uncond)).toBe(pattern(cond));
    expect(cond!.indicator[1]).not.toBeNull();
    expect(cond!.indicator[1]).not.toBe(uncond!.indicator[1]); // measured on each branch's own features
    expect(result.stats.computedFraction).toBeCloseTo(6 / 12, 10);
    // SwiftShader has timestamp queries: the indicator kernels were timed, and took less than the run.
    expect(result.stats.indicatorMs).toBeGreaterThan(0);
    expect(result.stats.indicatorMs!).toBeLessThan(result.seconds * 1000);
    // Per-block relative L1 at step 1 on the cond branch: by default every other block feeds the indicator.
    const [b0, b1, b2] = cond!.blockIndicator[1];
    expect(b0).toBeGreaterThan(0);
    expect(b1).toBeNull();
    expect(b2).toBeGreaterThan(0);
    expect(cond!.indicator[1]).toBeCloseTo((b0! + b2!) / 2, 5);
  });

  it('bwcache with joint branches: one compute/reuse pattern for both, indicators still per branch', async () => {
    const periodic = await generate(ctx, options({ steps: 12, cache: parseCacheSpec('bwcache:threshold=10,maxReuse=2,tailSteps=2,branches=joint') }));
    const { cond, uncond } = periodic.stats.branches;
    expect(pattern(cond)).toBe('CC' + 'RRC'.repeat(2) + 'RR' + 'CC');
    expect(pattern(uncond)).toBe(pattern(cond));
    expect(cond!.indicator[1]).not.toBe(uncond!.indicator[1]);
    // Indicators are measured at the computed steps 1, 4, 7, 10, 11 and all reported.
    expect(cond!.indicator.map((v) => v !== null)).toEqual([1, 4, 7, 10, 11].reduce((m, s) => ((m[s] = true), m), new Array(12).fill(false)));
    const dynamic = await generate(ctx, options({ steps: 12, cache: parseCacheSpec('bwcache:threshold=10,maxReuse=2,tailSteps=2,branches=joint,mode=dynamic') }));
    expect(pattern(dynamic.stats.branches.cond)).toBe(pattern(cond));
    expect(dynamic.stats.branches.cond!.indicator).toEqual(cond!.indicator);
  });

  it('no policy reads back while sampling: decisions stay on the GPU', async () => {
    const specs = ['none', 'bwcache:threshold=10,maxReuse=2', 'bwcache:threshold=10,mode=dynamic', 'bwcache:threshold=10,reuse=block', 'first-block:threshold=100', 'teacache:threshold=10', 'static'];
    for (const spec of specs) {
      const result = await generate(ctx, options({ steps: 6, cache: parseCacheSpec(spec) }));
      expect(result.hostReadbacks, spec).toBe(0);
      if (spec !== 'none') expect(result.stats.computedFraction, spec).toBeLessThan(1); // they did reuse
    }
  });

  it('static and first-block reuse where their schedule says', async () => {
    const st = await generate(ctx, options({ steps: 8, cache: parseCacheSpec('static:interval=2,warmupSteps=1,tailSteps=1') }));
    expect(st.stats.branches.cond!.computed.map((r) => (r[0] ? 'C' : 'R')).join('')).toBe('CCRCRCRC');
    const fb = await generate(ctx, options({ steps: 8, cache: parseCacheSpec('first-block:threshold=100') }));
    // Block 0 always runs; from step 1 the rest is reused (the change is always under 100).
    const cond = fb.stats.branches.cond!.computed;
    expect(cond.every((r) => r[0])).toBe(true);
    expect(cond.slice(1).every((r) => r.slice(1).every((c) => !c))).toBe(true);
  });
});

describe('generate command', () => {
  it('writes a WebM, an MP4 and refuses other extensions', async () => {
    const { main } = await import('../../src/cli/main.ts');
    const { readFileSync, mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = writeTinyModel(2);
    const out = mkdtempSync(join(tmpdir(), 'webdit-out-'));
    expect(await main(['generate', '--model', dir, '--prompt', 'a red circle moving left', '--steps', '3', '--quiet', '--out', join(out, 'clip.webm')])).toBe(0);
    expect([...readFileSync(join(out, 'clip.webm')).subarray(0, 4)]).toEqual([0x1a, 0x45, 0xdf, 0xa3]);
    // H.264 in MP4 through @napi-rs/webcodecs where it is installed (.ci/run installs it); else a usage error.
    const { useNodeWebCodecs } = await import('../../src/frames/node-video.ts');
    if ((await useNodeWebCodecs()).unavailable === undefined) {
      expect(await main(['generate', '--model', dir, '--prompt', 'a red circle', '--steps', '3', '--quiet', '--out', join(out, 'clip.mp4')])).toBe(0);
      expect(new TextDecoder().decode(readFileSync(join(out, 'clip.mp4')).subarray(4, 8))).toBe('ftyp');
    }
    expect(await main(['generate', '--model', dir, '--prompt', 'a red circle', '--steps', '3', '--quiet', '--out', join(out, 'clip.mov')])).toBe(2);
  });
});
