/**
 * A pool of workers, each with its own wasm instance and model, and {@link ParallelModel}: data-parallel training
 * and batched inference over them. Transport-neutral: a {@link WorkerFactory} makes the workers (worker_threads in
 * Node, Web Workers in browsers; the entries register their default), the protocol is `protocol.ts`.
 *
 * A training step shards the batch into contiguous row ranges (worker 0 the first rows), each worker computes
 * its shard's gradients with the current weights, and the main thread sums them in worker order, weighted by
 * each shard's loss terms (so the mean loss and its gradient are the whole batch's), in float64, then applies
 * the sum once with its own optimiser (clipping included) and sends the new weights with the next request.
 * Results depend only on the batch and the worker count, never on timing; 1 worker gives exactly
 * `trainBatch`'s step, N workers the same within float rounding of the shard sums. A batch too small to gain from
 * the round trip ({@link ParallelOptions.minShardFlops}) goes to fewer workers, or runs in this thread.
 */
import { type InitOptions, type WasmBuild, type WasmModule, compileWasm } from '../backend';
import { BackendError, StateError, ValueError } from '../errors';
import type { BatchStats, Block } from '../model/core';
import type { Evaluation, OptimizerSpec, SequenceBatchInput, SequenceModel, Targets } from '../model';
import { Tensor, type TensorLike } from '../tensor';
import { fromPlainError } from '../worker/protocol';
import type { Reply, Request, Shard, Weights } from './protocol';

/** One worker as the pool sees it: Node's `Worker` and the browser's `Worker` both fit through a small adapter. */
export interface WorkerPort {
  /** Posts a request; `transfer` lists buffers of it that the pool no longer uses (moved, not copied, when given). */
  postMessage(message: Request, transfer?: ArrayBuffer[]): void;
  /** Registers the handler of every reply (called once, before the first request). */
  onMessage(handler: (reply: Reply) => void): void;
  /** Registers the handler of a worker that failed (crashed, could not load its script). */
  onError(handler: (error: Error) => void): void;
  terminate(): unknown;
  /** Whether the worker should keep a Node process alive (while a request is pending); optional. */
  hold?(busy: boolean): void;
}

/** Makes worker `index` of a pool. */
export type WorkerFactory = (index: number) => WorkerPort;

let defaultFactory: WorkerFactory | null = null;

/** Installs the platform's default {@link WorkerFactory} (the Node and browser entries do). @internal */
export function registerWorkerFactory(factory: WorkerFactory): void {
  defaultFactory = factory;
}

/** Options of {@link createParallelModel}. */
export interface ParallelOptions {
  /** Number of workers, 1 or more (default 2). Each holds its own wasm instance and a copy of the weights. */
  workers?: number;
  /** Which wasm build the workers load, as {@link InitOptions.wasmFeatures} (default `'auto'`). */
  wasmFeatures?: InitOptions['wasmFeatures'];
  /**
   * URL or path of a `.wasm` to run instead of the shipped build, or the compiled `WebAssembly.Module`. It is read
   * and compiled once, in this thread (a relative URL resolves as `init({ wasm })` resolves it here), and the
   * module posted to every worker; the shipped build is compiled once per thread whatever the number of pools.
   */
  wasm?: string | WasmModule;
  /** Makes the workers; defaults to worker_threads in Node and module Web Workers in browsers. */
  createWorker?: WorkerFactory;
  /**
   * The least work a worker is given, in forward FLOPs of the LSTM ({@link lstmForwardFlops}), default
   * {@link MIN_SHARD_FLOPS}. A batch of B rows goes to `min(workers, B, ⌊work / minShardFlops⌋)` workers; under 2
   * it runs in this thread on the main model instead (or on one worker when the main model is not on the workers'
   * wasm build and kernel set), as the round trip would cost more than the split saves. The values do not depend
   * on the path: predictions are bitwise the same, a step equals the 1-worker step (with dropout, this thread
   * draws from the main model's stream and a worker from its own). `0`: every batch over every worker.
   */
  minShardFlops?: number;
}

