import type { GpuContext } from '../context.ts';
import type { Tensor } from '../tensor.ts';
import { expectDType, expectSameShape, groupsFor } from './check.ts';
import { rowRange, rowSegments } from './segments.ts';
import type { TensorRange } from '../context.ts';

export interface LinearTerm {
  tensor: Tensor;
  /** A double; the kernel keeps about 48 bits of it (three f32 parts, see coefficientParts). */
  coef: number;
}

const MAX_TERMS = 4;

const f32Bits = new Float32Array(1);
const u32Bits = new Uint32Array(f32Bits.buffer);

/** The f32 nearest x, cut to its 12 leading significant bits (as the shader cuts each value). */
function twelveBits(x: number): number {
  f32Bits[0] = x;
  u32Bits[0] &= 0xfffff000;
  return f32Bits[0];
}

/** coef ≈ c1 + c2 + c3 with c1 and c2 of at most 12 significant bits, so the shader's products of
 * c1 and c2 with a 12-bit half of a value are exact; c3 holds the next 24 bits. */
export function coefficientParts(coef: number): [number, number, number] {
  const c1 = twelveBits(coef);
  const c2 = twelveBits(coef - c1);
  return [c1, c2, Math.fround(coef - c1 - c2)];
}

/**
 * out = Σ coef_i · tensor_i over 1 to 4 same-shape f32 tensors (scheduler updates, CFG). Computed in
 * float-float arithmetic, so the result is accurate to about one f32 rounding even where terms
 * cancel. `out` defaults to a new tensor and must not alias any input.
 */
export function linearCombination(ctx: GpuContext, terms: readonly LinearTerm[], out?: Tensor): Tensor {
  const op = 'linearCombination';
  if (terms.length < 1 || terms.length > MAX_TERMS) {
    throw new Error(`${op}: takes 1 to ${MAX_TERMS} terms, got ${terms.length}`);
  }
  const first = terms[0].tensor;
  terms.forEach(({ tensor, coef }, i) => {
    expectDType(op, `term ${i}`, tensor, 'f32');
    expectSameShape(op, 'term 0', first, `term ${i}`, tensor);
    if (!Number.isFinite(Math.fround(coef))) throw new Error(`${op}: coefficient ${i} must be a finite f32, got ${coef}`);
  });
  if (out) {
    expectDType(op, 'out', out, 'f32');
    expectSameShape(op, 'term 0', first, 'out', out);
    const aliased = terms.findIndex(({ tensor }) => tensor.buffer === out.buffer);
    if (aliased >= 0) throw new Error(`${op}: out must not alias an input (it aliases term ${aliased})`);
  }
  const y = out ?? ctx.empty(first.shape, 'f32', op);
  if (first.size === 0) return y;

  const uniforms: Record<string, number> = { zero: 0 };
  for (let i = 0; i < MAX_TERMS; i++) {
    const [c1, c2, c3] = coefficientParts(terms[i]?.coef ?? 0);
    uniforms[`c1_${i}`] = c1;
    uniforms[`c2_${i}`] = c2;
    uniforms[`c3_${i}`] = c3;
  }
  // Runs of elements when a tensor is over the binding limit (each element is computed alone).
  const n = first.size;
  const splits = [y, ...terms.map((t) => t.tensor)].map((tensor) => ({ tensor, rowBytes: 4 }));
  for (const s of rowSegments(ctx, op, n, splits)) {
    const bindings: Record<string, Tensor | TensorRange> = { out: rowRange(y, 4, s, n) };
    for (let i = 0; i < MAX_TERMS; i++) bindings[`t${i}`] = rowRange(terms[i]?.tensor ?? first, 4, s, n); // unused slots: bound, never read
    ctx.dispatch(
      { shader: 'linear_combination', constants: { TERMS: terms.length } },
      { bindings, uniforms: { ...uniforms, count: s.count }, workgroups: groupsFor(s.count), label: op },
    );
  }
  return y;
}
