import type { Command } from '../main.ts';
import { createNodeContext } from '../../gpu/node.ts';

const info: Command = {
  summary: 'Print the WebGPU adapter webdit would use, with its limits and features, as JSON.',
  usage: 'webdit info',
  async run(options) {
    options.finish();
    const ctx = await createNodeContext();
    const l = ctx.limits;
    console.log(
      JSON.stringify(
        {
          adapter: ctx.adapterInfo,
          features: [...ctx.features].sort(),
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
