/**
 * Training off the main thread: a {@link Trainer} owns a worker (a module Web Worker in browsers,
 * worker_threads in Node) that runs `SequenceModel.fit` and `predict` there, streaming the callbacks
 * back. Browser-safe; each entry supplies how its default worker is started (./browser.ts, ./node.ts).
 */
import { BackendError, DisposedError, StateError, ValueError } from '../errors';
import { type AbortSignalLike, type DisposableWhereKnown, type URLInstance, addSymbolDispose } from '../globals';
import { SequenceModel } from '../model/sequence-model';
import type { Callbacks, FitOptions, SequenceInput, SequenceModelConfig, Targets } from '../model/types';
import type { WorkerFactory } from '../parallel/pool';
import { Tensor } from '../tensor';
import { type ParallelTrainer, startParallelTrainer } from './parallel';
import {
  type ModelSpec,
  type PlainFitOptions,
  type Reply,
  type Request,
  type WorkerBackendInfo,
  type WorkerFitResult,
  buffersOf,
  fromPlainError,
} from './protocol';

/** A Web Worker, or anything with its three methods (e.g. a bundler's `?worker` import). */
export interface WebWorkerLike {
  postMessage(message: unknown, transfer: ArrayBuffer[]): void;
  addEventListener(type: 'message' | 'error' | 'messageerror', listener: (event: { data?: unknown; message?: string }) => void): void;
  terminate(): void;
}

/** A Node `worker_threads` Worker, or anything with these methods. */
export interface NodeWorkerLike {
  postMessage(message: unknown, transfer: ArrayBuffer[]): void;
  on(event: 'message' | 'error' | 'messageerror' | 'exit', listener: (value: unknown) => void): unknown;
  terminate(): unknown;
  ref?(): void;
  unref?(): void;
}

/** A worker running cellstate's worker script (`cellstate/worker` in browsers). */
export type WorkerLike = WebWorkerLike | NodeWorkerLike;

/** `WebAssembly.Module` where the compiler knows it, as in `InitOptions.wasm`. */
type WasmModule = typeof globalThis extends { WebAssembly: { Module: abstract new (...args: never[]) => infer M } } ? M : never;

/** Options of {@link createTrainer}. */
export interface TrainerOptions {
  /**
   * Workers to train with (default 1). 1: `fit` runs whole in one worker. N > 1: data-parallel over N wasm
   * workers (the parallel engine, ts/parallel): this thread runs `fit`'s loop on a wasm model and each batch's
   * gradients are computed in shards over the workers; the losses agree with 1 worker within float rounding.
   */
  workers?: number;
  /**
   * The worker's backend, as `init({ backend })` (default 'auto': native in Node when the addon loads, else wasm).
   * With `workers > 1` the workers and this thread run wasm: 'auto' or 'wasm' only.
   */
  backend?: 'auto' | 'wasm' | 'native';
  /**
   * Where the worker loads the `.wasm` from: a URL (resolved against the page), a path in Node, the bytes
   * or a compiled `WebAssembly.Module`. Default: the file beside the worker script. With `workers > 1`, a URL
   * or path only (this thread and every worker load it).
   */
  wasm?: string | URLInstance | ArrayBuffer | ArrayBufferView | WasmModule;
  /** Which wasm build the worker loads, as `init({ wasmFeatures })` (default 'auto': relaxed SIMD where the engine has it). */
  wasmFeatures?: 'auto' | 'simd128' | 'relaxed_simd';
  /**
   * The worker to use instead of the default one, or a function that makes it: e.g. with Vite,
   * `import TrainerWorker from 'cellstate/worker?worker'` and `worker: () => new TrainerWorker()`.
   */
  worker?: WorkerLike | (() => WorkerLike);
  /**
   * With `workers > 1`: makes the data-parallel workers instead of the default (worker_threads running
   * `dist/parallel-worker.js` in Node, module workers running `parallel-worker.browser.js` beside the bundle),
   * e.g. `webWorkerFactory(url)` where a bundler emitted that script elsewhere.
   */
  createWorker?: WorkerFactory;
}

/** Options of {@link Trainer.fit}: those of `SequenceModel.fit`, with the callbacks also accepted at the top level. */
export interface TrainerFitOptions extends Omit<FitOptions, 'signal'>, Callbacks {
  /** Aborting stops training between batches; the promise resolves with `stopReason: 'aborted'` and the model as trained so far. */
  signal?: AbortSignalLike;
  /**
   * Move the input arrays' buffers to the worker instead of copying them once (default false). Faster
   * for large data, but the caller's typed arrays are detached (length 0) afterwards.
   */
  transfer?: boolean;
}

/** A model to train or run in the worker: its config (a fresh model), a model (its current state is copied), or a saved bundle. */
export type TrainerModel = SequenceModelConfig | SequenceModel | ArrayBuffer | Uint8Array;

