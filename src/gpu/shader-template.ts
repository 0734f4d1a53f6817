// The one template step WGSL files get: whole-line `#if FLAG` / `#if !FLAG` / `#else` / `#endif`
// (nestable), resolved from the flags a kernel asks for. It chooses code that cannot be an `override`
// (an `enable` directive, a builtin only some adapters have, a storage element type), so one file
// serves a kernel's variants instead of copies kept in step by hand. Everything else stays WGSL: an
// unresolved `#` line is a WGSL syntax error, so a file is never compiled without this step by accident.

const DIRECTIVE = /^\s*#(if|else|endif)\b\s*(!?)\s*(\w*)\s*$/;

/** Flag names: upper-case words, as `#if` spells them. */
const FLAG_NAME = /^[A-Z][A-Z0-9_]*$/;

/** The flags a source's `#if` lines test, sorted. */
export function templateFlags(source: string): string[] {
  const flags = new Set<string>();
  for (const line of source.split('\n')) {
    const m = DIRECTIVE.exec(line);
    if (m && m[1] === 'if') flags.add(m[3]);
  }
  return [...flags].sort();
}

/**
 * `source` with its `#if` blocks resolved: a block is kept when its flag is in `flags` (or, for
 * `#if !FLAG`, when it is not). Removed lines become empty lines, so compiler errors keep their line
 * numbers. Throws on an unbalanced block, a bad directive, or a flag the source never tests.
 */
export function specialiseShader(source: string, flags: readonly string[], name = 'shader'): string {
  const known = templateFlags(source);
  for (const f of flags) {
    if (!known.includes(f)) throw new Error(`${name}.wgsl has no "#if ${f}" (it tests: ${known.join(', ') || 'nothing'})`);
  }
  const on = new Set(flags);
  // One entry per open block: whether its current branch is kept, and whether #else was seen.
  const open: { keep: boolean; sawElse: boolean }[] = [];
  const keeping = () => open.every((b) => b.keep);
  const out: string[] = [];
  const lines = source.split('\n');
  lines.forEach((line, i) => {
    const where = `${name}.wgsl:${i + 1}`;
    if (!/^\s*#/.test(line)) {
      out.push(keeping() ? line : '');
      return;
    }
    const m = DIRECTIVE.exec(line);
    if (!m) throw new Error(`${where}: unknown template directive "${line.trim()}" (only #if FLAG, #if !FLAG, #else, #endif)`);
    const [, kind, negate, flag] = m;
    if (kind === 'if') {
      if (!FLAG_NAME.test(flag)) throw new Error(`${where}: "#if" needs an upper-case flag name, got "${flag}"`);
      open.push({ keep: on.has(flag) !== (negate === '!'), sawElse: false });
    } else {
      if (negate || flag) throw new Error(`${where}: "#${kind}" takes no argument`);
      const block = open.at(-1);
      if (!block) throw new Error(`${where}: "#${kind}" without "#if"`);
      if (kind === 'else') {
        if (block.sawElse) throw new Error(`${where}: second "#else" in one block`);
        block.sawElse = true;
        block.keep = !block.keep;
      } else {
        open.pop();
      }
    }
    out.push('');
  });
  if (open.length) throw new Error(`${name}.wgsl: ${open.length} "#if" block(s) not closed by "#endif"`);
  return out.join('\n');
}
