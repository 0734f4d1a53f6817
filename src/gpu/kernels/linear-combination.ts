import type { GpuContext } from '../context.ts';
import type { Tensor } from '../tensor.ts';
import { expectDType, expectSameShape, groupsFor } from './check.ts';

export interface LinearTerm {
  tensor: Tensor;
  /** A double; the kernel keeps about 48 bits of it (hi + lo f32 pair). */
  coef: number;
}

const MAX_TERMS = 4;

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

  const bindings: Record<string, Tensor> = { out: y };
  const uniforms: Record<string, number> = { count: first.size };
  for (let i = 0; i < MAX_TERMS; i++) {
    const term = terms[i];
    bindings[`t${i}`] = term?.tensor ?? first; // unused slots: bound, never read
    const coef = term?.coef ?? 0;
    const hi = Math.fround(coef);
    uniforms[`hi${i}`] = hi;
    uniforms[`lo${i}`] = Math.fround(coef - hi);
  }
  ctx.dispatch(
    { shader: 'linear_combination', constants: { TERMS: terms.length } },
    { bindings, uniforms, workgroups: groupsFor(first.size), label: op },
  );
  return y;
}
