// The cache policies by name. Adding one: a config in ../policies.ts, its options in ../spec.ts, a file
// here with its `CachePolicy`, and a line below; the manager needs no change.

import type { CacheConfig, PolicyName } from '../policies.ts';
import { bwcachePolicy } from './bwcache.ts';
import { firstBlockPolicy } from './first-block.ts';
import { staticPolicy } from './static.ts';
import { teacachePolicy } from './teacache.ts';
import type { CachePolicy } from './types.ts';

const nonePolicy: CachePolicy<{ policy: 'none' }> = {
  name: 'none',
  validate: () => undefined,
  indicatorBlocks: () => [],
  create: () => {
    throw new Error('cache "none" records no step: the model runs its own block stack');
  },
};

export const CACHE_POLICIES: { [K in PolicyName]: CachePolicy<Extract<CacheConfig, { policy: K }>> } = {
  none: nonePolicy,
  bwcache: bwcachePolicy,
  static: staticPolicy,
  'first-block': firstBlockPolicy,
  teacache: teacachePolicy,
};

export function cachePolicy<C extends CacheConfig>(config: C): CachePolicy<C> {
  const policy = CACHE_POLICIES[config.policy] as unknown as CachePolicy<C> | undefined;
  if (!policy) throw new Error(`unknown cache policy "${String(config.policy)}": use one of ${Object.keys(CACHE_POLICIES).join(', ')}`);
  return policy;
}

/**
 * Checks a cache config before anything loads: every option, and, given the run, what depends on it
 * (block indices against the model's depth, steps).
 */
export function validateCacheConfig(config: CacheConfig, run?: { steps: number; numLayers: number }): void {
  const policy = cachePolicy(config);
  if ('storage' in config && config.storage !== 'f16' && config.storage !== 'f32') throw new Error(`cache "${config.policy}": storage must be f16 or f32, got ${String(config.storage)}`);
  policy.validate(config);
  if (!run) return;
  if (!Number.isInteger(run.steps) || run.steps < 1) throw new Error(`cache: steps must be a positive integer, got ${run.steps}`);
  policy.indicatorBlocks(config, run.numLayers);
}
