/**
 * The sequence model over the core: a plain, serialisable config built into a model whose training runs
 * in the core, one call per batch. TypeScript orchestrates epochs, batches, shuffling, callbacks and I/O
 * (./fit.ts); inputs are checked in ./batching.ts, the config in ./core.ts.
 * Shapes: B batch, T steps, F features, V vocabulary, U output units.
 */
import { type Backend, backendOption, call } from '../backend';
import { DataError, DisposedError, StateError, ValueError } from '../errors';
import { type DisposableWhereKnown, addSymbolDispose } from '../globals';
import { type ModelParts, encodeModelBundle } from '../io/bundle';
import { type ParamInfo, mergeParams, paramSize, splitParams } from '../params';
import { Tensor, type TensorLike, checkTensor } from '../tensor';
import { perStep, rowsView, toBlock, toTargets } from './batching';
import { type CoreConfig, type RawModel, coreConfig, isInt, normalizeOptimizer, runBatch } from './core';
import { type FitRun, type Labeled, checkFit, evaluateBlock, fitSizes, fittingBatch, runFit, splitValidation } from './fit';
import { META_EPOCHS, META_OPTIMIZER, META_RNG, decodeOptimizer, decodeRng, encodeOptimizer, encodeRng, savedConfig } from './format';
import type {
  Evaluation,
  FitOptions,
  GradientStats,
  History,
  OptimizerSpec,
  OutputSpec,
  SequenceInput,
  SequenceModelConfig,
  Targets,
} from './types';

/** A batch size of predict/evaluate: 0, negative or fractional sizes would never advance (or wrap). */
function checkBatchSize(batchSize: unknown): void {
  if (!isInt(batchSize, 1)) throw new ValueError(`batchSize must be a positive integer, got ${String(batchSize)}`);
}

let liveModels = 0;
const registry = new FinalizationRegistry<RawModel>((raw) => {
  liveModels--;
  // A safety net must never throw: an exception here would end the process (uncatchable by the user).
  try {
    raw.free?.();
  } catch {
    // The handle's memory is already gone (e.g. the wasm instance trapped); nothing left to free.
  }
});

/**
 * Number of models created and not yet disposed (for leak tests).
 * @throws never.
 */
export function liveModelHandles(): number {
  return liveModels;
}

/**
 * `model.fit` with each training batch run by `trainStep` instead of the core's `trainBatch` (validation, early
 * stopping, schedules, callbacks and abort unchanged; `trainStep` must leave `model` updated). @internal
 * @throws as {@link SequenceModel.fit}, and whatever `trainStep` throws.
 */
export let fitWithStep: (
  model: SequenceModel,
  x: SequenceInput,
  y: Targets,
  options: FitOptions,
  trainStep: NonNullable<FitRun['trainStep']>,
) => Promise<History>;

