/**
 * The message protocol between a {@link WorkerPool} and its workers, the same for Node's worker_threads and
 * browsers' Web Workers. Every request carries an `id`; the worker answers each with one {@link Reply} of
 * the same `id`, in order. Tensors cross as structured clones (copies): no shared memory is needed.
 */
import type { InitOptions, WasmModule } from '../backend';
import type { SequenceModelConfig } from '../model';
import type { TensorLike } from '../tensor';
import type { PlainError } from '../worker/protocol';

/** One shard of a batch: rows `[from, to)` of the caller's input, as contiguous copies. */
export interface Shard {
  data: Int32Array | Float32Array;
  shape: number[];
  lengths?: Uint32Array;
  /** Targets of these rows (train only). */
  targets?: Float32Array;
}

/** Weights by parameter name with the version they belong to; a worker keeps the last version it loaded. */
export interface Weights {
  version: number;
  params: Record<string, TensorLike>;
}

export type Request =
  /** Loads the worker's wasm backend (once) from the module the pool compiled. */
  | { id: number; type: 'init'; backend: Pick<InitOptions, 'wasmFeatures'> & { wasm: WasmModule } }
  /** Builds the worker's model from a config (replacing any previous one); weights come with the next request. */
  | { id: number; type: 'load'; config: SequenceModelConfig }
  | { id: number; type: 'gradients'; weights?: Weights; shard: Shard }
  | { id: number; type: 'predict'; weights?: Weights; shard: Shard; batchSize: number }
  | { id: number; type: 'close' };

export type Reply =
  | { id: number; ok: true; type: 'init'; kernels: string; wasmBuild: string | null }
  | { id: number; ok: true; type: 'load' }
  | {
      id: number;
      ok: true;
      type: 'gradients';
      loss: number;
      correct: number;
      count: number;
      terms: number;
      /** Flat, in the model's `parameterNames` order. */
      grads: Float32Array;
    }
  | { id: number; ok: true; type: 'predict'; output: TensorLike }
  | { id: number; ok: true; type: 'close' }
  /** A failure, as `toPlainError` writes it (rebuilt as the same CellstateError class on the pool's side). */
  | { id: number; ok: false; error: PlainError };
