// Reading a diffusers `scheduler_config.json` as is: fields keep diffusers' names and defaults,
// fields webdit does not need are ignored, and a value webdit does not implement is refused with a
// message that names the field (never silently sampled with different math).

export type RawConfig = Record<string, unknown>;

export class ConfigReader {
  constructor(
    readonly className: string,
    private readonly raw: RawConfig,
  ) {}

  private value(name: string): unknown {
    const v = this.raw[name];
    return v === null ? undefined : v;
  }

  private fail(name: string, expected: string): never {
    throw new Error(`${this.className}: ${name} must be ${expected}, got ${describe(this.raw[name])}`);
  }

  number(name: string, fallback: number): number {
    const v = this.value(name) ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(name, 'a finite number');
    return v;
  }

  integer(name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
    const v = this.value(name) ?? fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) this.fail(name, `an integer in [${min}, ${max}]`);
    return v;
  }

  boolean(name: string, fallback: boolean): boolean {
    const v = this.value(name) ?? fallback;
    if (typeof v !== 'boolean') this.fail(name, 'true or false');
    return v;
  }

  /**
   * A string field restricted to the values webdit implements. `fallback` is diffusers' default,
   * so an absent field that defaults to something unsupported is refused too.
   */
  oneOf<T extends string>(name: string, fallback: string, supported: readonly T[]): T {
    const v = this.value(name) ?? fallback;
    if (typeof v !== 'string') this.fail(name, 'a string');
    if (!supported.includes(v as T)) {
      const given = this.value(name) === undefined ? ' (the diffusers default)' : '';
      throw new Error(
        `${this.className}: ${name} = ${JSON.stringify(v)}${given} is not supported; webdit implements ${supported.map((a) => JSON.stringify(a)).join(', ')}`,
      );
    }
    return v as T;
  }

  /** A boolean field of which webdit implements only one value. */
  requireBoolean(name: string, fallback: boolean, supported: boolean, why: string): void {
    if (this.boolean(name, fallback) !== supported) {
      const given = this.value(name) === undefined ? ' (the diffusers default)' : '';
      throw new Error(`${this.className}: ${name} = ${!supported}${given} is not supported (${why})`);
    }
  }

  integerList(name: string): number[] {
    const v = this.value(name) ?? [];
    if (!Array.isArray(v) || !v.every((x) => Number.isInteger(x))) this.fail(name, 'a list of integers');
    return v as number[];
  }

  /** Refuses a field whose value (diffusers default when absent) asks for something webdit lacks. */
  refuse(name: string, isUnsupported: (value: unknown) => boolean, why: string): void {
    const v = this.value(name);
    if (isUnsupported(v)) throw new Error(`${this.className}: ${name} = ${describe(v)} is not supported (${why})`);
  }
}

function describe(v: unknown): string {
  return v === undefined ? 'nothing' : JSON.stringify(v);
}

/** A value Python treats as true (diffusers tests `if self.config.shift_terminal:`). */
export function truthy(v: unknown): boolean {
  return v !== undefined && v !== null && v !== false && v !== 0 && v !== '' && !(Array.isArray(v) && v.length === 0);
}

/**
 * numpy.linspace(start, stop, num) in float64, bit for bit: start + i·step with step = (stop −
 * start)/(num − 1), and the last element set to stop exactly.
 */
export function linspace(start: number, stop: number, num: number): number[] {
  if (num === 1) return [start];
  const step = (stop - start) / (num - 1);
  const out = Array.from({ length: num }, (_, i) => i * step + start);
  out[num - 1] = stop;
  return out;
}

export function checkStepCount(className: string, numInferenceSteps: number): void {
  if (!Number.isInteger(numInferenceSteps) || numInferenceSteps < 1) {
    throw new Error(`${className}: the number of inference steps must be a positive integer, got ${numInferenceSteps}`);
  }
}
