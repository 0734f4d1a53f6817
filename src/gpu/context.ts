// The GPU runtime: one device, a buffer pool, a pipeline cache keyed by shader and constants, one
// pending command encoder (flushed only when a result is needed or the uniform arena is full), an
// optional per-kernel profiler on timestamp queries, and conditional scopes (dispatches the GPU itself
// turns on or off, see `conditional`). Knows nothing of models.

// Kept in the emitted .d.ts, so TypeScript users of the package get WebGPU's types (GPUDevice, …) with it.
/// <reference types="@webgpu/types" preserve="true" />

import { parseShaderLayout, writeUniforms, type ShaderLayout } from './shader-layout.ts';
import { shaderSource } from './shaders.ts';
import { specialiseShader } from './shader-template.ts';
import { BYTES_PER_ELEMENT, Tensor, elementCount, formatShape, storageBytes, type DType } from './tensor.ts';
import { KernelProfiler } from './profiler.ts';
import { bf16ToF32, f16ToF32 } from './half.ts';
import type { SubgroupMatrixConfig } from './features.ts';

// The half-precision helpers moved to half.ts; re-exported for the modules that import them from here.
export { bf16ToF32, f16ToF32, floatToBf16, floatToHalf, halfToFloat } from './half.ts';

/** What the adapter says of itself; the last two come from Dawn (absent in some browsers). */
export interface AdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  subgroupMinSize?: number;
  subgroupMaxSize?: number;
  subgroupMatrixConfigs?: readonly SubgroupMatrixConfig[];
}

export interface KernelRef {
  /** File name in shaders/ without `.wgsl`. */
  shader: string;
  /** WGSL `override` constants: they specialise the pipeline, so they are part of its cache key. */
  constants?: Record<string, number>;
  /** Template flags the WGSL's `#if` lines test (src/gpu/shader-template.ts); part of the cache key. */
  flags?: readonly string[];
}

/** Part of a tensor's buffer bound on its own (WebGPU binds a range: offset + size within one buffer). */
export interface TensorRange {
  tensor: Tensor;
  /** Bytes from the buffer's start; a multiple of minStorageBufferOffsetAlignment. */
  offset: number;
  size: number;
}

export interface DispatchArgs {
  bindings: Record<string, Tensor | GPUBuffer | TensorRange>;
  uniforms?: Record<string, number>;
  /** Total workgroups: a count (folded into x·y past the per-dimension limit) or an explicit grid. */
  workgroups: number | [number, number, number];
  /** Name for the profiler and error messages; defaults to the shader name. */
  label?: string;
}

export interface ContextOptions {
  /** Fill every new tensor with NaN so an element a kernel forgets to write fails the test. */
  poison?: boolean;
  /** Record GPU time per kernel label (needs the timestamp-query feature). */
  profile?: boolean;
  /** Submit after every dispatch (debugging: localises an error to one kernel). */
  flushEveryDispatch?: boolean;
  /** An artificial binding cap in bytes (see `setBindingLimit`): tests the segmented paths of a whole run. */
  bindingLimit?: number;
}

interface Pipeline {
  /** Small integer naming the pipeline in bind group keys. */
  id: number;
  pipeline: GPUComputePipeline;
  layout: ShaderLayout;
  bindGroupLayout: GPUBindGroupLayout;
  name: string;
}

const UNIFORM_ARENA_BYTES = 1 << 18;

/** Words of the conditional-dispatch table (and of the indirect arguments armed from it) per submission:
 * 3 per conditional dispatch and 1 per segment, so about 5,000 conditional dispatches before a flush. */
const CONDITIONAL_TABLE_WORDS = 1 << 14;

/** Bind groups kept for reuse; past this many the cache starts over (a step's pattern repeats, so a few
 * thousand cover a generation). */
const MAX_CACHED_BIND_GROUPS = 8192;

/** Pool buckets: sizes rounded up to 1/8 of their power of two, so reuse wastes at most 12.5% (exported for memory plans). */
export function bucketBytes(bytes: number): number {
  if (bytes <= 256) return 256;
  const step = 2 ** (Math.ceil(Math.log2(bytes)) - 3);
  return Math.ceil(bytes / step) * step;
}

/** An allocation the GPU (or the context's cap) could not make. */
export class GpuOutOfMemoryError extends Error {
  override name = 'GpuOutOfMemoryError';
}

export class GpuContext {
  readonly limits: GPUSupportedLimits;
  readonly features: ReadonlySet<string>;
  private kernelProfiler: KernelProfiler | undefined;
  readonly options: ContextOptions;

