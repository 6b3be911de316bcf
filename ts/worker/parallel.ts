/**
 * The trainer's data-parallel side, `createTrainer({ workers: N > 1 })`. The caller's thread coordinates: it holds
 * the main model on its own wasm backend and runs `SequenceModel.fit`'s loop (the one copy of it, through
 * `fitWithStep`), and each training batch is one {@link ParallelModel} step over a {@link WorkerPool} of N wasm
 * workers (shard gradients there, their weighted sum and the optimiser step here). Validation, schedules, early
 * stopping, callbacks and abort are `fit`'s own. Why here and not in a coordinating worker: the coordinator's
 * share of a step is O(parameters) (a sum and an Adam step, well under a millisecond for the demo's model), it
 * needs no worker started from a worker (which bundlers cannot follow), and the callbacks run where they are
 * defined, with no verdict round trip. Browser-safe.
 */
import { type Backend, compileWasm, loadBackend } from '../backend';
import { ShapeError, StateError, ValueError } from '../errors';
import { modelFromArrayBuffer } from '../model/persistence';
import { SequenceModel, fitWithStep } from '../model/sequence-model';
import type { FitOptions, SequenceBatchInput, SequenceInput, Targets } from '../model/types';
import { type ParallelOptions, type WorkerPool, startWorkerPool } from '../parallel/pool';
import type { Tensor } from '../tensor';
import type { ModelSpec, WorkerFitResult } from './protocol';

/** A started data-parallel trainer: the calling thread's backend and the pool; calls run one at a time. */
export class ParallelTrainer {
  readonly backend: Backend;
  readonly pool: WorkerPool;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(backend: Backend, pool: WorkerPool) {
    this.backend = backend;
    this.pool = pool;
  }

  /** Runs `job` after the calls before it (the pool runs one model at a time). */
  #serial<T>(job: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(job, job);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** `job` over a main model built from `spec` and bound to the pool; both are released after it. */
  #withModel<T>(spec: ModelSpec, job: (model: SequenceModel, step: ParallelStep) => Promise<T>): Promise<T> {
    return this.#serial(async () => {
      const model =
        'bytes' in spec
          ? modelFromArrayBuffer(spec.bytes, { backend: this.backend })
          : new SequenceModel(spec.config, { backend: this.backend });
      try {
        const parallel = await this.pool.bind(model);
        try {
          return await job(model, parallel);
        } finally {
          await parallel.dispose();
        }
      } finally {
        model.dispose();
      }
    });
  }

  /**
   * `fit` with its batches trained over the workers.
   * @throws as `SequenceModel.fit`; {StateError} when the trainer is terminated meanwhile.
   */
  fit(spec: ModelSpec, x: SequenceInput, y: Targets, options: FitOptions): Promise<WorkerFitResult> {
    return this.#withModel(spec, async (model, parallel) => {
      const history = await fitWithStep(model, x, y, options, (b, t) => parallel.trainBlock(b, t));
      return { history, model: model.toArrayBuffer() };
    });
  }

  /**
   * `predict` with the rows split over the workers.
   * @throws {ShapeError} / {ValueError} on bad input.
   */
  predict(spec: ModelSpec, x: SequenceInput, batchSize?: number): Promise<Tensor> {
    const input = batchInput(x);
    return this.#withModel(spec, (_, parallel) => parallel.predict(input, batchSize === undefined ? {} : { batchSize }));
  }

  /** Stops the workers now; running calls reject with `reason`. */
  terminate(reason: Error): void {
    this.pool.terminate(reason);
  }
}

type ParallelStep = Awaited<ReturnType<WorkerPool['bind']>>;

/**
 * Token sequences as one `{ data, shape }` batch (the shape the workers take).
 * @throws {ShapeError} on rows of different lengths; {ValueError} on a token that is not an integer.
 */
function batchInput(x: SequenceInput): SequenceBatchInput {
  if (typeof x === 'object' && x !== null && 'data' in x && 'shape' in x) return x;
  const rows = x as ArrayLike<ArrayLike<number>>;
  const t = rows.length ? rows[0].length : 0;
  const data = new Int32Array(rows.length * t);
  for (let i = 0; i < rows.length; i++) {
    if (rows[i].length !== t)
      throw new ShapeError(`x: sequences have mixed lengths (${t} and ${rows[i].length}); pad them first with padSequences()`);
    for (let s = 0; s < t; s++) {
      const v = rows[i][s];
      if (!Number.isInteger(v)) throw new ValueError(`x: token ${String(v)} at sequence ${i}, step ${s} is not an integer id`);
      data[i * t + s] = v;
    }
  }
  return { data, shape: [rows.length, t] };
}

/**
 * Loads this thread's wasm backend and starts `workers` wasm workers with the same build.
 * @param options.wasm the `.wasm` as an absolute URL (browsers) or a path (Node), compiled once for this thread and the workers.
 * @throws {BackendError} when either cannot load; {StateError} when they chose different kernel sets.
 */
export async function startParallelTrainer(
  workers: number,
  options: Pick<ParallelOptions, 'wasmFeatures' | 'createWorker'> & { wasm?: string },
): Promise<ParallelTrainer> {
  // One compile of the module for this thread and the workers.
  const wasm = await compileWasm({ wasmFeatures: options.wasmFeatures, ...(options.wasm ? { wasm: options.wasm } : {}) });
  const backend = await loadBackend({ backend: 'wasm', wasmFeatures: options.wasmFeatures, wasm });
  const pool = await startWorkerPool({ workers, ...options, wasm });
  if (pool.kernels !== backend.kernels) {
    await pool.close();
    throw new StateError(
      `the workers run kernel set ${pool.kernels} and this thread ${backend.kernels}: pass the same wasmFeatures to both`,
    );
  }
  return new ParallelTrainer(backend, pool);
}
