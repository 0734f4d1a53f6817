// WGSL sources by name (`shaders/<name>.wgsl`). Under Vite (browser, Vitest) they are bundled as
// strings; on plain Node the entry point installs a file reader (see node.ts).

type ShaderLoader = (name: string) => string;

const bundled: Record<string, string> | undefined = import.meta.env
  ? (import.meta.glob('../../shaders/*.wgsl', { query: '?raw', import: 'default', eager: true }) as Record<string, string>)
  : undefined;

let loader: ShaderLoader | undefined;

export function setShaderLoader(fn: ShaderLoader): void {
  loader = fn;
}

export function shaderSource(name: string): string {
  if (bundled) {
    const code = bundled[`../../shaders/${name}.wgsl`];
    if (code === undefined) throw new Error(`no shader named "${name}" in shaders/`);
    return code;
  }
  if (!loader) throw new Error('no shader loader installed: import src/gpu/node.ts on Node');
  return loader(name);
}