/**
 * A sequence model over the core: built from a {@link SequenceModelConfig} by {@link sequenceClassifier},
 * {@link sequenceTagger}, {@link sequenceRegressor} or `new SequenceModel(config)`.
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging -- its [Symbol.dispose] type (below)
export class SequenceModel {
  /** The config as given, with defaults filled in. */
  readonly config: Readonly<SequenceModelConfig>;
  readonly backend: Backend;
  #raw: RawModel | null;
  #table: ParamInfo[];
  #core: CoreConfig;
  #optimizer: OptimizerSpec = { type: 'adam' };
  #clipNorm = 0;
  #epochsDone = 0;

  /**
   * @throws {ValueError} naming the first config field that cannot work.
   * @throws {StateError} when no backend is given and `init()` has not run.
   */
  constructor(config: SequenceModelConfig, options: { backend?: Backend } = {}) {
    this.#core = coreConfig(config);
    this.backend = backendOption(options.backend);
    const Handle = (this.backend.raw as unknown as { ModelHandle: new (json: string) => RawModel }).ModelHandle;
    const raw = call(() => new Handle(JSON.stringify(this.#core)));
    this.#raw = raw;
    this.#table = JSON.parse(raw.paramTable()) as ParamInfo[];
    this.config = Object.freeze(structuredClone({ ...config, seed: config.seed ?? 0, pooling: config.pooling ?? 'last' }));
    liveModels++;
    registry.register(this, raw, this);
  }

  #handle(): RawModel {
    if (!this.#raw) throw new DisposedError('SequenceModel');
    return this.#raw;
  }

  /** Total number of parameters. */
  get numParameters(): number {
    return this.#table.reduce((n, e) => n + paramSize(e), 0);
  }

  /** Parameter names (PyTorch's, e.g. `lstm.weight_ih_l0`, `fc.weight`) in storage order. */
  get parameterNames(): string[] {
    return this.#table.map((e) => e.name);
  }

  /** Epochs trained so far (kept across save/load). */
  get epochsTrained(): number {
    return this.#epochsDone;
  }

  /** One line per parameter with its shape, and the total. */
  summary(): string {
    const lines = this.#table.map((e) => `${e.name.padEnd(28)} [${e.shape.join(', ')}]`);
    return `${lines.join('\n')}\ntotal parameters: ${this.numParameters.toLocaleString('en-US')}`;
  }

  #split(flat: Float32Array): Record<string, Tensor> {
    return splitParams(this.#table, flat);
  }

  /**
   * Copies of every parameter under PyTorch's names.
   * @throws {DisposedError} after `dispose()`.
   */
  stateDict(): Record<string, Tensor> {
    return this.#split(call(() => this.#handle().params()));
  }

  /**
   * Gradients of the last `trainBatch` / `computeGradients`, under the parameter names.
   * @throws {DisposedError} after `dispose()`.
   */
  gradients(): Record<string, Tensor> {
    return this.#split(this.gradientsFlat());
  }

  /**
   * {@link gradients} as one flat copy in {@link parameterNames} order (what {@link applyGradients} takes). @internal
   * @throws {DisposedError} after `dispose()`.
   */
  gradientsFlat(): Float32Array {
    return call(() => this.#handle().grads());
  }

  /**
   * Loads parameters by name (e.g. a PyTorch state dict saved with safetensors). Everything is checked
   * before anything changes.
   * @param strict when true (default) every parameter must be present and no other key may appear.
   * @throws {ShapeError} listing every missing, unexpected or mis-shaped entry.
   */
  loadStateDict(dict: Record<string, TensorLike>, { strict = true }: { strict?: boolean } = {}): void {
    // The same three steps as LSTM.loadStateDict over another handle type; the merge itself is shared (params.ts).
    const raw = this.#handle();
    const flat = raw.params();
    mergeParams(this.#table, flat, dict, strict, 'weights do not fit this model');
    call(() => raw.setParams(flat));
  }

  /**
   * Sets the optimiser (fresh state) and gradient clipping for the following training calls.
   * @throws {ValueError} on an unknown type or an out-of-range hyper-parameter; nothing changes then.
   */
  setOptimizer(optimizer: OptimizerSpec, { clipNorm }: { clipNorm?: number } = {}): void {
    const spec = normalizeOptimizer(optimizer);
    if (clipNorm !== undefined && !(typeof clipNorm === 'number' && clipNorm > 0 && Number.isFinite(clipNorm))) {
      throw new ValueError(`clipNorm must be a finite number > 0, got ${String(clipNorm)}`);
    }
    call(() => this.#handle().setOptimizer(JSON.stringify(spec), clipNorm ?? 0));
    this.#optimizer = spec;
    this.#clipNorm = clipNorm ?? 0;
  }

  #labeled(x: SequenceInput, y: Targets, what?: string): Labeled {
    const b = toBlock(this.#core, x, what);
    return { b, t: toTargets(this.#core, y, b.n, b.steps) };
  }

  /**
   * One optimiser step on one batch (forward, loss, backward, clipping, update, all in the core).
   * @throws {ShapeError} / {ValueError} on bad input (token ids ≥ vocabSize, labels not 0/1, ...); the model is unchanged then.
   */
  trainBatch(x: SequenceInput, y: Targets): Evaluation {
    const { b, t } = this.#labeled(x, y);
    const s = runBatch(this.#handle(), 'trainBatch', b, t.data);
    return { loss: s.loss, accuracy: s.counted > 0 ? s.correct / s.counted : undefined };
  }

  /**
   * Forward, loss and backward on one batch without an update; read the result with {@link gradients}.
   * Dropout is active as in training.
   * @throws {ShapeError} / {ValueError} on bad input.
   */
  computeGradients(x: SequenceInput, y: Targets): GradientStats {
    const { b, t } = this.#labeled(x, y);
    const s = runBatch(this.#handle(), 'forwardBackward', b, t.data);
    return {
      loss: s.loss,
      accuracy: s.counted > 0 ? s.correct / s.counted : undefined,
      correct: s.correct,
      count: s.counted,
      terms: s.terms,
    };
  }

  /**
   * The update half of {@link trainBatch} on given gradients: clipping (the `clipNorm` of {@link setOptimizer})
   * and one optimiser step. `grads` is by parameter name (as {@link gradients} returns, all required) or flat in
   * {@link parameterNames} order. Shards' {@link computeGradients} results summed with weights `terms_k / Σ terms`
   * make this step equal a `trainBatch` on the whole batch, up to float summation order.
   * @throws {ShapeError} when a gradient is missing or mis-shaped; {@link ValueError} when one is not finite
   * (nothing changes then).
   */
  applyGradients(grads: Float32Array | Record<string, TensorLike>): void {
    const raw = this.#handle();
    let flat: Float32Array;
    if (grads instanceof Float32Array) flat = grads;
    else {
      flat = new Float32Array(this.numParameters);
      mergeParams(this.#table, flat, grads, true, 'gradients do not fit this model');
    }
    call(() => raw.applyGradients(flat));
  }

  /**
   * The logits of the last forward pass, batch-first.
   * @throws {DisposedError} after `dispose()`.
   */
  lastLogits(): Float32Array {
    return call(() => this.#handle().logits());
  }

  /**
   * Trains for `epochs` over `(x, y)` in shuffled batches, reporting through callbacks and resolving with
   * the per-epoch history. Yields to the event loop between batches, so progress output and an
   * AbortSignal (e.g. Ctrl-C) are served while it runs.
   * @throws {ShapeError} / {ValueError} on bad data or options, before any update.
   */
  async fit(x: SequenceInput, y: Targets, options: FitOptions = {}): Promise<History> {
    return this.#fit(x, y, options, undefined);
  }

  // The data-parallel trainer (ts/worker/parallel.ts) runs this same loop with its own batch step, through
  // `fitWithStep` below rather than a public parameter.
  static {
    fitWithStep = (model, x, y, options, trainStep) => model.#fit(x, y, options, trainStep);
  }

  async #fit(x: SequenceInput, y: Targets, options: FitOptions, trainStep: FitRun['trainStep']): Promise<History> {
    const raw = this.#handle();
    const { epochs, batchSize } = fitSizes(options);
    let train = this.#labeled(x, y);
    let val: Labeled | null = null;
    if (options.validationData) val = this.#labeled(options.validationData[0], options.validationData[1], 'validationData x');
    else if (options.validationSplit !== undefined) ({ train, val } = splitValidation(train, options.validationSplit));
    checkFit(raw, train, val, batchSize, options);
    // A resumed run keeps the optimiser state it was restored with (re-applying the spec would reset it).
    const resuming = (options.initialEpoch ?? 0) > 0 || (options.initialBatch ?? 0) > 0;
    if (!resuming && (options.optimizer || options.clipNorm !== undefined)) {
      this.setOptimizer(options.optimizer ?? this.#optimizer, { clipNorm: options.clipNorm ?? (this.#clipNorm || undefined) });
    }
    return runFit(
      {
        raw,
        train,
        val,
        epochs,
        batchSize,
        baseLr: this.#optimizer.lr ?? 1e-3,
        // From the epochs trained before this run began (a resumed run has trained initialEpoch of them).
        shuffleSeed: ((this.config.seed ?? 0) ^ 0x9e3779b9) + (this.#epochsDone - (options.initialEpoch ?? 0)) * 7919,
        onEpochDone: () => this.#epochsDone++,
        trainStep,
        maskToken: this.#core.maskToken,
        perStep: perStep(this.#core),
      },
      options,
    );
  }

  /**
   * Mean loss and accuracy (for sigmoid and softmax outputs) over a dataset, without dropout.
   * @throws {ShapeError} / {ValueError} on bad data.
   */
  async evaluate(x: SequenceInput, y: Targets, { batchSize = 256 }: { batchSize?: number } = {}): Promise<Evaluation> {
    checkBatchSize(batchSize);
    const data = this.#labeled(x, y);
    return evaluateBlock(this.#handle(), data, batchSize);
  }

  /**
   * Outputs for any number of sequences, in batches: σ(z) for a sigmoid output, softmax(z) for softmax,
   * z for linear; shape (B, U), or (B, T, U) for per-step models.
   * @throws {ShapeError} / {ValueError} on bad input.
   */
  predict(x: SequenceInput, { batchSize = 256 }: { batchSize?: number } = {}): Tensor {
    const raw = this.#handle();
    checkBatchSize(batchSize);
    const b = toBlock(this.#core, x);
    const u = this.#core.units;
    const each = perStep(this.#core);
    const per = (each ? b.steps : 1) * u;
    const out = new Float32Array(b.n * per);
    const size = fittingBatch(raw, batchSize, b.steps);
    for (let from = 0; from < b.n; from += size) {
      const g = rowsView(b, from, Math.min(b.n, from + size));
      out.set(
        call(() => raw.predictBatch(g.tokens, g.x, g.n, g.steps, g.lengths)),
        from * per,
      );
    }
    return new Tensor(out, each ? [b.n, b.steps, u] : [b.n, u]);
  }

  /**
   * Predicted classes: σ(z) > 0.5 for one sigmoid unit, else the argmax per row; (B) or (B, T).
   * @throws {StateError} for a regression model; {ShapeError} / {ValueError} on bad input.
   */
  predictClasses(x: SequenceInput, options: { batchSize?: number } = {}): Int32Array {
    if (this.#core.loss === 'mse') throw new StateError('predictClasses needs a sigmoid or softmax output; this model regresses');
    const p = this.predict(x, options);
    const u = this.#core.units;
    const rows = p.data.length / u;
    const out = new Int32Array(rows);
    for (let r = 0; r < rows; r++) {
      if (u === 1) out[r] = p.data[r] > 0.5 ? 1 : 0;
      else {
        let arg = 0;
        for (let k = 1; k < u; k++) if (p.data[r * u + k] > p.data[r * u + arg]) arg = k;
        out[r] = arg;
      }
    }
    return out;
  }

  /**
   * The model as parts to save: config, weights and optimiser state under PyTorch's names, metadata. @internal
   * @throws {DisposedError} after `dispose()`.
   */
  toParts(extra: Record<string, string> = {}): ModelParts {
    const raw = this.#handle();
    const tensors: Record<string, TensorLike> = { ...this.stateDict() };
    const m = raw.optimizerM();
    const v = raw.optimizerV();
    const kind = this.#optimizer.type;
    for (const [name, t] of Object.entries(this.#split(m))) tensors[`optimizer.${kind}.m.${name}`] = t;
    if (v.length) for (const [name, t] of Object.entries(this.#split(v))) tensors[`optimizer.${kind}.v.${name}`] = t;
    return {
      config: savedConfig(this.config),
      tensors,
      metadata: {
        [META_OPTIMIZER]: encodeOptimizer(this.#optimizer, this.#clipNorm, raw.optimizerStep()),
        [META_EPOCHS]: String(this.#epochsDone),
        [META_RNG]: encodeRng(raw.rngState()),
        ...extra,
      },
    };
  }

  /**
   * Restores weights and optimiser state from saved parts. @internal
   * @throws {ShapeError} when a tensor does not fit; {DataError} on corrupt training state.
   */
  restore(parts: ModelParts): void {
    const raw = this.#handle();
    const weights: Record<string, TensorLike> = {};
    for (const [k, t] of Object.entries(parts.tensors)) if (!k.startsWith('optimizer.')) weights[k] = t;
    this.loadStateDict(weights);
    const meta = parts.metadata ?? {};
    if (meta[META_OPTIMIZER]) {
      const { spec, clipNorm, step } = decodeOptimizer(meta[META_OPTIMIZER]);
      try {
        this.setOptimizer(spec, { clipNorm });
      } catch (e) {
        throw new DataError(`saved optimizer settings are unusable: ${(e as Error).message}`, { cause: e });
      }
      const kind = spec.type;
      const join = (which: 'm' | 'v') => {
        const flat = which === 'm' ? raw.optimizerM() : raw.optimizerV();
        if (!flat.length) return flat;
        for (const e of this.#table) {
          const name = `optimizer.${kind}.${which}.${e.name}`;
          const t = parts.tensors[name];
          if (!t) throw new DataError(`saved optimizer state lacks ${name}`);
          checkTensor(name, t, e.shape);
          flat.set(t.data, e.offset);
        }
        return flat;
      };
      const m = join('m');
      const v = join('v');
      try {
        call(() => raw.setOptimizerState(step, m, v));
      } catch (e) {
        throw new DataError(`saved optimizer state is unusable: ${(e as Error).message}`, { cause: e });
      }
    }
    this.#epochsDone = Number(meta[META_EPOCHS] ?? 0) || 0;
    if (meta[META_RNG]) {
      const state = decodeRng(meta[META_RNG]);
      call(() => raw.setRngState(state));
    }
  }

  /**
   * The whole model (config, weights, optimiser state) as one safetensors buffer: for browsers, IndexedDB, or sending.
   * @throws {ValueError} when `metadata` uses a reserved key; {DisposedError} after `dispose()`.
   */
  toArrayBuffer(metadata: Record<string, string> = {}): ArrayBuffer {
    const bytes = encodeModelBundle(this.toParts(metadata));
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  }

  /** Frees the backend memory now; later use throws {@link DisposedError}. */
  dispose(): void {
    if (!this.#raw) return;
    registry.unregister(this);
    this.#raw.free?.();
    this.#raw = null;
    liveModels--;
  }
}

addSymbolDispose(SequenceModel);
// The class's `[Symbol.dispose]` type, declared apart so the .d.ts compiles where the lib lacks it (./globals.ts).
// eslint-disable-next-line @typescript-eslint/no-empty-object-type, @typescript-eslint/no-unsafe-declaration-merging
export interface SequenceModel extends DisposableWhereKnown {}

/**
 * A classifier of whole sequences: pooling 'last' and a sigmoid output of 1 unit unless given.
 * @throws {ValueError} naming the first config field that cannot work; {StateError} before `init()`.
 */
export function sequenceClassifier(
  config: Omit<SequenceModelConfig, 'output' | 'pooling'> & { output?: OutputSpec; pooling?: 'last' | 'mean' | 'max' | 'max-mean' },
  options: { backend?: Backend } = {},
): SequenceModel {
  return new SequenceModel({ ...config, output: config.output ?? { units: 1, activation: 'sigmoid' } }, options);
}

/**
 * A per-step model (tagging, language modelling): the head runs on every step; softmax over `output.units` classes.
 * @throws {ValueError} naming the first config field that cannot work; {StateError} before `init()`.
 */
export function sequenceTagger(config: Omit<SequenceModelConfig, 'pooling'>, options: { backend?: Backend } = {}): SequenceModel {
  return new SequenceModel({ ...config, pooling: 'sequence' }, options);
}

/**
 * A regressor over float sequences: linear output, mean squared error. `returnSequences` gives one output per step.
 * @throws {ValueError} naming the first config field that cannot work; {StateError} before `init()`.
 */
export function sequenceRegressor(
  config: Omit<SequenceModelConfig, 'output' | 'pooling'> & {
    units?: number;
    pooling?: 'last' | 'mean' | 'max' | 'max-mean';
    returnSequences?: boolean;
  },
  options: { backend?: Backend } = {},
): SequenceModel {
  const { units = 1, returnSequences, ...rest } = config;
  return new SequenceModel(
    { ...rest, pooling: returnSequences ? 'sequence' : (config.pooling ?? 'last'), output: { units, activation: 'linear' } },
    options,
  );
}