/**
 * Default of {@link ParallelOptions.minShardFlops}: 6 MFLOP a worker. Measured (Node 20, relaxed SIMD, 2 workers
 * against the main thread, a 2-core x86 VM, the machine's other load de-prioritised so that both cores were ours,
 * medians of per-round ratios) over dense and one-hot batches of H = 16 to 128: splitting lost at
 * 5.2 MFLOP a worker and below (train 0.87x, infer 0.95x; 0.25-0.75x under 2 MFLOP) and gained from 6.5 MFLOP
 * (seed train, one-hot ids, 1.28x; infer 1.15-1.5x from 10 MFLOP). The work of ~0.5-1 ms of one thread's compute.
 */
export const MIN_SHARD_FLOPS = 6e6;

/**
 * Forward FLOPs of a model's LSTM stack on a batch of `batch` sequences of `steps` steps: over layers and
 * directions, 2·B·T·(F_in + H)·4H, with F_in the features (dense input), the embedding width, 0 for one-hot
 * input (a row gather, no product) and D·H above the first layer. The head and the gather are left out (small).
 * @throws never.
 */
export function lstmForwardFlops(config: SequenceModel['config'], batch: number, steps: number): number {
  const h = config.lstm.hiddenSize;
  const layers = config.lstm.numLayers ?? 1;
  const dirs = config.lstm.bidirectional ? 2 : 1;
  const input = config.input;
  const first = input === 'one-hot' ? 0 : 'features' in input ? input.features : input.embedding;
  let flops = 0;
  for (let l = 0; l < layers; l++) flops += dirs * 2 * batch * steps * ((l === 0 ? first : dirs * h) + h) * 4 * h;
  return flops;
}

/** A request without its id (the port numbers them); distributes over the union. */
type RequestBody = Request extends infer R ? (R extends Request ? Omit<R, 'id'> : never) : never;

class Port {
  #port: WorkerPort;
  #next = 0;
  #pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  #failed: Error | null = null;
  /** Weight version this worker holds (-1: none). */
  version = -1;

  constructor(port: WorkerPort) {
    this.#port = port;
    port.onMessage((reply) => {
      const p = this.#pending.get(reply.id);
      this.#pending.delete(reply.id);
      if (this.#pending.size === 0) port.hold?.(false);
      p?.resolve(reply);
    });
    port.onError((e) => this.fail(new BackendError(`a parallel worker failed: ${e.message}`, { cause: e })));
    port.hold?.(false);
  }

  request<T extends Extract<Reply, { ok: true }>['type']>(
    req: RequestBody,
    transfer: ArrayBuffer[] = [],
  ): Promise<Extract<Reply, { type: T }>> {
    if (this.#failed) return Promise.reject(this.#failed);
    const id = this.#next++;
    return new Promise<Reply>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#port.hold?.(true);
      this.#port.postMessage({ ...req, id } as Request, transfer);
    }).then((r) => {
      if (!r.ok) throw fromPlainError(r.error);
      return r as Extract<Reply, { type: T }>;
    });
  }

  /** Why this worker stopped (it crashed, or the pool was closed or terminated), or null. */
  get failure(): Error | null {
    return this.#failed;
  }

