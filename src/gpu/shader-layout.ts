// Reads a WGSL kernel's interface from its source, so bindings and uniforms are declared once
// (in the shader) and addressed by name from TypeScript. Pure: testable without a GPU.

export type BindingAccess = 'read' | 'read_write' | 'uniform';

export interface ShaderBinding {
  name: string;
  binding: number;
  access: BindingAccess;
}

export interface UniformField {
  name: string;
  type: 'u32' | 'i32' | 'f32';
  offset: number; // bytes
}

export interface ShaderLayout {
  bindings: ShaderBinding[];
  /** Fields of the struct bound as `var<uniform>`, in declaration order; empty if none. */
  uniformFields: UniformField[];
  /** Struct size rounded up to 16 bytes, as WGSL lays out a uniform struct. */
  uniformBytes: number;
  /** `override` constants the shader declares (pipeline specialisation). */
  overrides: string[];
}

const BINDING_RE =
  /@group\(\s*0\s*\)\s*@binding\(\s*(\d+)\s*\)\s*var\s*<\s*(storage\s*,\s*(read|read_write)|uniform)\s*>\s*(\w+)\s*:\s*(\w+)/g;

/** Removes // and /* *\/ comments so commented-out declarations are not parsed. */
function stripComments(code: string): string {
  return code.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/[^\n]*/g, '');
}

export function parseShaderLayout(source: string, shaderName = 'shader'): ShaderLayout {
  const code = stripComments(source);
  const bindings: ShaderBinding[] = [];
  let uniformStruct: string | undefined;
  for (const m of code.matchAll(BINDING_RE)) {
    const access: BindingAccess = m[2].startsWith('uniform') ? 'uniform' : (m[3] as BindingAccess);
    bindings.push({ name: m[4], binding: Number(m[1]), access });
    if (access === 'uniform') {
      if (uniformStruct) throw new Error(`${shaderName}.wgsl: at most one uniform binding is supported`);
      uniformStruct = m[5];
    }
  }
  bindings.sort((a, b) => a.binding - b.binding);
  bindings.forEach((b, i) => {
    if (b.binding !== i) throw new Error(`${shaderName}.wgsl: bindings must be numbered 0..n-1 without gaps`);
  });

  const uniformFields: UniformField[] = [];
  if (uniformStruct) {
    const structRe = new RegExp(`struct\\s+${uniformStruct}\\s*\\{([^}]*)\\}`);
    const body = structRe.exec(code);
    if (!body) throw new Error(`${shaderName}.wgsl: uniform struct ${uniformStruct} not found`);
    for (const field of body[1].split(',')) {
      const f = field.trim();
      if (!f) continue;
      const fm = /^(\w+)\s*:\s*(u32|i32|f32)$/.exec(f);
      if (!fm) throw new Error(`${shaderName}.wgsl: uniform field "${f}" must be a scalar u32, i32 or f32`);
      uniformFields.push({ name: fm[1], type: fm[2] as UniformField['type'], offset: uniformFields.length * 4 });
    }
  }
  const uniformBytes = Math.max(16, Math.ceil((uniformFields.length * 4) / 16) * 16);
  const overrides = [...code.matchAll(/override\s+(\w+)\s*:/g)].map((m) => m[1]);
  return { bindings, uniformFields, uniformBytes, overrides };
}

/** Writes named uniform values into `view` at `byteOffset`, refusing missing or unknown names. */
export function writeUniforms(
  layout: ShaderLayout,
  values: Record<string, number>,
  view: DataView,
  byteOffset: number,
  shaderName: string,
): void {
  const known = new Set(layout.uniformFields.map((f) => f.name));
  for (const name of Object.keys(values)) {
    if (!known.has(name)) throw new Error(`${shaderName}: unknown uniform "${name}"`);
  }
  for (const f of layout.uniformFields) {
    const v = values[f.name];
    if (v === undefined) throw new Error(`${shaderName}: uniform "${f.name}" not given`);
    const at = byteOffset + f.offset;
    if (f.type === 'f32') view.setFloat32(at, v, true);
    else {
      if (!Number.isInteger(v)) throw new Error(`${shaderName}: uniform "${f.name}" must be an integer, got ${v}`);
      if (f.type === 'u32') {
        if (v < 0 || v > 0xffffffff) throw new Error(`${shaderName}: uniform "${f.name}" = ${v} out of u32 range`);
        view.setUint32(at, v, true);
      } else view.setInt32(at, v, true);
    }
  }
}
