// One poisoning GPU context per test file (Dawn on SwiftShader when no GPU is present).
import { createNodeContext } from '../../src/gpu/node.ts';
import type { GpuContext } from '../../src/gpu/context.ts';

let ctx: Promise<GpuContext> | undefined;

export function testContext(): Promise<GpuContext> {
  return (ctx ??= createNodeContext({ poison: true }));
}
