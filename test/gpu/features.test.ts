import { describe, expect, it } from 'vitest';
import { chooseKernelPaths, usableMatrixConfig, type AdapterCapabilities, type SubgroupMatrixConfig } from '../../src/gpu/features.ts';
import { dawnFlags } from '../../src/gpu/node.ts';

const f16x16: SubgroupMatrixConfig = { componentType: 'f16', resultComponentType: 'f32', M: 16, N: 16, K: 16 };
const f16x8: SubgroupMatrixConfig = { componentType: 'f16', resultComponentType: 'f32', M: 8, N: 8, K: 8 };
const f16Result: SubgroupMatrixConfig = { componentType: 'f16', resultComponentType: 'f16', M: 16, N: 16, K: 16 };
const f32x8: SubgroupMatrixConfig = { componentType: 'f32', resultComponentType: 'f32', M: 8, N: 8, K: 8 };
const oblong: SubgroupMatrixConfig = { componentType: 'f16', resultComponentType: 'f32', M: 16, N: 8, K: 16 };

function adapter(features: string[], overrides: Partial<AdapterCapabilities> = {}): AdapterCapabilities {
  return {
    features: new Set(features),
    software: false,
    subgroupMatrixConfigs: [],
    subgroupMinSize: 32,
    subgroupMaxSize: 32,
    maxComputeWorkgroupStorageSize: 49152,
    maxComputeInvocationsPerWorkgroup: 1024,
    ...overrides,
  };
}

const H100_TOGGLED = adapter(['shader-f16', 'subgroups', 'timestamp-query', 'chromium-experimental-subgroup-matrix'], {
  subgroupMatrixConfigs: [f16Result, oblong, f16x16],
});

describe('kernel paths chosen from the adapter', () => {
  it('an NVIDIA GPU with the Dawn toggles: f16 activations, matrix units for matmul and attention', () => {
    expect(chooseKernelPaths(H100_TOGGLED)).toEqual({
      activations: 'f16',
      matmul: 'subgroup-matrix',
      attention: 'subgroup-matrix',
      norms: 'tree',
      matrixConfig: f16x16,
    });
  });

  it('the same GPU without the toggles (no shader-f16, no subgroup-matrix): f32 and the tiled kernels', () => {
    expect(chooseKernelPaths(adapter(['subgroups', 'timestamp-query']))).toEqual({
      activations: 'f32',
      matmul: 'staged',
      attention: 'tiled',
      norms: 'tree',
    });
  });

  it('f16 without a usable matrix configuration keeps the tiled kernels with f16 activations', () => {
    const onlyF16Result = adapter(['shader-f16', 'subgroups', 'chromium-experimental-subgroup-matrix'], { subgroupMatrixConfigs: [f16Result, f32x8] });
    expect(chooseKernelPaths(onlyF16Result)).toMatchObject({ activations: 'f16', matmul: 'staged', attention: 'tiled' });
    expect(chooseKernelPaths(onlyF16Result).matrixConfig).toBeUndefined();
  });

  it('Apple-style 8×8 configurations are usable; the feature without subgroups is not', () => {
    const apple = adapter(['shader-f16', 'subgroups', 'chromium-experimental-subgroup-matrix'], { subgroupMatrixConfigs: [f32x8, f16x8] });
    expect(chooseKernelPaths(apple)).toMatchObject({ matmul: 'subgroup-matrix', matrixConfig: f16x8 });
    const noSubgroups = adapter(['shader-f16', 'chromium-experimental-subgroup-matrix'], { subgroupMatrixConfigs: [f16x8] });
    expect(chooseKernelPaths(noSubgroups).matmul).toBe('staged');
  });

  it('matrix units need the workgroup to be one subgroup: one known size up to 128, enough workgroup memory', () => {
    expect(chooseKernelPaths({ ...H100_TOGGLED, subgroupMaxSize: 0 }).matmul).toBe('staged'); // unknown
    expect(chooseKernelPaths({ ...H100_TOGGLED, subgroupMaxSize: 256 }).matmul).toBe('staged');
    expect(chooseKernelPaths({ ...H100_TOGGLED, maxComputeWorkgroupStorageSize: 4096 }).matmul).toBe('staged');
    expect(chooseKernelPaths({ ...H100_TOGGLED, subgroupMinSize: 64, subgroupMaxSize: 64 }).matmul).toBe('subgroup-matrix');
    expect(chooseKernelPaths({ ...H100_TOGGLED, subgroupMinSize: 32, subgroupMaxSize: 64 }).matmul).toBe('staged'); // AMD-style: varies
  });

  it('preferences turn f16 and the matrix units off', () => {
    expect(chooseKernelPaths(H100_TOGGLED, { matrixUnits: false })).toMatchObject({ activations: 'f16', matmul: 'staged', attention: 'tiled' });
    expect(chooseKernelPaths(H100_TOGGLED, { activations: 'f32' })).toMatchObject({ activations: 'f32', matmul: 'staged', attention: 'tiled' });
  });

  it('SwiftShader (software, subgroups, no f16): the barrier-free kernels', () => {
    const swiftshader = adapter(['subgroups', 'timestamp-query', 'subgroup-size-control'], { software: true, subgroupMinSize: 4, subgroupMaxSize: 4 });
    expect(chooseKernelPaths(swiftshader)).toEqual({ activations: 'f32', matmul: 'direct', attention: 'direct-subgroups', norms: 'rows' });
    expect(chooseKernelPaths({ ...swiftshader, features: new Set() }).attention).toBe('direct');
  });

  it('usableMatrixConfig takes the largest square f16→f32 configuration', () => {
    expect(usableMatrixConfig([f16x8, f16x16, oblong])).toEqual(f16x16);
    expect(usableMatrixConfig([f16Result, f32x8, oblong])).toBeUndefined();
    expect(usableMatrixConfig([])).toBeUndefined();
  });
});

describe("Dawn's toggles in Node", () => {
  it('asks for f16 on NVIDIA by default; the unsafe APIs for matrix units only when asked', () => {
    expect(dawnFlags({})).toEqual(['enable-dawn-features=vulkan_enable_f16_on_nvidia']); // the unsafe matrix toggles are opt-in
  });

  it('WEBDIT_DAWN_TOGGLES=off (or the option) asks for none; a list replaces the defaults', () => {
    for (const off of ['off', '0', 'none', 'OFF']) expect(dawnFlags({ WEBDIT_DAWN_TOGGLES: off })).toEqual([]);
    expect(dawnFlags({}, false)).toEqual([]);
    expect(dawnFlags({ WEBDIT_DAWN_TOGGLES: 'allow_unsafe_apis, dump_shaders' })).toEqual(['enable-dawn-features=allow_unsafe_apis,dump_shaders']);
  });

  it('refuses a toggle list that would break the flag string', () => {
    expect(() => dawnFlags({ WEBDIT_DAWN_TOGGLES: 'allow_unsafe_apis,x=y' })).toThrow(/not a Dawn toggle name/);
  });
});