  private readonly pool = new Map<number, GPUBuffer[]>();
  private readonly pipelines = new Map<string, Pipeline>();
  // createBindGroup is the costliest call of a dispatch (~15 µs in Dawn for Node, several times the rest),
  // and the pool hands the same buffers to the same kernels step after step: bind groups are cached by
  // pipeline and buffers, with the uniform arena bound at a dynamic offset so it is not part of the key.
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  private readonly bufferIds = new WeakMap<GPUBuffer, number>();
  private nextBufferId = 1;
  private encoder: GPUCommandEncoder | undefined;
  private pass: GPUComputePassEncoder | undefined;
  private readonly uniformArena: GPUBuffer;
  private readonly uniformStaging = new ArrayBuffer(UNIFORM_ARENA_BYTES);
  private uniformUsed = 0;
  private readonly uniformAlign: number;
  private pendingDispatches = 0;
  private firstError: Error | undefined;
  private lostReason: string | undefined;

  /** Tensors handed out and not yet released, and the bytes they hold (tests count these). */
  liveTensors = 0;
  liveBytes = 0;
  /** Bytes held by the pool's free buffers. */
  pooledBytes = 0;
  /** Most bytes of buffers (live and pooled) this context creates; a test lowers it to force an out-of-memory. */
  memoryCapBytes = Infinity;
  /** Live tensors made inside each running `releasingOnFailure` (what a failed run must free). */
  private readonly runScopes: Set<Tensor>[] = [];
  /** Most bytes of tensors alive at once since the last `resetPeakBytes()`. */
  peakLiveBytes = 0;
  /** Submissions so far, by reason: shows how well dispatches are batched. */
  readonly flushes: Record<string, number> = {};
  /** Prefix for the labels of dispatches recorded inside `withLabel` (what the profiler groups by). */
  private labelScope: string | undefined;
  /** Host read-backs (`readRaw`, hence `read`) so far: each one drains the queue. */
  readbacks = 0;
  /** Dispatches recorded inside conditional scopes so far (each one indirect). */
  conditionalDispatches = 0;

  // Conditional scopes. Inside one, each dispatch reads its workgroup counts from `conditionalArgs`; the
  // counts are known on the host only as the scope records, so they go to a host table (uploaded with the
  // next submission, like the uniforms), and a segment opens with an arm kernel that copies its part of the
  // table into the arguments when the scope's flag is set, zeros otherwise. A flush closes the segment; the
  // next conditional dispatch opens a new one in the new command buffer.
  private readonly conditionalTable: GPUBuffer;
  private readonly conditionalArgs: GPUBuffer;
  private readonly tableStaging = new Uint32Array(CONDITIONAL_TABLE_WORDS);
  private tableUsed = 0;
  private scope: { flags: GPUBuffer; index: number } | undefined;
  /** The open segment: its count word in the table and the dispatches recorded into it. */
  private segment: { base: number; count: number } | undefined;
  /** A cap below the device's binding limit (tests: makes small tensors take the segmented paths). */
  private bindingCap: number | undefined;
  /** Bindings of part of a buffer (a segment of a tensor over the binding limit), by shader; tests count them. */
  readonly rangeBindings: Record<string, number> = {};

