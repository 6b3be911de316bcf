// The demo's one door to training off the main thread: cellstate's `createTrainer`. One worker runs the whole
// `fit` there; "all cores" trains data-parallel over that many wasm workers (fit's loop on this page, each batch's
// gradients in the workers). A trainer is started per worker count on first use and kept for the next run.
import { type BatchLogs, type EpochLogs, type History, type SequenceModelConfig, type Trainer, createTrainer } from 'cellstate';

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
  /** 1, or the number of data-parallel workers. */
  workers: number;
}

export interface PageTrainer {
  /** Trains a fresh model; resolves with its history and the trained model as a safetensors bundle. */
  fit(
    config: SequenceModelConfig,
    x: TrainData,
    y: Float32Array,
    options: PageFitOptions,
  ): Promise<{ history: History; model: ArrayBuffer }>;
  terminate(): void;
}

/** Workers the "all cores" choice uses: every logical core the browser reports (at least 1). */
export function allCores(): number {
  return Math.max(1, navigator.hardwareConcurrency || 1);
}

/**
 * A trainer for the page. `wasmUrl` is cellstate's .wasm as an absolute URL: the workers' scripts are bundled
 * away from it, so each is told where it is.
 */
export function createPageTrainer(wasmUrl: string): PageTrainer {
  const started = new Map<number, Promise<Trainer>>();
  let busy = false;
  const get = (workers: number): Promise<Trainer> => {
    let t = started.get(workers);
    if (!t) {
      t = createTrainer({ workers, wasm: wasmUrl });
      // A trainer that failed to start is not kept: the next run tries again.
      t.catch(() => started.delete(workers));
      started.set(workers, t);
    }
    return t;
  };
  return {
    async fit(config, x, y, { workers, ...options }) {
      if (busy) throw new Error('this trainer is already training');
      busy = true;
      try {
        return await (await get(workers)).fit(config, x, y, options);
      } finally {
        busy = false;
      }
    },
    terminate() {
      for (const t of started.values())
        void t.then(
          (trainer) => trainer.terminate(),
          () => undefined,
        );
      started.clear();
    },
  };
}
