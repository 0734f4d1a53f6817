// A small argument parser: `--name value`, `--flag`, and positional words.

export interface ParsedArgs {
  positional: string[];
  options: Map<string, string | true>;
}

export function parseArgs(argv: string[]): ParsedArgs {
  const positional: string[] = [];
  const options = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      if (eq > 0) options.set(a.slice(2, eq), a.slice(eq + 1));
      else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) options.set(a.slice(2), argv[++i]);
      else options.set(a.slice(2), true);
    } else positional.push(a);
  }
  return { positional, options };
}

export class UsageError extends Error {
  override name = 'UsageError';
}

/** Typed access to parsed options, with clear errors for missing or malformed values. */
export class Options {
  private readonly used = new Set<string>();
  constructor(private readonly parsed: ParsedArgs, private readonly command: string) {}

  string(name: string): string | undefined {
    this.used.add(name);
    const v = this.parsed.options.get(name);
    if (v === true) throw new UsageError(`${this.command}: --${name} needs a value`);
    return v;
  }

  requiredString(name: string): string {
    const v = this.string(name);
    if (v === undefined) throw new UsageError(`${this.command}: --${name} is required`);
    return v;
  }

  number(name: string, fallback?: number): number | undefined {
    const v = this.string(name);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new UsageError(`${this.command}: --${name} must be a number, got "${v}"`);
    return n;
  }

  integer(name: string, fallback?: number): number | undefined {
    const n = this.number(name, fallback);
    if (n !== undefined && !Number.isInteger(n)) throw new UsageError(`${this.command}: --${name} must be an integer, got ${n}`);
    return n;
  }

  flag(name: string): boolean {
    this.used.add(name);
    const v = this.parsed.options.get(name);
    if (v !== undefined && v !== true) throw new UsageError(`${this.command}: --${name} takes no value`);
    return v === true;
  }

  /** Throws on options the command does not know (a typo should not be silently ignored). */
  finish(): void {
    const unknown = [...this.parsed.options.keys()].filter((k) => !this.used.has(k));
    if (unknown.length) throw new UsageError(`${this.command}: unknown option ${unknown.map((u) => `--${u}`).join(', ')}`);
  }
}
