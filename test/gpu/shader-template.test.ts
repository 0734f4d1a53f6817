import { describe, expect, it } from 'vitest';
import { specialiseShader, templateFlags } from '../../src/gpu/shader-template.ts';

const SOURCE = ['a', '#if F16', 'enable f16;', '#if SUBGROUPS', 'both', '#endif', '#else', 'no f16', '#endif', '#if !SUBGROUPS', 'plain', '#endif', 'z'].join('\n');

describe('the WGSL template step', () => {
  it('keeps the branches of the flags asked for and blanks the rest, so line numbers stay', () => {
    expect(specialiseShader(SOURCE, []).split('\n')).toEqual(['a', '', '', '', '', '', '', 'no f16', '', '', 'plain', '', 'z']);
    expect(specialiseShader(SOURCE, ['F16', 'SUBGROUPS']).split('\n')).toEqual(['a', '', 'enable f16;', '', 'both', '', '', '', '', '', '', '', 'z']);
    expect(specialiseShader(SOURCE, ['SUBGROUPS']).split('\n').filter(Boolean)).toEqual(['a', 'no f16', 'z']);
    expect(specialiseShader(SOURCE, ['F16']).split('\n').filter(Boolean)).toEqual(['a', 'enable f16;', 'plain', 'z']);
  });

  it('lists the flags a source tests', () => {
    expect(templateFlags(SOURCE)).toEqual(['F16', 'SUBGROUPS']);
  });

  it('refuses a flag the source never tests, unbalanced blocks and unknown directives', () => {
    expect(() => specialiseShader(SOURCE, ['F61'], 'k')).toThrow(/k\.wgsl has no "#if F61"/);
    expect(() => specialiseShader('#if A\nx', [], 'k')).toThrow(/not closed/);
    expect(() => specialiseShader('x\n#endif', [], 'k')).toThrow(/k\.wgsl:2: "#endif" without "#if"/);
    expect(() => specialiseShader('#if A\n#else\n#else\n#endif', [], 'k')).toThrow(/second "#else"/);
    expect(() => specialiseShader('#define A 1', [], 'k')).toThrow(/unknown template directive/);
    expect(() => specialiseShader('#if lower\n#endif', [], 'k')).toThrow(/upper-case flag/);
  });

  it('leaves a source without directives as it is', () => {
    const plain = 'fn main() {}\n// # not a directive';
    expect(specialiseShader(plain, [])).toBe(plain);
  });
});
