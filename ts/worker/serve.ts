/**
 * The worker side of a {@link Trainer}: answers `init`, `fit` and `predict` requests on a port (a module
 * Web Worker's global scope, or Node's `parentPort`), running the same `SequenceModel.fit` as the main
 * thread. Results (the model bundle, predictions) are transferred, not copied. Browser-safe.
 */
import { type Backend, init } from '../backend';
import { ValueError } from '../errors';
import { modelFromArrayBuffer } from '../model/persistence';
import { SequenceModel } from '../model/sequence-model';
import type { Callbacks } from '../model/types';
import { type ModelSpec, type Reply, type Request, type WorkerFitResult, toPlainError } from './protocol';

/** The two things the worker needs of its port. */
export interface WorkerPort {
  post(message: Reply, transfer?: ArrayBuffer[]): void;
  listen(handler: (message: Request) => void): void;
}

/** A running `fit`: its abort switch, and the pending `onEpochEnd` verdict. */
interface Job {
  abort: AbortController;
  verdict: ((stop: boolean) => void) | null;
}

/**
 * Serves requests on `port` until the worker is terminated.
 * @throws never: every failure is answered as an `error` message.
 */
export function serve(port: WorkerPort): void {
  let backend: Backend | null = null;
  const jobs = new Map<number, Job>();

  const build = (spec: ModelSpec): SequenceModel => {
    if (!backend) throw new ValueError('the worker has no backend: createTrainer() initialises it first');
    if ('bytes' in spec) return modelFromArrayBuffer(spec.bytes, { backend });
    return new SequenceModel(spec.config, { backend });
  };

  const handle = async (m: Request): Promise<void> => {
    switch (m.type) {
      case 'init': {
        backend = await init({ backend: m.backend, wasm: m.wasm as never, wasmFeatures: m.wasmFeatures });
        port.post({ id: m.id, type: 'result', value: { name: backend.name, kernels: backend.kernels } });
        return;
      }
      case 'fit': {
        const job: Job = { abort: new AbortController(), verdict: null };
        if (m.aborted) job.abort.abort();
        jobs.set(m.id, job);
        const model = build(m.model);
        try {
          const callbacks: Callbacks = {};
          if (m.listen.batch) callbacks.onBatchEnd = (logs) => port.post({ id: m.id, type: 'batch', logs });
          if (m.listen.epochBegin) callbacks.onEpochBegin = (epoch) => port.post({ id: m.id, type: 'epochBegin', epoch });
          if (m.listen.epoch) {
            callbacks.onEpochEnd = (logs) =>
              new Promise<'stop' | undefined>((resolve) => {
                job.verdict = (stop) => resolve(stop ? 'stop' : undefined);
                port.post({ id: m.id, type: 'epoch', logs });
              });
          }
          const history = await model.fit(m.x, m.y, { ...m.options, callbacks, signal: job.abort.signal });
          const value: WorkerFitResult = { history, model: model.toArrayBuffer() };
          port.post({ id: m.id, type: 'result', value }, [value.model]);
        } finally {
          model.dispose();
          jobs.delete(m.id);
        }
        return;
      }
      case 'predict': {
        const model = build(m.model);
        try {
          const out = model.predict(m.x, m.batchSize === undefined ? {} : { batchSize: m.batchSize });
          port.post({ id: m.id, type: 'result', value: { data: out.data, shape: out.shape } }, [out.data.buffer as ArrayBuffer]);
        } finally {
          model.dispose();
        }
        return;
      }
      case 'abort':
        jobs.get(m.id)?.abort.abort();
        return;
      case 'verdict': {
        const job = jobs.get(m.id);
        const answer = job?.verdict;
        if (job) job.verdict = null;
        answer?.(m.stop);
        return;
      }
    }
  };

  port.listen((m) => {
    handle(m).catch((e: unknown) => port.post({ id: m.id, type: 'error', error: toPlainError(e) }));
  });
}
