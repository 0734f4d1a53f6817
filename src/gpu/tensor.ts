import type { GpuContext } from './context.ts';

/**
 * Element types a tensor can hold. f16 and bf16 are packed two to a u32 word; the quantized weight
 * types four (i8: int8, f8e4m3: fp8 e4m3fn) or eight (i4: int4, two's complement, low nibble first)
 * to a word, each in flat element order. Only the matmul reads the quantized types (`src/gpu/quantized.ts`).
 */
export type DType = 'f32' | 'f16' | 'bf16' | 'u32' | 'i32' | 'i8' | 'i4' | 'f8e4m3';

export const BYTES_PER_ELEMENT: Record<DType, number> = { f32: 4, f16: 2, bf16: 2, u32: 4, i32: 4, i8: 1, i4: 0.5, f8e4m3: 1 };

export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`invalid shape [${shape.join(', ')}]`);
    n *= d;
  }
  return n;
}

/** Bytes of GPU storage for `count` elements: padded to whole 4-byte words (WGSL has no 16-bit storage). */
export function storageBytes(count: number, dtype: DType): number {
  return Math.max(4, Math.ceil((count * BYTES_PER_ELEMENT[dtype]) / 4) * 4);
}

export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** A GPU buffer with a shape and a dtype, row-major. Owned by the context's pool until released. */
export class Tensor {
  readonly size: number;
  private released = false;

  constructor(
    readonly ctx: GpuContext,
    readonly buffer: GPUBuffer,
    readonly shape: readonly number[],
    readonly dtype: DType,
    readonly label = '',
  ) {
    this.size = elementCount(shape);
  }

  get byteLength(): number {
    return storageBytes(this.size, this.dtype);
  }

  get isReleased(): boolean {
    return this.released;
  }

  /** A view of the same buffer under another shape with the same element count. */
  reshape(shape: readonly number[]): Tensor {
    if (elementCount(shape) !== this.size) {
      throw new Error(`cannot reshape ${formatShape(this.shape)} to ${formatShape(shape)}`);
    }
    return new TensorView(this, shape);
  }

  /** Returns the buffer to the pool. Commands already recorded still see the old contents. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.ctx.releaseBuffer(this);
  }

  assertLive(what: string): void {
    if (this.released) throw new Error(`${what}: tensor ${this.label || formatShape(this.shape)} was already released`);
  }
}

/** A reshaped alias: releasing it does nothing (the base tensor owns the buffer). */
class TensorView extends Tensor {
  constructor(
    private readonly base: Tensor,
    shape: readonly number[],
  ) {
    super(base.ctx, base.buffer, shape, base.dtype, base.label);
  }
  override get isReleased(): boolean {
    return this.base.isReleased;
  }
  override release(): void {}
  override assertLive(what: string): void {
    this.base.assertLive(what);
  }
}
