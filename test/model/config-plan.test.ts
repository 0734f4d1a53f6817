import { describe, expect, it } from 'vitest';
import { WAN21_T2V_CONFIGS, expectedTensors, parameterCount, parseWanConfig } from '../../src/model/config.ts';
import { planMemory } from '../../src/model/plan.ts';
import { diffusersNameMap, originalToDiffusers } from '../../src/model/keys.ts';

const WAN_1_3B = WAN21_T2V_CONFIGS['1.3b'];

describe('Wan2.1 config and memory plan', () => {
  it('the 1.3B config has 1,418,996,800 parameters', () => {
    expect(parameterCount(parseWanConfig(WAN_1_3B))).toBe(1_418_996_800);
  });

  it('plans 480×832×81: 32,760 tokens, f16 weights, activations, caches', () => {
    const plan = planMemory(parseWanConfig(WAN_1_3B), { frames: 81, height: 480, width: 832 });
    expect(plan.latents).toEqual([16, 21, 60, 104]);
    expect(plan.tokens).toBe(32760);
    // Matmul weights in f16, the small rest (biases, norms, tables) in f32.
    expect(plan.bytes.weights).toBeGreaterThan(2.83e9);
    expect(plan.bytes.weights).toBeLessThan(2.85e9);
    expect(plan.bytes.blockFeatureCache).toBe(2 * 30 * 32760 * 1536 * 2);
    expect(plan.largestTensorBytes).toBe(32760 * 8960 * 4);
  });

  it('refuses sizes the model cannot take, and bad configs', () => {
    const cfg = parseWanConfig(WAN_1_3B);
    expect(() => planMemory(cfg, { frames: 80, height: 480, width: 832 })).toThrow(/4k\+1/);
    expect(() => planMemory(cfg, { frames: 81, height: 488, width: 832 })).toThrow(/does not divide/);
    expect(() => parseWanConfig({ ...WAN_1_3B, num_layers: undefined })).toThrow(/missing "num_layers"/);
    expect(() => parseWanConfig({ ...WAN_1_3B, image_dim: 1280 })).toThrow(/image-to-video/);
    expect(() => parseWanConfig({ ...WAN_1_3B, _class_name: 'FluxTransformer2DModel' })).toThrow(/WanTransformer3DModel/);
  });

  it('maps original key names to diffusers names, with the norm2/norm3 swap and the single-file prefix', () => {
    expect(originalToDiffusers('model.diffusion_model.blocks.3.norm3.weight')).toBe('blocks.3.norm2.weight');
    expect(originalToDiffusers('blocks.3.self_attn.o.bias')).toBe('blocks.3.attn1.to_out.0.bias');
    expect(originalToDiffusers('blocks.0.cross_attn.norm_k.weight')).toBe('blocks.0.attn2.norm_k.weight');
    expect(originalToDiffusers('head.modulation')).toBe('scale_shift_table');
    expect(originalToDiffusers('blocks.7.modulation')).toBe('blocks.7.scale_shift_table');
    expect(originalToDiffusers('time_projection.1.weight')).toBe('condition_embedder.time_proj.weight');
    // Diffusers names pass through unchanged.
    const names = [...expectedTensors(parseWanConfig(WAN_1_3B)).keys()];
    const map = diffusersNameMap(names);
    expect([...map.keys()]).toEqual(names);
  });
});
