import type { Tensor } from '../gpu/tensor.ts';

/** A decoder step's intermediates: each released as soon as it is used, and all of them on an error. */
export class Scope {
  private readonly live = new Set<Tensor>();
  add(t: Tensor): Tensor {
    this.live.add(t);
    return t;
  }
  release(t: Tensor): void {
    this.live.delete(t);
    t.release();
  }
  releaseAll(): void {
    for (const t of this.live) t.release();
    this.live.clear();
  }
}
