// The demo's sizes and their plan (pure: no DOM, no GPU): the choices offered, the cache column, and the
// refusal of a size that does not fit, naming the largest that does, for the released Wan2.1-T2V-1.3B.
import { describe, expect, it } from 'vitest';
import { WAN21_FOLDER_CONFIGS, planGeneration } from '../../src/pipeline/memory-plan.ts';
import { POLICY_DEFAULTS } from '../../src/cache/policies.ts';
import { cachePlanOf, checkPlan, formatStages, sizeChoices, USABLE_FRACTION } from '../../src/ui/size-plan.ts';

const WAN13 = WAN21_FOLDER_CONFIGS['1.3b'];
const GiB = 2 ** 30;
const roomy = { maxBufferSize: 4 * GiB, maxStorageBufferBindingSize: 2 * GiB };

describe('sizeChoices', () => {
  it("offers the model's own size first, then the presets; a preset that is the model's own is marked, not repeated", () => {
    const tiny = sizeChoices({ frames: 5, height: 32, width: 48 }, true);
    expect(tiny.map((c) => c.key)).toEqual(['model', '480p', '480p-short', 'preview', 'small', 'thumbnail']);
    expect(tiny[0].label).toBe("the model's own (48×32, 5 frames)");
    const wan = sizeChoices({ frames: 81, height: 480, width: 832 }, true);
    expect(wan.map((c) => c.key)).toEqual(['480p', '480p-short', 'preview', 'small', 'thumbnail']);
    expect(wan[0].label).toBe("480p (832×480, 81 frames), the model's own");
    expect(sizeChoices({ frames: 8, height: 32, width: 32 }, false).map((c) => c.key)).toEqual(['model']);
  });
});

describe('cachePlanOf', () => {
  it('plans per-block features only for per-block reuse', () => {
    expect(cachePlanOf({ policy: 'none' })).toBe('none');
    expect(cachePlanOf(POLICY_DEFAULTS.bwcache)).toBe('stack');
    expect(cachePlanOf({ ...POLICY_DEFAULTS.bwcache, reuse: 'block' })).toBe('blocks');
  });
});

describe('checkPlan', () => {
  const choices = sizeChoices({ frames: 81, height: 480, width: 832 }, true);

  it('refuses 480p on an 8 GiB GPU, naming the preview (as the README table says), and lets 16 GiB run it', () => {
    const p480 = choices[0].size;
    const eight = checkPlan(WAN13, p480, { memoryBytes: 8 * GiB, ...roomy }, {}, choices);
    expect(eight.usableBytes).toBe(8 * GiB * USABLE_FRACTION);
    expect(eight.refusal).toMatch(/^832×480, 81 frames needs [\d.]+ GiB of GPU memory at its largest stage \(decode\), more than the 7\.20 GiB usable of 8\.00 GiB: the largest size that fits is preview \(480×272, 33 frames\)\.$/);
    expect(eight.plan!.peakGpuBytes).toBe(planGeneration(WAN13, p480, { maxBindingBytes: roomy.maxStorageBufferBindingSize }).peakGpuBytes);
    expect(checkPlan(WAN13, p480, { memoryBytes: 16 * GiB, ...roomy }, {}, choices).refusal).toBeUndefined();
  });

  it("fits 480p on an 8 GiB GPU by freeing the transformer's weights for decoding, where the model can read them again", () => {
    const p480 = choices[0].size;
    const budget = { memoryBytes: 8 * GiB, ...roomy };
    const released = checkPlan(WAN13, p480, budget, {}, choices, true);
    expect(released.refusal).toBeUndefined();
    expect(released.releaseTransformer).toBe(true);
    const expected = planGeneration(WAN13, p480, { maxBindingBytes: roomy.maxStorageBufferBindingSize, releaseTransformer: true });
    expect(released.plan!.peakGpuBytes).toBe(expected.peakGpuBytes);
    expect(expected.peakGpuBytes).toBeLessThanOrEqual(8 * GiB * USABLE_FRACTION);
    // What fits with the weights kept keeps them; what fits neither way is refused, naming a size.
    expect(checkPlan(WAN13, p480, { memoryBytes: 16 * GiB, ...roomy }, {}, choices, true).releaseTransformer).toBeUndefined();
    const four = checkPlan(WAN13, p480, { memoryBytes: 4.5 * GiB, ...roomy }, {}, choices, true);
    expect(four.releaseTransformer).toBeUndefined();
    expect(four.refusal).toMatch(/the largest size that fits is (preview|small)/);
  });

  it('says when no size fits, and refuses a buffer over the adapter\'s maxBufferSize', () => {
    expect(checkPlan(WAN13, choices[4].size, { memoryBytes: 1 * GiB, ...roomy }, {}, choices).refusal).toMatch(/no size offered here fits: even the smallest needs more\.$/);
    const small = { maxBufferSize: 1 * GiB, maxStorageBufferBindingSize: 1 * GiB };
    const refused = checkPlan(WAN13, choices[0].size, { memoryBytes: 80 * GiB, ...small }, {}, choices).refusal;
    expect(refused).toMatch(/^832×480, 81 frames needs one GPU buffer of [\d.]+ (GiB|MiB), more than this adapter's largest \(maxBufferSize 1\.00 GiB\): the largest size that fits is 480p-short \(832×480, 33 frames\)\.$/);
  });

  it("plans 480p at WebGPU's default 128 MiB bindings (the VAE in 2-D tiles); refuses a size whose plan a smaller binding limit rules out, naming one that fits", () => {
    const defaults = { maxBufferSize: 4 * GiB, maxStorageBufferBindingSize: 128 * 2 ** 20 };
    const fits = checkPlan(WAN13, choices[0].size, { memoryBytes: 80 * GiB, ...defaults }, {}, choices);
    expect(fits.plan).toBeDefined();
    expect(fits.refusal).toBeUndefined();
    const tight = { maxBufferSize: 4 * GiB, maxStorageBufferBindingSize: 32 * 2 ** 20 };
    const check = checkPlan(WAN13, choices[0].size, { memoryBytes: 80 * GiB, ...tight }, {}, choices);
    expect(check.plan).toBeUndefined();
    expect(check.refusal).toMatch(/^832×480, 81 frames cannot be planned on this adapter \(Wan VAE: 60×104 latent pixels .* more than this GPU's binding limit of 32\.0 MiB\): the largest size that fits is \w+/);
  });

  it('formats the stages with the peak marked', () => {
    const { plan } = checkPlan(WAN13, choices[2].size, { memoryBytes: 16 * GiB, ...roomy }, {}, choices);
    expect(formatStages(plan!)).toMatch(/^encode [\d.]+ GiB · sample [\d.]+ GiB · decode [\d.]+ GiB \(peak\)$/);
  });
});
