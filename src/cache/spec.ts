// Cache policy specs as users write them: `bwcache`, `bwcache:threshold=0.2,mode=dynamic`,
// `static:interval=3`, `first-block:threshold=0.08`, `teacache:threshold=0.1`, `none`. A sweep gives one
// numeric option a range, start:end:step with the end included: `bwcache:threshold=0.05:0.3:0.05`,
// `static:interval=2:4:1` (see `expandCacheSpec`).

import { POLICY_DEFAULTS, type BlockSelection, type CacheConfig, type PolicyName } from './policies.ts';
import { validateCacheConfig } from './policies/index.ts';

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
  // Rules between and within options (maxReuse ≥ 1, interval ≥ 1, …) fail here, before anything loads.
  validateCacheConfig(config as unknown as CacheConfig);
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

/** Most points one sweep may expand to. */
export const MAX_SWEEP_POINTS = 64;

/**
 * Splits a list of specs written with commas (or whitespace, or '|') between them: a comma-separated piece
 * that is an option (`key=value` with no policy name before it) belongs to the spec before it, so
 * `none,bwcache:threshold=0.2,mode=dynamic,static:interval=2:4:1` is three specs.
 */
export function splitCacheSpecs(text: string): string[] {
  const specs: string[] = [];
  for (const piece of text.split(/[\s|]+|,/)) {
    if (!piece) continue;
    const eq = piece.indexOf('=');
    const colon = piece.indexOf(':');
    const isOption = eq >= 0 && (colon < 0 || colon > eq);
    if (isOption && specs.length) specs[specs.length - 1] += `,${piece}`;
    else specs.push(piece);
  }
  return specs;
}

/** A number as a spec writes it: no binary noise from the sweep's additions (0.15000000000000002 → 0.15). */
const specNumber = (x: number) => String(Number(x.toPrecision(12)));

/** One point of a sweep: its spec, and the option swept with its value here (absent for a plain spec). */
export interface SweepPoint {
  spec: string;
  sweep?: { option: string; value: number };
}

/** The specs a sweep stands for, in order (see `sweepPoints`). */
export function expandCacheSpec(spec: string): string[] {
  return sweepPoints(spec).map((p) => p.spec);
}

/**
 * The points a sweep stands for, in order; a spec without a range is one point without `sweep`. Only one
 * option may have a range, the option must be numeric, the step positive and the range at most
 * MAX_SWEEP_POINTS long. Every expanded spec is parsed, so a bad value fails here, before anything runs.
 */
export function sweepPoints(spec: string): SweepPoint[] {
  const trimmed = spec.trim();
  const colon = trimmed.indexOf(':');
  if (colon < 0) {
    parseCacheSpec(trimmed);
    return [{ spec: trimmed }];
  }
  const name = trimmed.slice(0, colon);
  const parts = trimmed.slice(colon + 1).split(',');
  const ranged = parts.map((p, i) => ({ p, i })).filter(({ p }) => /^[^=]*=[^:]*:[^:]*:[^:]*$/.test(p.trim()));
  const malformed = parts.find((p) => (p.match(/:/g)?.length ?? 0) > 0 && !ranged.some((r) => r.p === p));
  if (malformed) throw new Error(`cache "${name}": a range is start:end:step, got "${malformed.trim()}"`);
  if (ranged.length === 0) {
    parseCacheSpec(trimmed);
    return [{ spec: trimmed }];
  }
  if (ranged.length > 1) throw new Error(`cache "${name}": sweep one option at a time, got ranges for ${ranged.map(({ p }) => p.split('=')[0].trim()).join(' and ')}`);
  const { p, i } = ranged[0];
  const key = p.slice(0, p.indexOf('=')).trim();
  const kind = FIELDS[name as PolicyName]?.[key];
  if (kind !== undefined && kind !== 'number' && kind !== 'integer') throw new Error(`cache "${name}": only a numeric option can be swept, not ${key}`);
  const [start, end, step] = p.slice(p.indexOf('=') + 1).split(':').map((v) => Number(v.trim()));
  if (![start, end, step].every(Number.isFinite) || !(step > 0) || end < start) {
    throw new Error(`cache "${name}": ${key}'s range must be start:end:step with start ≤ end and step > 0, got "${p.trim()}"`);
  }
  const count = Math.floor((end - start) / step + 1e-9) + 1;
  if (count > MAX_SWEEP_POINTS) throw new Error(`cache "${name}": ${key}'s range has ${count} points; at most ${MAX_SWEEP_POINTS}`);
  return Array.from({ length: count }, (_, k) => {
    const value = Number(specNumber(start + k * step));
    const options = [...parts];
    options[i] = `${key}=${value}`;
    const expanded = `${name}:${options.join(',')}`;
    parseCacheSpec(expanded);
    return { spec: expanded, sweep: { option: key, value } };
  });
}

/** A short label for tables and plots: the spec, with TeaCache's fitted coefficients said as "(calibrated)". */
export function cacheLabel(config: CacheConfig): string {
  if (config.policy !== 'teacache') return formatCacheSpec(config);
  const calibrated = JSON.stringify(config.coefficients) !== JSON.stringify(POLICY_DEFAULTS.teacache.coefficients);
  const rest = formatCacheSpec({ ...config, coefficients: POLICY_DEFAULTS.teacache.coefficients });
  return calibrated ? `${rest} (calibrated)` : rest;
}
