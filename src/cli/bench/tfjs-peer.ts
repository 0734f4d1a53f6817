// TensorFlow.js's WebGPU backend as a benchmark peer, in this Node process on the same Dawn GPU object
// (hence the same adapter) that webdit uses. Its device is its own; timing waits on that device's queue.

import type { Contender } from './timing.ts';

type Tfjs = typeof import('@tensorflow/tfjs-core');

/** The parts of tfjs-backend-webgpu's WebGPUBackend that waiting for completion needs. */
interface WebGpuBackendInternals {
  device: GPUDevice;
  commandEncoder: GPUCommandEncoder | null;
  endComputePassEncoder(): void;
  submitQueue(): void;
}

export type TfjsLayout = 'transposeB' | 'pretransposed';

export interface TfjsPeer {
  version: string;
  /**
   * Y = X·Wᵀ on tensors uploaded once: 'transposeB' is tf.matMul(x, w, false, true) with w [N, K];
   * 'pretransposed' is tf.matMul(x, wT) with wT [K, N] made beforehand (TF.js's vec4 path).
   */
  matmul(x: Float32Array, w: Float32Array, M: number, N: number, K: number, layout?: TfjsLayout): Contender & { dispose(): void };
}

let loaded: Promise<TfjsPeer> | undefined;

export function loadTfjsPeer(gpu: GPU): Promise<TfjsPeer> {
  return (loaded ??= load(gpu));
}

async function load(gpu: GPU): Promise<TfjsPeer> {
  // The backend looks for navigator.gpu when it is imported and when it creates its device.
  const g = globalThis as { navigator?: { gpu?: GPU } };
  if (!g.navigator?.gpu) Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  const tf: Tfjs = await import('@tensorflow/tfjs-core');
  await import('@tensorflow/tfjs-backend-webgpu');
  if (!(await tf.setBackend('webgpu'))) throw new Error('TensorFlow.js could not start its WebGPU backend');
  await tf.ready();
  const backend = tf.backend() as unknown as WebGpuBackendInternals;

  /** Submits whatever tfjs still holds in its encoder and waits for its queue to drain. */
  async function drain(): Promise<void> {
    if (backend.commandEncoder) {
      backend.endComputePassEncoder();
      backend.submitQueue();
    }
    await backend.device.queue.onSubmittedWorkDone();
  }

  return {
    version: tf.version_core,
    matmul(xData, wData, M, N, K, layout = 'transposeB') {
      const x = tf.tensor2d(xData, [M, K]);
      const rows = tf.tensor2d(wData, [N, K]);
      const w = layout === 'transposeB' ? rows : tf.transpose(rows);
      if (w !== rows) rows.dispose();
      const transposeB = layout === 'transposeB';
      return {
        run(reps) {
          for (let i = 0; i < reps; i++) tf.matMul(x, w, false, transposeB).dispose();
        },
        wait: drain,
        dispose() {
          x.dispose();
          w.dispose();
        },
      };
    },
  };
}
