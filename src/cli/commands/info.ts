import type { Command } from '../main.ts';
import { createNodeContext, dawnFlagsInUse } from '../../gpu/node.ts';
import { capabilitiesOf, kernelPaths, SUBGROUP_MATRIX_FEATURE } from '../../gpu/features.ts';

const info: Command = {
  summary: 'Print the WebGPU adapter webdit would use, with its limits, features and kernel paths, as JSON.',
  usage: 'webdit info   (WEBDIT_DAWN_TOGGLES=off: without Dawn\'s f16 toggle; with matrix units: WEBDIT_DAWN_TOGGLES=vulkan_enable_f16_on_nvidia,allow_unsafe_apis,use_vulkan_memory_model)',
  async run(options) {
    options.finish();
    const ctx = await createNodeContext();
    const l = ctx.limits;
    console.log(
      JSON.stringify(
        {
          adapter: {
            vendor: ctx.adapterInfo.vendor,
            architecture: ctx.adapterInfo.architecture,
            device: ctx.adapterInfo.device,
            description: ctx.adapterInfo.description,
          },
          dawnFlags: dawnFlagsInUse,
          features: [...ctx.features].sort(),
          f16: ctx.features.has('shader-f16'),
          subgroupMatrix: {
            feature: ctx.features.has(SUBGROUP_MATRIX_FEATURE),
            subgroupMaxSize: capabilitiesOf(ctx).subgroupMaxSize,
            configs: ctx.adapterInfo.subgroupMatrixConfigs ?? [],
          },
          kernelPaths: kernelPaths(ctx),
          limits: {
            maxBufferSize: l.maxBufferSize,
            maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
            maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
            maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
          },
        },
        null,
        2,
      ),
    );
    ctx.destroy();
  },
};
export default info;
