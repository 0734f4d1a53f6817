// Per-kernel GPU time from timestamp queries: each profiled dispatch gets its own compute pass with a
// begin and an end timestamp; totals are accumulated by kernel label once the results are mapped.

const QUERY_CAPACITY = 2048; // timestamps per query set (two per dispatch)

export interface KernelTime {
  label: string;
  calls: number;
  ms: number;
}

export class KernelProfiler {
  private readonly querySet: GPUQuerySet;
  private readonly resolveBuffer: GPUBuffer;
  private labels: string[] = [];
  private readonly inFlight: Promise<void>[] = [];
  private readonly totals = new Map<string, KernelTime>();

  constructor(private readonly device: GPUDevice) {
    this.querySet = device.createQuerySet({ type: 'timestamp', count: QUERY_CAPACITY });
    this.resolveBuffer = device.createBuffer({
      size: QUERY_CAPACITY * 8,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
    });
  }

  get full(): boolean {
    return this.labels.length * 2 >= QUERY_CAPACITY;
  }

  nextWrites(label: string): GPUComputePassTimestampWrites {
    const i = this.labels.length;
    this.labels.push(label);
    return { querySet: this.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 };
  }

  private pendingRead: { buffer: GPUBuffer; labels: string[] } | undefined;

  /** Records the query resolution at the end of the encoder about to be submitted. */
  resolve(encoder: GPUCommandEncoder): void {
    if (this.labels.length === 0) return;
    const count = this.labels.length * 2;
    const read = this.device.createBuffer({ size: count * 8, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    encoder.resolveQuerySet(this.querySet, 0, count, this.resolveBuffer, 0);
    encoder.copyBufferToBuffer(this.resolveBuffer, 0, read, 0, count * 8);
    this.pendingRead = { buffer: read, labels: this.labels };
    this.labels = [];
  }

  afterSubmit(): void {
    const pending = this.pendingRead;
    if (!pending) return;
    this.pendingRead = undefined;
    this.inFlight.push(
      pending.buffer.mapAsync(GPUMapMode.READ).then(() => {
        const stamps = new BigUint64Array(pending.buffer.getMappedRange());
        pending.labels.forEach((label, i) => {
          const ns = Number(stamps[2 * i + 1] - stamps[2 * i]);
          const t = this.totals.get(label) ?? { label, calls: 0, ms: 0 };
          t.calls++;
          t.ms += Math.max(0, ns) / 1e6;
          this.totals.set(label, t);
        });
        pending.buffer.destroy();
      }),
    );
  }

  /** Waits for every submitted measurement and returns the totals, slowest first. */
  async report(): Promise<KernelTime[]> {
    await Promise.all(this.inFlight.splice(0));
    return [...this.totals.values()].sort((a, b) => b.ms - a.ms);
  }

  reset(): void {
    this.totals.clear();
  }
}
