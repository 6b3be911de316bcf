// The demo's one door to training off the main thread. Today it drives web/src/train-worker.ts, a module
// worker of this page; when cellstate's own `createTrainer({ workers })` lands, `createPageTrainer` becomes a
// thin call to it (same `fit(config, x, y, options)` → `{ history, model }` shape), and nothing else changes.
import type { BatchLogs, EpochLogs, History, SequenceModelConfig } from 'cellstate';
import type { TrainRequest, TrainerMessage } from './train-worker';

export interface TrainData {
  data: Int32Array;
  shape: [number, number];
}

export interface PageFitOptions {
  epochs: number;
  batchSize: number;
  optimizer: { type: 'adam'; lr: number };
  clipNorm?: number;
  validationData?: [TrainData, Float32Array];
  onBatchEnd?: (logs: BatchLogs) => void;
  onEpochEnd?: (logs: EpochLogs) => void;
  signal?: AbortSignal;
}

export interface PageTrainer {
  /** Trains a fresh model in the worker; resolves with its history and the trained model as a safetensors bundle. */
  fit(
    config: SequenceModelConfig,
    x: TrainData,
    y: Float32Array,
    options: PageFitOptions,
  ): Promise<{ history: History; model: ArrayBuffer }>;
  terminate(): void;
}

/** A one-worker trainer. `wasmUrl` is cellstate's .wasm, resolved by the page (the worker's own URL differs). */
export function createPageTrainer(wasmUrl: string): PageTrainer {
  const worker = new Worker(new URL('./train-worker.ts', import.meta.url), { type: 'module', name: 'cellstate-train' });
  let busy = false;
  return {
    fit(config, x, y, options) {
      if (busy) return Promise.reject(new Error('this trainer is already training'));
      busy = true;
      return new Promise((resolve, reject) => {
        const onAbort = () => worker.postMessage({ type: 'stop' });
        options.signal?.addEventListener('abort', onAbort, { once: true });
        const finish = () => {
          busy = false;
          worker.onmessage = null;
          options.signal?.removeEventListener('abort', onAbort);
        };
        worker.onmessage = (e: MessageEvent<TrainerMessage>) => {
          const m = e.data;
          if (m.type === 'batch') options.onBatchEnd?.(m.logs);
          else if (m.type === 'epoch') options.onEpochEnd?.(m.logs);
          else if (m.type === 'done') {
            finish();
            resolve({ history: m.history, model: m.model });
          } else {
            finish();
            reject(new Error(m.message));
          }
        };
        worker.onerror = (e) => {
          finish();
          reject(new Error(`training worker failed: ${e.message}`));
        };
        const request: TrainRequest = {
          type: 'fit',
          wasmUrl,
          config,
          x,
          y,
          epochs: options.epochs,
          batchSize: options.batchSize,
          optimizer: options.optimizer,
          clipNorm: options.clipNorm,
          validationData: options.validationData,
        };
        worker.postMessage(request);
        if (options.signal?.aborted) onAbort();
      });
    },
    terminate: () => worker.terminate(),
  };
}