  /** Rejects every pending and later request with `error` (a crashed worker, or the pool closed under them). */
  fail(error: Error): void {
    this.#failed ??= error;
    for (const p of this.#pending.values()) p.reject(error);
    this.#pending.clear();
    this.#port.hold?.(false);
  }

  terminate(): unknown {
    return this.#port.terminate();
  }
}

/** `[from, to)` row ranges of `n` rows over `k` parts, the first `n % k` one row longer; empty parts dropped. */
export function shardRanges(n: number, k: number): [number, number][] {
  const out: [number, number][] = [];
  const base = Math.floor(n / k);
  const extra = n % k;
  let from = 0;
  for (let i = 0; i < k; i++) {
    const len = base + (i < extra ? 1 : 0);
    if (len > 0) out.push([from, from + len]);
    from += len;
  }
  return out;
}

function checkInput(x: SequenceBatchInput): { n: number; row: number } {
  if (!x || typeof x !== 'object' || !('data' in x) || !('shape' in x) || x.shape.length < 2) {
    throw new ValueError('the parallel model takes { data, shape: [B, T] or [B, T, F], lengths? } batches');
  }
  const n = x.shape[0];
  return { n, row: x.data.length / Math.max(n, 1) };
}

/** The buffers of a shard's copies, moved to the worker rather than copied again by `postMessage`. */
function shardBuffers(s: Shard): ArrayBuffer[] {
  return [s.data, s.lengths, s.targets].flatMap((a) => (a ? [a.buffer as ArrayBuffer] : []));
}

function shardOf(x: SequenceBatchInput, row: number, from: number, to: number, y?: Float32Array, yRow = 0): Shard {
  const shard: Shard = { data: x.data.slice(from * row, to * row), shape: [to - from, ...x.shape.slice(1)] };
  if (x.lengths) shard.lengths = Uint32Array.from(Array.prototype.slice.call(x.lengths, from, to) as number[]);
  if (y) shard.targets = y.slice(from * yRow, to * yRow);
  return shard;
}

/**
 * A model trained and run over a pool of workers; the main-thread {@link ParallelModel.model} (the caller's) holds the
 * weights and the optimiser. Change its weights only through this object, or call {@link ParallelModel.weightsChanged}
 * after changing them directly (`loadStateDict`, its own `trainBatch`), so the workers get them with the next request.
 */
export class ParallelModel {
  /** The main copy (the caller's model): current weights, optimiser state, save/load, config. */
  readonly model: SequenceModel;
  /** Kernel set and wasm build the workers run. */
  readonly kernels: string;
  readonly wasmBuild: WasmBuild | null;
  #ports: Port[];
  #version = 0;
  #weights: Weights | null = null;
  #closed = false;
  #release: () => Promise<void>;
  #minShardFlops: number;

  /** @internal use {@link createParallelModel}. */
  constructor(
    model: SequenceModel,
    ports: Port[],
    kernels: string,
    wasmBuild: WasmBuild | null,
    minShardFlops: number,
    release: () => Promise<void>,
  ) {
    this.model = model;
    this.#ports = ports;
    this.kernels = kernels;
    this.wasmBuild = wasmBuild;
    this.#minShardFlops = minShardFlops;
    this.#release = release;
  }

  /** Number of workers. */
  get workers(): number {
    return this.#ports.length;
  }

  #open(): Port[] {
    if (this.#closed) throw new StateError('this ParallelModel was disposed');
    return this.#ports;
  }

