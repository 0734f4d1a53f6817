// A clone must work alone: no source, test, script, tool or document points at a folder beside the repository.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const OUTSIDE = [/\.\.\/shared\b/, /\/work\/shared\b/, /\bshared\/golden\b/, /\.\.\/\.library\b/];

describe('the repository is self-contained', () => {
  it('no tracked code or document names the shared folder or another sibling of the repository', () => {
    const files = execFileSync('git', ['ls-files', '--', 'src', 'test', 'bench', 'bin', 'tools', 'train', 'shaders', '*.ts', '*.html', '*.json', '*.md', '.ci'], { cwd: ROOT, encoding: 'utf8' })
      .split('\n').filter((f) => /\.(ts|mjs|js|py|html|json|wgsl|sh|md)$|^\.ci\//.test(f) && !f.startsWith('test/golden/') && f !== 'test/repo/self-contained.test.ts');
    expect(files.length).toBeGreaterThan(50);
    const offenders = files.filter((f) => OUTSIDE.some((re) => re.test(readFileSync(resolve(ROOT, f), 'utf8'))));
    expect(offenders).toEqual([]);
  });
});
