/**
 * The messages between a {@link Trainer} (the page or the Node main thread) and its worker, and how errors
 * cross: a typed {@link CellstateError} is sent as `{ name, code, message }` and rebuilt as the same class.
 * Every request carries an `id`; the worker answers each with exactly one `result` or `error`, and a
 * `fit` streams `batch` / `epochBegin` / `epoch` messages of its `id` before that.
 */
import { BackendError, CellstateError, DataError, DisposedError, ShapeError, StateError, ValueError } from '../errors';
import type { BatchLogs, EpochLogs, FitOptions, History, SequenceInput, SequenceModelConfig, Targets } from '../model/types';

/** The model a request starts from: a fresh one from its config, or a saved bundle (`toArrayBuffer()`). */
export type ModelSpec = { config: SequenceModelConfig } | { bytes: ArrayBuffer | Uint8Array };

/** `fit`'s options as they cross: plain data only (no callbacks, no signal). */
export type PlainFitOptions = Omit<FitOptions, 'callbacks' | 'signal'>;

/** What the worker's backend is, as `init()` reported it there. */
export interface WorkerBackendInfo {
  name: 'wasm' | 'native';
  kernels: string;
}

export type Request =
  | { id: number; type: 'init'; backend: 'auto' | 'wasm' | 'native'; wasm?: unknown; wasmFeatures?: 'auto' | 'simd128' | 'relaxed_simd' }
  | {
      id: number;
      type: 'fit';
      model: ModelSpec;
      x: SequenceInput;
      y: Targets;
      options: PlainFitOptions;
      /** Which callbacks the caller has: the worker sends only those messages, and waits for a verdict after each epoch only when `epoch` is set. */
      listen: { batch: boolean; epochBegin: boolean; epoch: boolean };
      /** The caller's signal was already aborted: train nothing, as `fit` does. */
      aborted: boolean;
    }
  | { id: number; type: 'predict'; model: ModelSpec; x: SequenceInput; batchSize?: number }
  /** Aborts the `fit` of this id between batches. */
  | { id: number; type: 'abort' }
  /** The caller's `onEpochEnd` answer for this id's last epoch. */
  | { id: number; type: 'verdict'; stop: boolean };

export type Reply =
  | { id: number; type: 'result'; value: unknown }
  | { id: number; type: 'error'; error: PlainError }
  | { id: number; type: 'batch'; logs: BatchLogs }
  | { id: number; type: 'epochBegin'; epoch: number }
  | { id: number; type: 'epoch'; logs: EpochLogs };

/** What `fit` in a worker resolves with. */
export interface WorkerFitResult {
  history: History;
  /** The trained model as one safetensors bundle (`toArrayBuffer()`): load it with `loadModel(bytes)`. */
  model: ArrayBuffer;
}

/** An error as it crosses. */
export interface PlainError {
  name: string;
  code?: string;
  message: string;
  stack?: string;
}

/**
 * @throws never.
 */
export function toPlainError(e: unknown): PlainError {
  if (e instanceof Error) {
    return { name: e.name, code: e instanceof CellstateError ? e.code : undefined, message: e.message, stack: e.stack };
  }
  return { name: 'Error', message: String(e) };
}

const errorClasses: Record<string, new (message: string, options?: { cause?: unknown }) => CellstateError> = {
  ShapeError,
  ValueError,
  StateError,
  BackendError,
  DataError,
};

/**
 * The error to throw on this side for one that came from the worker: the same {@link CellstateError}
 * subclass with the same code and message, its `cause` an Error carrying the worker's stack.
 * @throws never.
 */
export function fromPlainError(p: PlainError): Error {
  const cause = p.stack ? Object.assign(new Error(`in the worker: ${p.message}`), { stack: p.stack }) : undefined;
  let err: Error;
  if (errorClasses[p.name]) err = new errorClasses[p.name](p.message, { cause });
  else if (p.name === 'DisposedError') err = new DisposedError('');
  else if (p.code !== undefined) err = new CellstateError(p.code, p.message, { cause });
  else err = new Error(p.message, { cause });
  // DisposedError builds its message from its argument; the worker's text is the one to keep.
  if (err.message !== p.message) Object.defineProperty(err, 'message', { value: p.message, writable: true, configurable: true });
  if (!(err instanceof CellstateError)) err.name = p.name;
  return err;
}

/**
 * The ArrayBuffers under every typed array of a request's data, each once (for `postMessage`'s transfer list).
 * @throws never.
 */
export function buffersOf(...values: unknown[]): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  const visit = (v: unknown, depth: number): void => {
    if (depth > 3 || v === null || typeof v !== 'object') return;
    if (ArrayBuffer.isView(v)) {
      if (v.buffer instanceof ArrayBuffer) out.add(v.buffer);
      return;
    }
    if (v instanceof ArrayBuffer) {
      out.add(v);
      return;
    }
    for (const k of Array.isArray(v) ? [0, 1] : ['data', 'lengths']) visit((v as Record<string | number, unknown>)[k], depth + 1);
  };
  for (const v of values) visit(v, 0);
  return [...out];
}