  /**
   * How many workers a batch of `n` sequences of `steps` steps goes to (see {@link ParallelOptions.minShardFlops});
   * 0: this thread, on the main model.
   */
  #plan(ports: Port[], n: number, steps: number): number {
    const work = lstmForwardFlops(this.model.config, n, steps);
    if (this.#minShardFlops === 0) return ports.length;
    const k = Math.min(ports.length, n, Math.floor(work / this.#minShardFlops));
    if (k >= 2) return k;
    // In this thread only where it computes the workers' bits: the same wasm build and kernel set.
    const b = this.model.backend;
    if (b.name !== 'wasm' || b.wasmBuild !== this.wasmBuild || b.kernels !== this.kernels) return 1;
    // A stopped pool fails a call here as it would in the workers.
    const failure = ports.find((p) => p.failure)?.failure;
    if (failure) throw failure;
    return 0;
  }

  /** The current weights for a worker, or nothing when it has them already. */
  #weightsFor(p: Port): Weights | undefined {
    if (p.version === this.#version) return undefined;
    if (!this.#weights || this.#weights.version !== this.#version) {
      const params = Object.fromEntries(Object.entries(this.model.stateDict()).map(([k, t]) => [k, { data: t.data, shape: [...t.shape] }]));
      this.#weights = { version: this.#version, params };
    }
    p.version = this.#version;
    return this.#weights;
  }

  /** Marks the weights changed (after {@link ParallelModel.model} was modified directly, e.g. `loadStateDict`). */
  weightsChanged(): void {
    this.#version++;
  }

  /**
   * Sets the optimiser and clipping of the main model (see {@link SequenceModel.setOptimizer}).
   * @throws {ValueError} on an unknown type or out-of-range hyper-parameter.
   */
  setOptimizer(optimizer: OptimizerSpec, options: { clipNorm?: number } = {}): void {
    this.model.setOptimizer(optimizer, options);
  }

  /**
   * One optimiser step on one batch over the workers: shard gradients summed in worker order (float64, weighted by
   * loss terms), clipped and applied on the main model; returns the batch's mean loss and accuracy.
   * Dropout runs in each worker from its own seeded stream, so with dropout the step differs from `trainBatch`'s.
   * A batch under 2 × {@link ParallelOptions.minShardFlops} of work is the 1-worker step (computed in this thread
   * when the main model runs the workers' build).
   * @throws {ValueError} / {ShapeError} on bad input or diverged gradients (the weights are unchanged then);
   * {@link StateError} after dispose.
   */
  async trainBatch(x: SequenceBatchInput, y: Targets): Promise<Evaluation> {
    const { n, row } = checkInput(x);
    const yData = Float32Array.from(((y as TensorLike).data ?? y) as ArrayLike<number>);
    const s = await this.#step(x, yData, (from, to) => shardOf(x, row, from, to, yData, yData.length / Math.max(n, 1)));
    return { loss: s.loss, accuracy: s.counted > 0 ? s.correct / s.counted : undefined };
  }

  /**
   * {@link trainBatch} on a checked block (what `fit`'s loop hands its batch step). @internal
   * @throws as {@link trainBatch}.
   */
  trainBlock(b: Block, targets: Float32Array): Promise<BatchStats> {
    const x: SequenceBatchInput = {
      data: (b.tokens ?? b.x)!,
      shape: b.tokens ? [b.n, b.steps] : [b.n, b.steps, b.width],
      ...(b.lengths ? { lengths: b.lengths } : {}),
    };
    return this.#step(x, targets, (from, to) => shardOf(x, b.steps * b.width, from, to, targets, targets.length / Math.max(b.n, 1)));
  }

  async #step(x: SequenceBatchInput, targets: Float32Array, shard: (from: number, to: number) => Shard): Promise<BatchStats> {
    const ports = this.#open();
    const n = x.shape[0];
    const k = this.#plan(ports, n, x.shape[1]);
    if (k === 0) {
      // The 1-worker step, here: the same gradients (a single shard's weight is 1) applied the same way.
      const g = this.model.computeGradients(x, targets);
      this.model.applyGradients(this.model.gradients());
      this.#version++;
      return { loss: g.loss, correct: g.correct, counted: g.count, terms: g.terms };
    }
    const ranges = shardRanges(n, k);
    const replies = await Promise.all(
      ranges.map(([from, to], i) => {
        const s = shard(from, to);
        return ports[i].request<'gradients'>({ type: 'gradients', weights: this.#weightsFor(ports[i]), shard: s }, shardBuffers(s));
      }),
    );
    const terms = replies.reduce((s, r) => s + r.terms, 0);
    const stats: BatchStats = { loss: 0, correct: 0, counted: 0, terms };
    // One flat loop over all parameters (the replies are flat, in parameterNames order): per parameter a loop,
    // Float32Array.from and the by-name merge in applyGradients were 0.28 ms of a 2.8 ms seed step (wasm relaxed, 2 workers).
    const acc = new Float64Array(replies[0].grads.length);
    for (const r of replies) {
      const w = r.terms / terms;
      const g = r.grads;
      for (let i = 0; i < acc.length; i++) acc[i] += w * g[i];
      stats.loss += w * r.loss;
      stats.correct += r.correct;
      stats.counted += r.count;
    }
    this.model.applyGradients(new Float32Array(acc));
    this.#version++;
    return stats;
  }

  /**
   * Outputs for a batch of any size, its rows split over the workers (each runs `predict` in `batchSize` chunks);
   * the same values as {@link SequenceModel.predict} on the main model. A batch under 2 ×
   * {@link ParallelOptions.minShardFlops} of work runs in this thread on the main model (when it runs the workers' build).
   * @throws {ShapeError} on bad input; {@link StateError} after dispose.
   */
  async predict(x: SequenceBatchInput, { batchSize = 256 }: { batchSize?: number } = {}): Promise<Tensor> {
    const ports = this.#open();
    const { n, row } = checkInput(x);
    const k = this.#plan(ports, n, x.shape[1]);
    // Rows are independent in every kernel set, so the main model's predictions are the workers' bits.
    if (k === 0) return this.model.predict(x, { batchSize });
    const ranges = shardRanges(n, k);
    const replies = await Promise.all(
      ranges.map(([from, to], i) => {
        const s = shardOf(x, row, from, to);
        return ports[i].request<'predict'>({ type: 'predict', weights: this.#weightsFor(ports[i]), shard: s, batchSize }, shardBuffers(s));
      }),
    );
    if (replies.length === 0) return this.model.predict(x);
    const per = replies[0].output.data.length / (ranges[0][1] - ranges[0][0]);
    const out = new Float32Array(n * per);
    replies.forEach((r, i) => out.set(r.output.data as Float32Array, ranges[i][0] * per));
    return new Tensor(out, [n, ...replies[0].output.shape.slice(1)]);
  }

  /** Stops the workers (or hands them back to the {@link WorkerPool} they came from); the main model stays the caller's. Safe to call twice. */
  async dispose(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#release();
  }
}

/**
 * Started workers with their wasm backends loaded, not tied to one model: {@link WorkerPool.bind} runs a model on
 * them, one at a time (the trainer keeps one pool for all its `fit` and `predict` calls). @internal
 */
export class WorkerPool {
  readonly kernels: string;
  readonly wasmBuild: WasmBuild | null;
  #ports: Port[];
  #bound: ParallelModel | null = null;
  #closed = false;

  #minShardFlops: number;

  /** @internal use {@link startWorkerPool}. */
  constructor(ports: Port[], kernels: string, wasmBuild: WasmBuild | null, minShardFlops: number) {
    this.#ports = ports;
    this.kernels = kernels;
    this.wasmBuild = wasmBuild;
    this.#minShardFlops = minShardFlops;
  }

  get workers(): number {
    return this.#ports.length;
  }

  /**
   * Builds `model` in every worker (its config; the weights go with the first request) and returns the
   * {@link ParallelModel} over them; disposing it frees the pool for the next model, then calls `afterDispose`.
   * @throws {StateError} when the pool is closed or another model is bound; {ValueError} when a worker rejects the config.
   */
  async bind(model: SequenceModel, afterDispose?: () => Promise<void>): Promise<ParallelModel> {
    if (this.#closed) throw new StateError('this worker pool was closed');
    if (this.#bound) throw new StateError('this worker pool already runs a model: dispose that ParallelModel first');
    const config = structuredClone(model.config);
    const parallel = new ParallelModel(model, this.#ports, this.kernels, this.wasmBuild, this.#minShardFlops, async () => {
      if (this.#bound === parallel) this.#bound = null;
      await afterDispose?.();
    });
    this.#bound = parallel;
    try {
      await Promise.all(this.#ports.map((p) => p.request<'load'>({ type: 'load', config })));
    } catch (e) {
      this.#bound = null;
      throw e;
    }
    for (const p of this.#ports) p.version = -1;
    // Version 0 is "unknown": the first request of each worker carries the main model's weights.
    parallel.weightsChanged();
    return parallel;
  }

  /**
   * Stops the workers; requests still running reject with `reason` (default a {@link StateError}). Safe to call twice.
   * @throws never.
   */
  async close(reason: Error = new StateError('the worker pool was closed')): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const ports = this.#ports;
    await Promise.allSettled(ports.map((p) => p.request<'close'>({ type: 'close' })));
    for (const p of ports) p.fail(reason);
    await Promise.allSettled(ports.map((p) => p.terminate()));
  }

  /**
   * Stops the workers at once, without waiting for them to finish a request (those reject with `reason`).
   * @throws never.
   */
  terminate(reason: Error): void {
    this.#closed = true;
    for (const p of this.#ports) {
      p.fail(reason);
      void p.terminate();
    }
  }
}

/**
 * Starts `options.workers` workers and loads the wasm backend (`wasmFeatures`, `wasm`) in each. @internal
 * @throws {ValueError} on a bad worker count; {@link BackendError} when a worker cannot load wasm;
 * {@link StateError} without a worker factory.
 */
export async function startWorkerPool(options: ParallelOptions = {}): Promise<WorkerPool> {
  const count = options.workers ?? 2;
  if (!Number.isInteger(count) || count < 1 || count > 256) throw new ValueError(`workers must be an integer from 1 to 256, got ${count}`);
  const minShardFlops = options.minShardFlops ?? MIN_SHARD_FLOPS;
  if (typeof minShardFlops !== 'number' || !(minShardFlops >= 0)) {
    throw new ValueError(`minShardFlops must be a number of FLOPs, 0 or more, got ${String(minShardFlops)}`);
  }
  const factory = options.createWorker ?? defaultFactory;
  if (!factory) throw new StateError('no worker factory for this runtime: pass createWorker');
  const ports: Port[] = [];
  try {
    for (let i = 0; i < count; i++) ports.push(new Port(factory(i)));
    // Compiled once here and posted: the workers neither read nor compile the file, and share one module's code.
    const wasm = await compileWasm({ wasmFeatures: options.wasmFeatures, ...(options.wasm ? { wasm: options.wasm } : {}) });
    const backend = { wasmFeatures: options.wasmFeatures, wasm };
    const inits = await Promise.all(ports.map((p) => p.request<'init'>({ type: 'init', backend })));
    const kinds = new Set(inits.map((r) => r.kernels));
    if (kinds.size > 1) throw new StateError(`workers chose different kernel sets: ${[...kinds].join(', ')}`);
    return new WorkerPool(ports, inits[0].kernels, inits[0].wasmBuild as WasmBuild | null, minShardFlops);
  } catch (e) {
    for (const p of ports) p.fail(e as Error);
    await Promise.allSettled(ports.map((p) => p.terminate()));
    throw e;
  }
}

/**
 * Runs `model` over `workers` workers: each loads the wasm backend (`wasmFeatures`) and builds the model from
 * `model.config` with `model`'s current weights. `model` stays on its own backend and holds the optimiser; the
 * returned object trains it ({@link ParallelModel.trainBatch}) and predicts with it over the workers.
 * @throws {ValueError} on a bad worker count; {@link BackendError} when a worker cannot load wasm;
 * {@link StateError} without a worker factory (a runtime with neither worker_threads nor Web Workers).
 */
export async function createParallelModel(model: SequenceModel, options: ParallelOptions = {}): Promise<ParallelModel> {
  const pool = await startWorkerPool(options);
  try {
    // This ParallelModel owns its pool: disposing it stops the workers.
    return await pool.bind(model, () => pool.close());
  } catch (e) {
    await pool.close();
    throw e;
  }
}
