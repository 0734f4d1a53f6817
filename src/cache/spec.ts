// Cache policy specs as users write them: `bwcache`, `bwcache:threshold=0.2,mode=dynamic`,
// `static:interval=3`, `first-block:threshold=0.08`, `teacache:threshold=0.1`, `none`.

import { POLICY_DEFAULTS, type BlockSelection, type CacheConfig, type PolicyName } from './policies.ts';

type FieldKind = 'number' | 'integer' | 'numbers' | 'blocks' | string[];

const FIELDS: { [K in PolicyName]: Record<string, FieldKind> } = {
  none: {},
  bwcache: {
    threshold: 'number',
    maxReuse: 'integer',
    tailSteps: 'integer',
    mode: ['periodic', 'dynamic'],
    reuse: ['stack', 'block'],
    blocks: 'blocks',
    branches: ['separate', 'joint'],
    storage: ['f16', 'f32'],
  },
  static: { interval: 'integer', warmupSteps: 'integer', tailSteps: 'integer', storage: ['f16', 'f32'] },
  'first-block': { threshold: 'number', storage: ['f16', 'f32'] },
  teacache: { threshold: 'number', coefficients: 'numbers', warmupSteps: 'integer', tailSteps: 'integer', storage: ['f16', 'f32'] },
};

function parseValue(policy: string, key: string, kind: FieldKind, raw: string): unknown {
  const where = `cache "${policy}": ${key}`;
  if (Array.isArray(kind)) {
    if (!kind.includes(raw)) throw new Error(`${where} must be one of ${kind.join(', ')}, got "${raw}"`);
    return raw;
  }
  if (kind === 'blocks') {
    if (raw === 'all' || raw === 'every-other') return raw as BlockSelection;
    const list = raw.split(';').map(Number);
    if (list.some((n) => !Number.isInteger(n) || n < 0)) throw new Error(`${where} must be all, every-other or indices separated by ';', got "${raw}"`);
    return list;
  }
  if (kind === 'numbers') {
    const list = raw.split(';').map(Number);
    if (list.some((n) => !Number.isFinite(n))) throw new Error(`${where} must be numbers separated by ';', got "${raw}"`);
    return list;
  }
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n < 0) throw new Error(`${where} must be a non-negative number, got "${raw}"`);
  if (kind === 'integer' && !Number.isInteger(n)) throw new Error(`${where} must be an integer, got "${raw}"`);
  return n;
}

/** Parses a spec string; unknown policies or fields are errors that list what is accepted. */
export function parseCacheSpec(spec: string): CacheConfig {
  const trimmed = spec.trim();
  const colon = trimmed.indexOf(':');
  const name = (colon < 0 ? trimmed : trimmed.slice(0, colon)) as PolicyName;
  if (!(name in POLICY_DEFAULTS)) throw new Error(`unknown cache policy "${name}": use one of ${Object.keys(POLICY_DEFAULTS).join(', ')}`);
  const config: Record<string, unknown> = { ...POLICY_DEFAULTS[name] };
  if (colon >= 0) {
    for (const part of trimmed.slice(colon + 1).split(',')) {
      if (!part.trim()) continue;
      const eq = part.indexOf('=');
      if (eq < 0) throw new Error(`cache "${name}": expected key=value, got "${part}"`);
      const key = part.slice(0, eq).trim();
      const kind = FIELDS[name][key];
      if (!kind) throw new Error(`cache "${name}" has no option "${key}"; options: ${Object.keys(FIELDS[name]).join(', ') || 'none'}`);
      config[key] = parseValue(name, key, kind, part.slice(eq + 1).trim());
    }
  }
  return config as unknown as CacheConfig;
}

/** The spec string of a config (its non-default fields), for reports. */
export function formatCacheSpec(config: CacheConfig): string {
  const defaults = POLICY_DEFAULTS[config.policy] as unknown as Record<string, unknown>;
  const parts = Object.entries(config)
    .filter(([k, v]) => k !== 'policy' && JSON.stringify(v) !== JSON.stringify(defaults[k]))
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(';') : String(v)}`);
  return parts.length ? `${config.policy}:${parts.join(',')}` : config.policy;
}