/** The trainer's side of a worker. */
export interface Channel {
  post(message: Request, transfer: ArrayBuffer[]): void;
  /** Called with every reply, and with an error when the worker itself fails (it is then unusable). */
  listen(onReply: (reply: Reply) => void, onFailure: (error: Error) => void): void;
  terminate(): void;
  /** Whether the worker should keep a Node process alive (it should while a call is pending). */
  hold?(busy: boolean): void;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: unknown): void;
  onReply?(reply: Reply): void;
}

/** A request before its id is assigned. */
type RequestBody = Request extends infer R ? (R extends Request ? Omit<R, 'id'> : never) : never;

/** A started worker: its channel, the calls waiting for it, and why it failed if it did. */
interface Link {
  channel: Channel;
  pending: Map<number, Pending>;
  nextId: number;
  broken: Error | null;
}

/**
 * Wraps either kind of worker as a {@link Channel}.
 * @throws {ValueError} when `w` has neither `addEventListener` nor `on`.
 */
export function channelOf(w: WorkerLike): Channel {
  if (typeof (w as NodeWorkerLike).on === 'function') {
    const n = w as NodeWorkerLike;
    return {
      post: (m, t) => n.postMessage(m, t),
      listen(onReply, onFailure) {
        n.on('message', (m) => onReply(m as Reply));
        n.on('error', (e) => onFailure(e as Error));
        n.on('messageerror', (e) => onFailure(e as Error));
        n.on('exit', (code) => onFailure(new Error(`the worker exited (code ${String(code)})`)));
      },
      terminate: () => void n.terminate(),
      hold: (busy) => (busy ? n.ref?.() : n.unref?.()),
    };
  }
  if (typeof (w as WebWorkerLike).addEventListener === 'function') {
    const b = w as WebWorkerLike;
    return {
      post: (m, t) => b.postMessage(m, t),
      listen(onReply, onFailure) {
        b.addEventListener('message', (e) => onReply(e.data as Reply));
        // A module worker that fails to load or throws at top level fires 'error' without the details.
        b.addEventListener('error', (e) => onFailure(new Error(e.message || 'the worker script failed to load or threw')));
        b.addEventListener('messageerror', () => onFailure(new Error('a message from the worker could not be deserialised')));
      },
      terminate: () => b.terminate(),
    };
  }
  throw new ValueError('worker must be a Web Worker or a worker_threads Worker (with addEventListener or on)');
}

/** A trainer owning one worker, or a pool of data-parallel workers. Build it with `createTrainer()`. */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging -- its [Symbol.dispose] type (below)
export class Trainer {
  /** Number of workers. */
  readonly workers: number;
  /** The workers' backend, as `init()` chose it there. */
  readonly backend: WorkerBackendInfo;
  #link: Link | null;
  #parallel: ParallelTrainer | null;
  #terminated = false;

  /** @internal Use `createTrainer()`. */
  constructor(engine: Link | ParallelTrainer, backend: WorkerBackendInfo) {
    const parallel = 'pool' in engine ? engine : null;
    this.#link = parallel ? null : (engine as Link);
    this.#parallel = parallel;
    this.backend = backend;
    this.workers = parallel ? parallel.pool.workers : 1;
  }

