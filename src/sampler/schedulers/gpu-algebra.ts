// Plans on the GPU: each combination is one `linearCombination` dispatch (f32 tensors, up to four
// terms, coefficients kept to ~48 bits); a longer one is folded through a running partial sum.

import type { GpuContext } from '../../gpu/context.ts';
import { linearCombination, type LinearTerm } from '../../gpu/kernels/linear-combination.ts';
import type { Tensor } from '../../gpu/tensor.ts';
import type { LinearAlgebra } from './plan.ts';

const MAX_TERMS = 4;

export function gpuAlgebra(ctx: GpuContext): LinearAlgebra<Tensor> {
  return {
    combine(terms) {
      const asKernelTerms = (list: typeof terms): LinearTerm[] => list.map((t) => ({ tensor: t.value, coef: t.coef }));
      let acc = linearCombination(ctx, asKernelTerms(terms.slice(0, MAX_TERMS)));
      for (let next = MAX_TERMS; next < terms.length; next += MAX_TERMS - 1) {
        const partial = acc;
        acc = linearCombination(ctx, [{ tensor: partial, coef: 1 }, ...asKernelTerms(terms.slice(next, next + MAX_TERMS - 1))]);
        partial.release();
      }
      return acc;
    },
    release(value) {
      value.release();
    },
  };
}
