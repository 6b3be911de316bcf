// Module worker behind web/src/trainer.ts: loads cellstate's wasm, runs `fit` on a fresh model and posts every
// batch's and epoch's logs; a 'stop' message aborts between batches (fit yields to the event loop every 50 ms,
// so the message is seen). The trained model goes back as its safetensors bundle (transferred, not copied).
import { type BatchLogs, type EpochLogs, type History, SequenceModel, type SequenceModelConfig, init } from 'cellstate';
import type { TrainData } from './trainer';

export interface TrainRequest {
  type: 'fit';
  wasmUrl: string;
  config: SequenceModelConfig;
  x: TrainData;
  y: Float32Array;
  epochs: number;
  batchSize: number;
  optimizer: { type: 'adam'; lr: number };
  clipNorm?: number;
  validationData?: [TrainData, Float32Array];
}

export type TrainerMessage =
  | { type: 'batch'; logs: BatchLogs }
  | { type: 'epoch'; logs: EpochLogs }
  | { type: 'done'; history: History; model: ArrayBuffer }
  | { type: 'error'; message: string };

let controller: AbortController | null = null;
const post = (m: TrainerMessage, transfer: Transferable[] = []) => postMessage(m, { transfer });

onmessage = async (e: MessageEvent<TrainRequest | { type: 'stop' }>) => {
  const r = e.data;
  if (r.type === 'stop') {
    controller?.abort();
    return;
  }
  controller = new AbortController();
  try {
    await init({ backend: 'wasm', wasm: r.wasmUrl });
    const model = new SequenceModel(r.config);
    try {
      const history = await model.fit(r.x, r.y, {
        epochs: r.epochs,
        batchSize: r.batchSize,
        optimizer: r.optimizer,
        clipNorm: r.clipNorm,
        validationData: r.validationData,
        signal: controller.signal,
        callbacks: {
          onBatchEnd: (logs) => post({ type: 'batch', logs }),
          onEpochEnd: (logs) => post({ type: 'epoch', logs }),
        },
      });
      const bytes = model.toArrayBuffer();
      post({ type: 'done', history, model: bytes }, [bytes]);
    } finally {
      model.dispose();
    }
  } catch (err) {
    post({ type: 'error', message: (err as Error).message });
  } finally {
    controller = null;
  }
};