  /** Posts a request; `onReply` sees its progress messages. Returns the id and the result. */
  #request(message: RequestBody, transfer: ArrayBuffer[], onReply?: (reply: Reply) => void): { id: number; result: Promise<unknown> } {
    const link = this.#link;
    if (!link) return { id: 0, result: Promise.reject(new DisposedError('Trainer')) };
    if (link.broken) return { id: 0, result: Promise.reject(new BackendError(`the trainer's worker failed: ${link.broken.message}`)) };
    const id = link.nextId++;
    const result = new Promise((resolve, reject) => {
      link.pending.set(id, { resolve, reject, onReply });
      link.channel.hold?.(true);
      try {
        link.channel.post({ ...message, id } as Request, transfer);
      } catch (e) {
        link.pending.delete(id);
        if (link.pending.size === 0) link.channel.hold?.(false);
        reject(
          new ValueError(`cannot send this call to the worker (inputs and options must be plain data): ${(e as Error).message}`, {
            cause: e,
          }),
        );
      }
    });
    return { id, result };
  }

  /** Posts a message that has no answer, if the call `id` is still running. */
  #tell(id: number, message: Request): void {
    const link = this.#link;
    if (link && !link.broken && link.pending.has(id)) link.channel.post(message, []);
  }

  /**
   * Trains in the worker as `SequenceModel.fit` does on the main thread, with the same options, schedules,
   * early stopping and results (bitwise the same losses on the same backend). Callbacks run here, in order,
   * from messages: `onBatchEnd` and `onEpochBegin` do not hold the worker back; `onEpochEnd` is awaited (its
   * `'stop'` ends training). The model is not changed here: the trained one comes back as bytes.
   * @returns the history and the trained model as a safetensors bundle (`loadModel(result.model)`).
   * @throws {ShapeError} / {ValueError} on bad data or options (raised in the worker, the same classes).
   * @throws {DisposedError} after `terminate()`; {StateError} when terminated while training.
   */
  async fit(model: TrainerModel, x: SequenceInput, y: Targets, options: TrainerFitOptions = {}): Promise<WorkerFitResult> {
    const { signal, transfer, callbacks, onBatchEnd, onEpochBegin, onEpochEnd, ...plain } = options;
    const cb: Callbacks = { ...callbacks };
    for (const [name, fn] of Object.entries({ onBatchEnd, onEpochBegin, onEpochEnd })) {
      if (fn === undefined) continue;
      if (cb[name as keyof Callbacks]) throw new ValueError(`${name} is given both at the top level and in callbacks`);
      (cb as Record<string, unknown>)[name] = fn;
    }
    const spec = specOf(model);
    if (this.#terminated) throw new DisposedError('Trainer');
    if (this.#parallel) return this.#parallel.fit(spec, x, y, { ...plain, callbacks: cb, signal });
    // The callbacks run one after another, as on the main thread; the first error stops training and rejects.
    let queue: Promise<unknown> = Promise.resolve();
    let failure: { error: unknown } | null = null;
    let id = 0;
    const abort = (): void => this.#tell(id, { id, type: 'abort' });
    const run = (fn: () => unknown, after?: (value: unknown) => void): void => {
      queue = queue.then(async () => {
        let value: unknown;
        if (!failure) {
          try {
            value = await fn();
          } catch (e) {
            failure = { error: e };
            abort();
          }
        }
        after?.(failure ? 'stop' : value);
      });
    };
    const onReply = (r: Reply): void => {
      if (r.type === 'batch') run(() => cb.onBatchEnd?.(r.logs));
      else if (r.type === 'epochBegin') run(() => cb.onEpochBegin?.(r.epoch));
      else if (r.type === 'epoch') {
        run(
          () => cb.onEpochEnd?.(r.logs),
          (verdict) => this.#tell(id, { id, type: 'verdict', stop: verdict === 'stop' }),
        );
      }
    };
    const listener = (): void => abort();
    signal?.addEventListener('abort', listener, { once: true });
    const data = { x, y, validationData: plain.validationData };
    const sent = this.#request(
      {
        type: 'fit',
        model: spec,
        x,
        y,
        options: plain as PlainFitOptions,
        listen: { batch: !!cb.onBatchEnd, epochBegin: !!cb.onEpochBegin, epoch: !!cb.onEpochEnd },
        aborted: signal?.aborted ?? false,
      },
      transfer ? buffersOf(data.x, data.y, ...(data.validationData ?? [])) : [],
      onReply,
    );
    // A signal that fired before the request was posted is in `aborted`.
    id = sent.id;
    try {
      const result = (await sent.result) as WorkerFitResult;
      await queue;
      if (failure) throw (failure as { error: unknown }).error;
      return result;
    } finally {
      signal?.removeEventListener('abort', listener);
    }
  }

  /**
   * Runs `predict` in the worker, for large batches: the model is loaded there, used and freed.
   * @throws {ShapeError} / {ValueError} on bad input; {DisposedError} after `terminate()`.
   */
  async predict(model: SequenceModel | ArrayBuffer | Uint8Array, x: SequenceInput, options: { batchSize?: number } = {}): Promise<Tensor> {
    if (!(model instanceof SequenceModel || model instanceof ArrayBuffer || model instanceof Uint8Array)) {
      throw new ValueError('predict in a worker takes a SequenceModel or its saved bytes (toArrayBuffer())');
    }
    if (this.#terminated) throw new DisposedError('Trainer');
    if (this.#parallel) return this.#parallel.predict(specOf(model), x, options.batchSize);
    const out = (await this.#request({ type: 'predict', model: specOf(model), x, batchSize: options.batchSize }, []).result) as {
      data: Float32Array;
      shape: number[];
    };
    return new Tensor(out.data, out.shape);
  }

  /**
   * Stops the worker now; calls still running reject with {@link StateError}, later ones with {@link DisposedError}.
   * @throws never.
   */
  terminate(): void {
    if (this.#terminated) return;
    this.#terminated = true;
    const reason = new StateError('the trainer was terminated before this call finished');
    this.#parallel?.terminate(reason);
    const link = this.#link;
    if (!link) return;
    this.#link = null;
    link.channel.terminate();
    rejectAll(link.pending, reason);
  }

  /** The same as {@link terminate}. */
  dispose(): void {
    this.terminate();
  }
}

addSymbolDispose(Trainer);
// eslint-disable-next-line @typescript-eslint/no-empty-object-type, @typescript-eslint/no-unsafe-declaration-merging
export interface Trainer extends DisposableWhereKnown {}

function rejectAll(pending: Map<number, Pending>, error: Error): void {
  const all = [...pending.values()];
  pending.clear();
  for (const p of all) p.reject(error);
}

/** @throws {ValueError} on something that is not a config, a model or bytes. */
function specOf(model: TrainerModel): ModelSpec {
  if (model instanceof SequenceModel) return { bytes: model.toArrayBuffer() };
  if (model instanceof ArrayBuffer || model instanceof Uint8Array) return { bytes: model };
  if (typeof model === 'object' && model !== null && 'lstm' in model) return { config: model };
  throw new ValueError('the model must be a SequenceModelConfig, a SequenceModel or its saved bytes');
}

/** A wasm source the worker can receive: a URL as an absolute string (URL objects do not cross). */
function wasmForWorker(wasm: TrainerOptions['wasm']): unknown {
  if (wasm === undefined) return undefined;
  if (typeof wasm === 'string' || wasm instanceof URL) {
    const base = (globalThis as { location?: { href: string } }).location?.href;
    if (typeof wasm === 'string' && !base) return wasm; // a Node path or URL string, as the worker reads it
    return new URL(String(wasm), base).href;
  }
  return wasm;
}

/**
 * Starts a data-parallel trainer over `workers` wasm workers.
 * @throws {ValueError} on options that do not apply to it; {BackendError} when the workers cannot load wasm.
 */
async function startDataParallel(workers: number, options: TrainerOptions): Promise<Trainer> {
  if (options.backend === 'native') {
    throw new ValueError("workers > 1 trains over wasm workers: backend 'native' takes workers: 1 (the addon has its own threads)");
  }
  if (options.worker !== undefined) throw new ValueError('worker is the one worker of workers: 1; with workers > 1 pass createWorker');
  const wasm = wasmForWorker(options.wasm);
  if (wasm !== undefined && typeof wasm !== 'string') throw new ValueError('with workers > 1, wasm must be a URL or a path');
  const parallel = await startParallelTrainer(workers, { wasmFeatures: options.wasmFeatures, createWorker: options.createWorker, wasm });
  return new Trainer(parallel, { name: 'wasm', kernels: parallel.backend.kernels });
}

/**
 * Starts a trainer on the worker `spawn` makes, once its backend has loaded. @internal
 * @throws {ValueError} on bad options; {BackendError} when the worker cannot start or load a backend.
 */
export async function startTrainer(options: TrainerOptions, spawn: () => WorkerLike): Promise<Trainer> {
  const workers = options.workers ?? 1;
  if (!Number.isInteger(workers) || workers < 1) throw new ValueError(`workers must be a positive integer, got ${String(workers)}`);
  const backend = options.backend ?? 'auto';
  if (backend !== 'auto' && backend !== 'wasm' && backend !== 'native') {
    throw new ValueError(`backend must be 'auto', 'wasm' or 'native', got ${JSON.stringify(backend)}`);
  }
  if (workers > 1) return startDataParallel(workers, options);
  const given = options.worker;
  const channel = channelOf(given === undefined ? spawn() : typeof given === 'function' ? given() : given);
  const link: Link = { channel, pending: new Map(), nextId: 1, broken: null };
  const { pending } = link;
  const release = (): void => {
    if (pending.size === 0) channel.hold?.(false);
  };
  channel.listen(
    (r) => {
      const p = pending.get(r.id);
      if (!p) return;
      if (r.type === 'result' || r.type === 'error') {
        pending.delete(r.id);
        release();
        if (r.type === 'result') p.resolve(r.value);
        else p.reject(fromPlainError(r.error));
      } else p.onReply?.(r);
    },
    (e) => {
      if (link.broken) return;
      link.broken = e;
      rejectAll(pending, new BackendError(`the trainer's worker failed: ${e.message}`, { cause: e }));
    },
  );
  const info = await new Promise<WorkerBackendInfo>((resolve, reject) => {
    pending.set(0, { resolve: resolve as (v: unknown) => void, reject });
    channel.hold?.(true);
    channel.post({ id: 0, type: 'init', backend, wasm: wasmForWorker(options.wasm), wasmFeatures: options.wasmFeatures }, []);
  }).catch((e: unknown) => {
    channel.terminate();
    throw e instanceof BackendError
      ? e
      : new BackendError(`the trainer's worker could not load a backend: ${(e as Error).message}`, { cause: e });
  });
  return new Trainer(link, info);
}