  constructor(
    readonly device: GPUDevice,
    readonly adapterInfo: AdapterInfo,
    options: ContextOptions = {},
  ) {
    this.options = options;
    this.limits = device.limits;
    this.features = new Set(device.features as unknown as Iterable<string>);
    this.uniformAlign = Math.max(256, device.limits.minUniformBufferOffsetAlignment);
    this.uniformArena = device.createBuffer({
      label: 'uniform arena',
      size: UNIFORM_ARENA_BYTES,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    this.conditionalTable = device.createBuffer({
      label: 'conditional dispatch table',
      size: CONDITIONAL_TABLE_WORDS * 4,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
    });
    this.conditionalArgs = device.createBuffer({
      label: 'conditional dispatch arguments',
      size: CONDITIONAL_TABLE_WORDS * 4,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.INDIRECT,
    });
    device.addEventListener('uncapturederror', (ev) => {
      const err = (ev as GPUUncapturedErrorEvent).error;
      this.firstError ??= err instanceof GPUOutOfMemoryError ? new GpuOutOfMemoryError(`GPU out of memory: ${err.message}`) : new Error(`GPU error: ${err.message}`);
    });
    void device.lost.then((info) => {
      this.lostReason = `GPU device lost (${info.reason}): ${info.message || 'no message'}`;
    });
    if (options.profile) this.setProfiling(true);
    if (options.bindingLimit !== undefined) this.setBindingLimit(options.bindingLimit);
  }

  /**
   * The most bytes one storage binding may span: the device's maxStorageBufferBindingSize, or a lower
   * artificial cap set for testing. Kernel wrappers split bigger tensors into segments under it.
   */
  get bindingLimit(): number {
    return this.bindingCap ?? this.limits.maxStorageBufferBindingSize;
  }

  /** Caps every binding at `bytes` (a multiple of 256, at most the device's limit); undefined lifts the cap. */
  setBindingLimit(bytes: number | undefined): void {
    if (bytes !== undefined && (!Number.isInteger(bytes) || bytes < 256 || bytes % 256 !== 0 || bytes > this.limits.maxStorageBufferBindingSize)) {
      throw new Error(`binding limit must be a multiple of 256 from 256 to ${this.limits.maxStorageBufferBindingSize}, got ${bytes}`);
    }
    this.bindingCap = bytes;
  }

  /** Byte alignment of a bound range's offset. */
  get bindingOffsetAlignment(): number {
    return this.limits.minStorageBufferOffsetAlignment;
  }

  /** The per-kernel profiler while profiling is on. */
  get profiler(): KernelProfiler | undefined {
    return this.kernelProfiler;
  }

  private readonly scopeTimers = new Map<string, KernelProfiler>();

  /**
   * Times only the dispatches labelled `scope/…` (see `withLabel`), each in a pass of its own, and
   * leaves the rest batched: cheap enough to keep on for a whole run. Undefined without timestamp-query.
   */
  timeScope(scope: string): KernelProfiler | undefined {
    if (!this.features.has('timestamp-query')) return undefined;
    let timer = this.scopeTimers.get(scope);
    if (!timer) {
      timer = new KernelProfiler(this.device);
      this.scopeTimers.set(scope, timer);
    }
    return timer;
  }

  endTimeScope(scope: string): void {
    if (!this.scopeTimers.has(scope)) return;
    this.flush('time scope ended');
    this.scopeTimers.delete(scope);
  }

  private timerFor(label: string): KernelProfiler | undefined {
    if (this.kernelProfiler) return this.kernelProfiler;
    if (this.scopeTimers.size === 0) return undefined;
    const scope = label.slice(0, label.indexOf('/'));
    return this.scopeTimers.get(scope);
  }

  /**
   * Turns per-kernel GPU timing on or off. While on, each dispatch gets its own compute pass with
   * timestamps, which costs some speed: time whole runs with profiling off.
   */
  setProfiling(on: boolean): void {
    if (on && !this.kernelProfiler) {
      if (!this.features.has('timestamp-query')) throw new Error('profiling needs the timestamp-query feature, which this adapter lacks');
      this.flush('profiling switched on');
      this.kernelProfiler = new KernelProfiler(this.device);
    } else if (!on && this.kernelProfiler) {
      this.flush('profiling switched off');
      this.kernelProfiler = undefined;
    }
  }

  get isLost(): boolean {
    return this.lostReason !== undefined;
  }

  /** Throws the first asynchronous GPU error (validation, out-of-memory, device lost), if any. */
  checkErrors(): void {
    if (this.lostReason) throw new Error(this.lostReason);
    if (this.firstError) {
      const e = this.firstError;
      this.firstError = undefined;
      throw e;
    }
  }

  // ---- tensors ---------------------------------------------------------------------------

  /** A new tensor of the given shape (contents undefined, or NaN when poisoning). */
  empty(shape: readonly number[], dtype: DType = 'f32', label = ''): Tensor {
    const count = elementCount(shape);
    const bytes = storageBytes(count, dtype);
    if (bytes > this.limits.maxBufferSize) {
      throw new Error(
        `tensor ${label} ${formatShape(shape)} ${dtype} needs ${bytes} bytes; this GPU's largest buffer is ${this.limits.maxBufferSize}`,
      );
    }
    const buffer = this.acquireBuffer(bytes);
    const t = new Tensor(this, buffer, shape, dtype, label);
    for (const scope of this.runScopes) scope.add(t);
    this.liveTensors++;
    this.liveBytes += bucketBytes(bytes);
    this.peakLiveBytes = Math.max(this.peakLiveBytes, this.liveBytes);
    // NaN in every element: both halves of a word for the 16-bit types.
    if (this.options.poison) this.fill(t, dtype === 'f16' ? 0x7e007e00 : dtype === 'bf16' ? 0x7fc07fc0 : 0x7fc00000);
    return t;
  }

  /** Uploads host data. f16/bf16 data is given as raw 16-bit words, i8/i4/f8e4m3 as their packed bytes. */
  upload(
    data: Float32Array | Uint32Array | Int32Array | Uint16Array | Uint8Array,
    shape: readonly number[],
    dtype?: DType,
    label = '',
  ): Tensor {
    const dt: DType = dtype ?? (data instanceof Float32Array ? 'f32' : data instanceof Uint32Array ? 'u32' : data instanceof Int32Array ? 'i32' : 'f16');
    const count = elementCount(shape);
    const isBytes = data instanceof Uint8Array;
    if (isBytes !== (BYTES_PER_ELEMENT[dt] < 2)) throw new Error(`upload ${label}: ${dt} data must ${isBytes ? 'not ' : ''}be given as bytes`);
    const expected = isBytes ? Math.ceil(count * BYTES_PER_ELEMENT[dt]) : count;
    if (data.length !== expected) throw new Error(`upload ${label}: ${data.length} values for shape ${formatShape(shape)} ${dt}`);
    const t = this.empty(shape, dt, label);
    this.writeTensor(t, data);
    return t;
  }

  /** Writes host data into a tensor (ordered after every dispatch recorded so far). */
  writeTensor(t: Tensor, data: ArrayBufferView, byteOffset = 0): void {
    t.assertLive('writeTensor');
    // queue.writeBuffer runs before commands still pending in the encoder: submit them first so a
    // pooled buffer is not overwritten under a dispatch that reads its previous contents.
    if (this.pendingDispatches > 0) this.flush('write after pending dispatches');
    let bytes = new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
    if (bytes.byteLength % 4 !== 0) {
      const padded = new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4);
      padded.set(bytes);
      bytes = padded;
    }
    this.device.queue.writeBuffer(t.buffer, byteOffset, bytes);
  }

  /** Reads a tensor back. f32 as Float32Array; f16/bf16 widened to Float32Array; u32/i32 as is. */
  async read(t: Tensor): Promise<Float32Array> {
    const raw = await this.readRaw(t);
    switch (t.dtype) {
      case 'f32':
        return new Float32Array(raw, 0, t.size);
      case 'f16':
        return f16ToF32(new Uint16Array(raw, 0, t.size));
      case 'bf16':
        return bf16ToF32(new Uint16Array(raw, 0, t.size));
      case 'u32':
      case 'i32':
        return Float32Array.from(new (t.dtype === 'u32' ? Uint32Array : Int32Array)(raw, 0, t.size));
      default:
        throw new Error(`read: ${t.dtype} tensor ${t.label || formatShape(t.shape)} holds packed quantized codes; use readRaw`);
    }
  }

  async readRaw(t: Tensor): Promise<ArrayBuffer> {
    t.assertLive('read');
    if (this.scope) throw new Error('read inside a conditional scope: its result would depend on a decision still on the GPU');
    this.readbacks++;
    const bytes = t.byteLength;
    const staging = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    try {
      this.endPass();
      this.commandEncoder().copyBufferToBuffer(t.buffer, 0, staging, 0, bytes);
      this.flush('read back');
      await this.whileAlive(staging.mapAsync(GPUMapMode.READ));
      this.checkErrors();
      return staging.getMappedRange().slice(0);
    } finally {
      staging.destroy();
    }
  }

  /** Submits pending work and waits until the GPU has finished it. */
  async sync(): Promise<void> {
    this.flush('sync');
    await this.whileAlive(this.device.queue.onSubmittedWorkDone());
    this.checkErrors();
  }

  /** Copies `bytes` from one tensor to another (in recording order). */
  copy(src: Tensor, dst: Tensor, bytes = Math.min(src.byteLength, dst.byteLength), srcOffset = 0, dstOffset = 0): void {
    src.assertLive('copy');
    dst.assertLive('copy');
    if (this.scope) {
      // copyBufferToBuffer cannot be made indirect: a copy kernel can.
      if ((bytes | srcOffset | dstOffset) % 4 !== 0) throw new Error(`copy in a conditional scope: ${bytes} bytes at ${srcOffset} → ${dstOffset} are not whole words`);
      if (src.buffer === dst.buffer) throw new Error('copy in a conditional scope: source and destination must be different tensors');
      this.copyWords(src, dst, bytes / 4, srcOffset, dstOffset);
      return;
    }
    this.endPass();
    this.commandEncoder().copyBufferToBuffer(src.buffer, srcOffset, dst.buffer, dstOffset, bytes);
    this.pendingDispatches++;
  }

  /** The copy kernel: whole tensors bound when they fit the binding limit, else runs of words from aligned offsets. */
  private copyWords(src: Tensor, dst: Tensor, count: number, srcOffset: number, dstOffset: number): void {
    const limit = this.bindingLimit;
    const fits = (t: Tensor) => Math.min(t.buffer.size, Math.ceil(t.byteLength / 16) * 16) <= limit;
    if (fits(src) && fits(dst)) {
      this.dispatch(
        { shader: 'copy' },
        { bindings: { x: src, out: dst }, uniforms: { count, srcWord: srcOffset / 4, dstWord: dstOffset / 4 }, workgroups: Math.ceil(count / 256), label: 'copy' },
      );
      return;
    }
    const align = this.bindingOffsetAlignment;
    // Each run binds from the aligned offset at or below its start: room for up to align − 4 bytes before it.
    const perRun = (Math.floor(limit / align) - 1) * (align / 4);
    if (perRun < 1) throw new Error(`copy: the binding limit ${limit} leaves no room for a run of words at ${align}-byte aligned offsets`);
    const bind = (t: Tensor, byteStart: number, words: number) => {
      const offset = Math.floor(byteStart / align) * align;
      const size = Math.min(t.buffer.size - offset, Math.ceil((byteStart - offset + 4 * words) / 16) * 16);
      return { range: { tensor: t, offset, size }, word: (byteStart - offset) / 4 };
    };
    for (let done = 0; done < count; done += perRun) {
      const words = Math.min(perRun, count - done);
      const from = bind(src, srcOffset + 4 * done, words);
      const to = bind(dst, dstOffset + 4 * done, words);
      this.dispatch(
        { shader: 'copy' },
        { bindings: { x: from.range, out: to.range }, uniforms: { count: words, srcWord: from.word, dstWord: to.word }, workgroups: Math.ceil(words / 256), label: 'copy' },
      );
    }
  }

  /** Fills a tensor's words with one 32-bit pattern (0 for zeros; 0x7fc00000 for f32 NaN). */
  fill(t: Tensor, word: number): void {
    const words = t.byteLength / 4;
    if (t.buffer.size <= this.bindingLimit) {
      this.dispatch(
        { shader: 'fill' },
        { bindings: { out: t.buffer }, uniforms: { count: words, word }, workgroups: Math.ceil(words / 256), label: 'fill' },
      );
      return;
    }
    // Over the binding limit: in aligned runs of words.
    const align = this.bindingOffsetAlignment;
    const perSegment = Math.floor(this.bindingLimit / align) * (align / 4);
    for (let start = 0; start < words; start += perSegment) {
      const count = Math.min(perSegment, words - start);
      this.dispatch(
        { shader: 'fill' },
        { bindings: { out: { tensor: t, offset: 4 * start, size: 4 * count } }, uniforms: { count, word }, workgroups: Math.ceil(count / 256), label: 'fill' },
      );
    }
  }

  zeros(shape: readonly number[], dtype: DType = 'f32', label = ''): Tensor {
    const t = this.empty(shape, dtype, label);
    this.fill(t, 0);
    return t;
  }

  /** @internal Called by Tensor.release(). */
  releaseBuffer(t: Tensor): void {
    for (const scope of this.runScopes) scope.delete(t);
    const bytes = t.buffer.size;
    this.liveTensors--;
    this.liveBytes -= bytes;
    const list = this.pool.get(bytes);
    if (list) list.push(t.buffer);
    else this.pool.set(bytes, [t.buffer]);
    this.pooledBytes += bytes;
  }

  /**
   * Runs `fn`; when it fails, releases every tensor made meanwhile and still live (the intermediates a
   * failure left behind). Tensors meant to outlive a run (weights, cached tables) are marked with `keep`.
   */
  async releasingOnFailure<T>(fn: () => Promise<T>): Promise<T> {
    const made = new Set<Tensor>();
    this.runScopes.push(made);
    try {
      return await fn();
    } catch (e) {
      for (const t of [...made]) t.release();
      throw e;
    } finally {
      this.runScopes.splice(this.runScopes.indexOf(made), 1);
    }
  }

  /** Marks a tensor as outliving the run that made it (see `releasingOnFailure`). */
  keep<T extends Tensor>(t: T): T {
    for (const scope of this.runScopes) scope.delete(t);
    return t;
  }

  resetPeakBytes(): void {
    this.peakLiveBytes = this.liveBytes;
  }

  /** Bind groups cached for reuse (see `bindGroups`). */
  get cachedBindGroups(): number {
    return this.bindGroups.size;
  }

  /** Destroys the pool's free buffers (live tensors are untouched). */
  trimPool(): void {
    this.bindGroups.clear(); // they may hold buffers about to be destroyed
    for (const list of this.pool.values()) for (const b of list) b.destroy();
    this.pool.clear();
    this.pooledBytes = 0;
  }

  private bufferId(buffer: GPUBuffer): number {
    let id = this.bufferIds.get(buffer);
    if (id === undefined) {
      id = this.nextBufferId++;
      this.bufferIds.set(buffer, id);
    }
    return id;
  }

  private acquireBuffer(bytes: number): GPUBuffer {
    const size = bucketBytes(bytes);
    const reused = this.pool.get(size)?.pop();
    if (reused) {
      this.pooledBytes -= size;
      return reused;
    }
    if (this.liveBytes + this.pooledBytes + size > this.memoryCapBytes) {
      this.flush('memory cap'); // recorded work may still use pooled buffers: submit it before they are destroyed
      this.trimPool();
      if (this.liveBytes + size > this.memoryCapBytes) {
        throw new GpuOutOfMemoryError(`out of GPU memory: a ${size}-byte buffer on top of ${this.liveBytes} bytes in use exceeds the ${this.memoryCapBytes}-byte cap`);
      }
    }
    return this.device.createBuffer({
      size,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    });
  }

  // ---- kernels ---------------------------------------------------------------------------

  pipeline(kernel: KernelRef): Pipeline {
    const constants = kernel.constants ?? {};
    const flags = [...(kernel.flags ?? [])].sort();
    const key = `${kernel.shader}${flags.map((f) => `#${f}`).join('')}|${Object.keys(constants).sort().map((k) => `${k}=${constants[k]}`).join(',')}`;
    let p = this.pipelines.get(key);
    if (p) return p;
    const code = specialiseShader(shaderSource(kernel.shader), flags, kernel.shader);
    const layout = parseShaderLayout(code, kernel.shader);
    for (const name of Object.keys(constants)) {
      if (!layout.overrides.includes(name)) throw new Error(`${kernel.shader}.wgsl declares no override "${name}"`);
    }
    const module = this.device.createShaderModule({ label: kernel.shader, code });
    const bindGroupLayout = this.device.createBindGroupLayout({
      label: kernel.shader,
      entries: layout.bindings.map((b) => ({
        binding: b.binding,
        visibility: GPUShaderStage.COMPUTE,
        buffer:
          b.access === 'uniform'
            ? { type: 'uniform', hasDynamicOffset: true }
            : { type: b.access === 'read' ? 'read-only-storage' : 'storage' },
      })),
    });
    const pipeline = this.device.createComputePipeline({
      label: key,
      layout: this.device.createPipelineLayout({ bindGroupLayouts: [bindGroupLayout] }),
      compute: { module, entryPoint: 'main', constants },
    });
    p = { id: this.pipelines.size, pipeline, layout, bindGroupLayout, name: kernel.shader };
    this.pipelines.set(key, p);
    return p;
  }

  /** Runs `fn` with its dispatches labelled `scope/…`, so the profiler can total them as a group. */
  withLabel<T>(scope: string, fn: () => T): T {
    const outer = this.labelScope;
    this.labelScope = outer ? `${outer}/${scope}` : scope;
    try {
      return fn();
    } finally {
      this.labelScope = outer;
    }
  }

  /**
   * Records `fn`'s dispatches (and copies) so that they run only where `flags[index]` ≠ 0 when the GPU
   * reaches them: each becomes an indirect dispatch whose workgroup counts are zeroed otherwise. The flag
   * is written by earlier GPU work (a decision kernel), so the host never waits for it. Tensors allocated
   * inside stay allocated whichever way the flag goes; `fn` must record synchronously and read nothing back.
   * Host writes (`writeTensor`, `upload`) inside still happen unconditionally.
   */
  conditional<T>(flags: Tensor, index: number, fn: () => T): T {
    if (this.scope) throw new Error('conditional scopes do not nest: combine the flags in the decision kernel');
    flags.assertLive('conditional');
    if (flags.dtype !== 'u32') throw new Error(`conditional: flags must be u32, got ${flags.dtype}`);
    if (!Number.isInteger(index) || index < 0 || index >= flags.size) throw new Error(`conditional: flag ${index} outside 0..${flags.size - 1}`);
    this.scope = { flags: flags.buffer, index };
    try {
      const result = fn();
      if (result instanceof Promise) throw new Error('conditional: the scope must record synchronously');
      return result;
    } finally {
      this.closeSegment();
      this.scope = undefined;
    }
  }

  /** Whether dispatches are being recorded inside a conditional scope. */
  get inConditional(): boolean {
    return this.scope !== undefined;
  }

  private closeSegment(): void {
    if (!this.segment) return;
    this.tableStaging[this.segment.base] = this.segment.count;
    this.segment = undefined;
  }

  /** The indirect-argument byte offset of the next conditional dispatch (opening a segment if needed). */
  private conditionalSlot(grid: [number, number, number], uniformBytes: number): number {
    const scope = this.scope!;
    // Reserve room first, so no flush (which closes the segment) falls between the arm and the dispatch.
    if (this.tableUsed + 4 > CONDITIONAL_TABLE_WORDS) this.flush('conditional table full');
    if (this.uniformUsed + uniformBytes + 2 * this.uniformAlign > UNIFORM_ARENA_BYTES) this.flush('uniform arena full');
    if (!this.segment) {
      const base = this.tableUsed++;
      this.segment = { base, count: 0 };
      this.tableStaging[base] = 0;
      this.record(
        { shader: 'conditional_arm' },
        { bindings: { flags: scope.flags, table: this.conditionalTable, args: this.conditionalArgs }, uniforms: { flagIndex: scope.index, base }, workgroups: 1, label: 'arm' },
        undefined,
      );
    }
    const at = this.tableUsed;
    this.tableStaging.set(grid, at);
    this.tableUsed += 3;
    this.segment.count++;
    this.conditionalDispatches++;
    return at * 4;
  }

  /** Records one dispatch into the pending encoder (indirect inside a conditional scope). */
  dispatch(kernel: KernelRef, args: DispatchArgs): void {
    if (this.lostReason) throw new Error(this.lostReason);
    if (!this.scope) return this.record(kernel, args, undefined);
    const label = args.label ?? kernel.shader;
    const offset = this.conditionalSlot(this.grid(args.workgroups, label), this.pipeline(kernel).layout.uniformBytes);
    this.record(kernel, args, offset);
  }

  private record(kernel: KernelRef, args: DispatchArgs, indirectOffset: number | undefined): void {
    const p = this.pipeline(kernel);
    const label = this.labelScope ? `${this.labelScope}/${args.label ?? kernel.shader}` : (args.label ?? kernel.shader);
    const entries: GPUBindGroupEntry[] = [];
    let key = `${p.id}`;
    for (const b of p.layout.bindings) {
      if (b.access === 'uniform') continue;
      const v = args.bindings[b.name];
      if (!v) throw new Error(`${label}: binding "${b.name}" not given`);
      const { buffer, offset, size } = this.bindingRange(v, `${label} (${b.name})`);
      if (!(v instanceof Tensor) && 'tensor' in v) this.rangeBindings[kernel.shader] = (this.rangeBindings[kernel.shader] ?? 0) + 1;
      if (size === buffer.size) entries.push({ binding: b.binding, resource: { buffer } });
      else entries.push({ binding: b.binding, resource: { buffer, offset, size } });
      key += `,${this.bufferId(buffer)}:${offset}:${size}`;
    }
    for (const name of Object.keys(args.bindings)) {
      if (!p.layout.bindings.some((b) => b.name === name)) throw new Error(`${label}: ${kernel.shader}.wgsl has no binding "${name}"`);
    }
    const uniformBinding = p.layout.bindings.find((b) => b.access === 'uniform');
    const dynamicOffsets: number[] = [];
    if (uniformBinding) {
      if (this.uniformUsed + p.layout.uniformBytes > UNIFORM_ARENA_BYTES) this.flush('uniform arena full');
      const offset = this.uniformUsed;
      writeUniforms(p.layout, args.uniforms ?? {}, new DataView(this.uniformStaging), offset, label);
      this.uniformUsed = Math.ceil((offset + p.layout.uniformBytes) / this.uniformAlign) * this.uniformAlign;
      entries.push({ binding: uniformBinding.binding, resource: { buffer: this.uniformArena, offset: 0, size: p.layout.uniformBytes } });
      dynamicOffsets.push(offset);
    }
    const grid = this.grid(args.workgroups, label);
    let bindGroup = this.bindGroups.get(key);
    if (!bindGroup) {
      if (this.bindGroups.size >= MAX_CACHED_BIND_GROUPS) this.bindGroups.clear();
      bindGroup = this.device.createBindGroup({ layout: p.bindGroupLayout, entries });
      this.bindGroups.set(key, bindGroup);
    }
    let pass: GPUComputePassEncoder;
    const timer = this.timerFor(label);
    if (timer) {
      this.endPass();
      pass = this.commandEncoder().beginComputePass({ timestampWrites: timer.nextWrites(label) });
    } else {
      pass = this.pass ??= this.commandEncoder().beginComputePass();
    }
    pass.setPipeline(p.pipeline);
    pass.setBindGroup(0, bindGroup, dynamicOffsets);
    if (indirectOffset === undefined) pass.dispatchWorkgroups(grid[0], grid[1], grid[2]);
    else pass.dispatchWorkgroupsIndirect(this.conditionalArgs, indirectOffset);
    if (timer) pass.end();
    this.pendingDispatches++;
    if (this.options.flushEveryDispatch || timer?.full) this.flush(timer?.full ? 'profiler query set full' : 'debug');
  }

  /**
   * The range a binding spans: a whole buffer when it fits the binding limit; a tensor in a bigger pool
   * bucket, only its own bytes (rounded up to 16: kernels read 16-byte chunks); a TensorRange as given.
   */
  private bindingRange(v: Tensor | GPUBuffer | TensorRange, what: string): { buffer: GPUBuffer; offset: number; size: number } {
    const limit = this.bindingLimit;
    let range: { buffer: GPUBuffer; offset: number; size: number };
    if (v instanceof Tensor) {
      v.assertLive(what);
      const own = Math.min(v.buffer.size, Math.ceil(v.byteLength / 16) * 16);
      range = { buffer: v.buffer, offset: 0, size: v.buffer.size <= limit ? v.buffer.size : own };
    } else if ('tensor' in v) {
      v.tensor.assertLive(what);
      range = { buffer: v.tensor.buffer, offset: v.offset, size: v.size };
      if (v.offset % this.bindingOffsetAlignment !== 0 || v.size <= 0 || v.offset + v.size > v.tensor.buffer.size) {
        throw new Error(`${what}: range ${v.offset}+${v.size} is misaligned or outside its ${v.tensor.buffer.size}-byte buffer`);
      }
    } else {
      range = { buffer: v, offset: 0, size: v.size };
    }
    if (range.size > limit) {
      throw new Error(`${what}: binding of ${range.size} bytes is over the binding limit ${limit} (this kernel cannot split it into segments)`);
    }
    return range;
  }

  private grid(workgroups: DispatchArgs['workgroups'], label: string): [number, number, number] {
    const max = this.limits.maxComputeWorkgroupsPerDimension;
    if (Array.isArray(workgroups)) {
      if (workgroups.some((w) => w > max)) throw new Error(`${label}: grid [${workgroups}] exceeds ${max} per dimension`);
      return workgroups;
    }
    if (workgroups <= max) return [Math.max(1, workgroups), 1, 1];
    const y = Math.ceil(workgroups / max);
    if (y > max) throw new Error(`${label}: ${workgroups} workgroups exceed the device's grid`);
    return [max, y, 1];
  }

  private commandEncoder(): GPUCommandEncoder {
    return (this.encoder ??= this.device.createCommandEncoder());
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = undefined;
  }

  /** Submits the pending commands. `reason` is counted in `flushes`. */
  flush(reason: string): void {
    this.endPass();
    if (!this.encoder) return;
    if (this.uniformUsed > 0) {
      this.device.queue.writeBuffer(this.uniformArena, 0, this.uniformStaging, 0, this.uniformUsed);
      this.uniformUsed = 0;
    }
    this.closeSegment();
    if (this.tableUsed > 0) {
      this.device.queue.writeBuffer(this.conditionalTable, 0, this.tableStaging, 0, this.tableUsed);
      this.tableUsed = 0;
    }
    const timers = [this.kernelProfiler, ...this.scopeTimers.values()].filter((t): t is KernelProfiler => t !== undefined);
    for (const t of timers) t.resolve(this.encoder);
    this.device.queue.submit([this.encoder.finish()]);
    for (const t of timers) t.afterSubmit();
    this.encoder = undefined;
    this.pendingDispatches = 0;
    this.flushes[reason] = (this.flushes[reason] ?? 0) + 1;
  }

  /** Races a GPU promise against device loss, so a lost device rejects instead of hanging. */
  private whileAlive<T>(p: Promise<T>): Promise<T> {
    return Promise.race([
      p,
      this.device.lost.then((info) => {
        throw new Error(`GPU device lost (${info.reason}): ${info.message || 'no message'}`);
      }),
    ]);
  }

  /** Releases everything: pool, pipelines, the device itself. */
  destroy(): void {
    this.trimPool();
    this.uniformArena.destroy();
    this.conditionalTable.destroy();
    this.conditionalArgs.destroy();
    this.device.destroy();
  }
}
