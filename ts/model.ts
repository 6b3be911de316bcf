/**
 * Sequence models: a plain, serialisable config built into a model whose training runs in the core,
 * one call per batch. TypeScript orchestrates epochs, batches, shuffling, callbacks and I/O.
 * Shapes: B batch, T steps, F features, V vocabulary, U output units.
 */
import { type Backend, call, getBackend } from './backend';
import { DataError, DisposedError, ShapeError, StateError, ValueError } from './errors';
import { decodeModelBundle, encodeModelBundle, type ModelParts } from './io/bundle';
import { type ParamInfo, mergeParams, paramSize, splitParams } from './params';
import { Tensor, type TensorLike, checkTensor } from './tensor';

/** How tokens or features enter the LSTM. */
export type InputSpec =
  /** Token ids as one-hot vectors of width `vocabSize` (computed as a row gather, never a dense product). */
  | 'one-hot'
  /** Token ids through an embedding table (`embedding.weight`, V × dim); row `paddingIdx` (default 0) stays zero. */
  | { embedding: number; paddingIdx?: number | null }
  /** Float features per step (B, T, F). */
  | { features: number };

/** A hidden dense layer of the head. */
export interface DenseLayerSpec {
  units: number;
  /** Default 'relu'. */
  activation?: 'relu' | 'tanh' | 'linear';
}

/** The output layer `fc`; its activation fixes the loss. */
export interface OutputSpec {
  units: number;
  /** 'sigmoid' → binary cross-entropy (labels 0/1); 'softmax' → cross-entropy (class ids); 'linear' → mean squared error. */
  activation: 'sigmoid' | 'softmax' | 'linear';
}

/** A model's whole description: plain JSON, saved beside the weights. */
export interface SequenceModelConfig {
  /** Input layer. */
  input: InputSpec;
  /** V, required for token input. */
  vocabSize?: number;
  /** The LSTM (PyTorch's nn.LSTM arguments; `dropout` between stacked layers). */
  lstm: { hiddenSize: number; numLayers?: number; bidirectional?: boolean; dropout?: number };
  /**
   * How the LSTM's outputs feed the head: 'last' (default; each direction's state after its last real
   * step, PyTorch's h_n), 'mean' or 'max' over real steps, or 'sequence' (the head runs on every step:
   * tagging, language modelling).
   */
  pooling?: 'last' | 'mean' | 'max' | 'sequence';
  /** Hidden dense layers between the LSTM and the output layer (default none). */
  head?: DenseLayerSpec[];
  /** Dropout on the head's input while training (default 0). */
  dropout?: number;
  /** The output layer. */
  output: OutputSpec;
  /**
   * Skip padding tokens as packed sequences skip them: `true` skips token 0, a number skips that id.
   * Real tokens are moved to the front in order, so 'pre' and 'post' padding give the same result.
   * Default false (the seed notebook feeds padding through the LSTM). Explicit `lengths` override it.
   */
  mask?: boolean | number;
  /** Seed of initialisation, dropout and shuffling (default 0). */
  seed?: number;
}

/** Optimisers, with PyTorch's update rules; omitted fields take PyTorch's defaults. */
export type OptimizerSpec =
  | { type: 'adam' | 'adamw'; lr?: number; beta1?: number; beta2?: number; eps?: number; weightDecay?: number }
  | { type: 'sgd'; lr: number; momentum?: number; nesterov?: boolean; weightDecay?: number };

/** Learning-rate schedules, applied between batches. */
export type LrSchedule =
  /** lr · gamma^floor(epoch / stepSize). */
  | { type: 'step'; stepSize: number; gamma?: number }
  /** Cosine from lr to `minLr` over all the run's batches. */
  | { type: 'cosine'; minLr?: number };

/** Model input: token ids (B, T) as Int32Array or float features (B, T, F); `lengths` optional. */
export interface SequenceBatchInput {
  data: Int32Array | Float32Array;
  shape: readonly number[];
  /** True length of each sequence (1..T), e.g. from `padSequences`. Steps past it are skipped. */
  lengths?: ArrayLike<number>;
}

/** What `fit`, `evaluate` and `predict` accept as inputs. */
export type SequenceInput = SequenceBatchInput | ArrayLike<ArrayLike<number>>;

/** Targets: 0/1 labels, class ids, or float targets; flat (B·U) or a tensor. */
export type Targets = ArrayLike<number> | TensorLike;

/** Metrics of one batch, passed to `onBatchEnd`. */
export interface BatchLogs {
  epoch: number;
  batch: number;
  batches: number;
  loss: number;
  accuracy?: number;
  samplesPerSecond: number;
  lr: number;
}

/** Metrics of one epoch. */
export interface EpochLogs {
  epoch: number;
  loss: number;
  accuracy?: number;
  valLoss?: number;
  valAccuracy?: number;
  seconds: number;
  samplesPerSecond: number;
  lr: number;
}

/** Callbacks of `fit`. Returning `'stop'` from `onEpochEnd` ends training after that epoch. */
export interface Callbacks {
  onEpochBegin?: (epoch: number) => void | Promise<void>;
  onBatchEnd?: (logs: BatchLogs) => void | Promise<void>;
  onEpochEnd?: (logs: EpochLogs) => void | 'stop' | Promise<void | 'stop'>;
}

/** Options of {@link SequenceModel.fit}. */
export interface FitOptions {
  epochs?: number;
  batchSize?: number;
  /** Reshuffle the training data every epoch (default true), from the model's seed. */
  shuffle?: boolean;
  validationData?: [SequenceInput, Targets];
  /** Fraction of the data (the last part, before shuffling, as Keras does) held out for validation. */
  validationSplit?: number;
  optimizer?: OptimizerSpec;
  /** Clip gradients to this global L2 norm. */
  clipNorm?: number;
  lrSchedule?: LrSchedule;
  /** Stop when `monitor` has not improved by `minDelta` for `patience` epochs; optionally restore the best weights. */
  earlyStopping?: { monitor?: 'valLoss' | 'valAccuracy' | 'loss' | 'accuracy'; patience?: number; minDelta?: number; restoreBestWeights?: boolean };
  callbacks?: Callbacks;
  /** Aborting stops training between batches; `fit` then resolves with `stopReason: 'aborted'`. */
  signal?: AbortSignal;
}

/** What `fit` resolves to. */
export interface History {
  epochs: EpochLogs[];
  stopReason: 'completed' | 'early-stopping' | 'callback' | 'aborted';
}

/** Loss and accuracy over a dataset. */
export interface Evaluation {
  loss: number;
  accuracy?: number;
}

/**
 * What {@link SequenceModel.computeGradients} returns: the batch's mean loss and accuracy, plus the counts that
 * let shards of one batch be combined (the data-parallel engine weights shard k by `terms_k / Σ terms`).
 */
export interface GradientStats extends Evaluation {
  /** Terms the mean loss averages: real rows × units for BCE and MSE, real rows for cross-entropy. */
  terms: number;
  /** Correct predictions and predictions counted for accuracy (both 0 for MSE). */
  correct: number;
  count: number;
}

/** The file format version written by `save` / `toArrayBuffer`; a different major version is refused. */
export const MODEL_FORMAT = 'cellstate.sequence-model';
export const MODEL_FORMAT_VERSION = 1;

interface RawModel {
  configJson(): string;
  paramTable(): string;
  params(): Float32Array;
  setParams(data: Float32Array): void;
  grads(): Float32Array;
  setOptimizer(config: string, clipNorm: number): void;
  setLr(lr: number): void;
  optimizerStep(): number;
  optimizerM(): Float32Array;
  optimizerV(): Float32Array;
  setOptimizerState(step: number, m: Float32Array, v: Float32Array): void;
  rngState(): Uint32Array;
  setRngState(state: Uint32Array): void;
  trainBatch(tokens: Int32Array | null, x: Float32Array | null, batch: number, steps: number, lengths: Uint32Array | null, targets: Float32Array): Float64Array | number[];
  forwardBackward(tokens: Int32Array | null, x: Float32Array | null, batch: number, steps: number, lengths: Uint32Array | null, targets: Float32Array): Float64Array | number[];
  applyGradients(grads: Float32Array): void;
  evaluateBatch(tokens: Int32Array | null, x: Float32Array | null, batch: number, steps: number, lengths: Uint32Array | null, targets: Float32Array): Float64Array | number[];
  predictBatch(tokens: Int32Array | null, x: Float32Array | null, batch: number, steps: number, lengths: Uint32Array | null): Float32Array;
  logits(): Float32Array;
  free?(): void;
}


let liveModels = 0;
const registry = new FinalizationRegistry<RawModel>((raw) => {
  liveModels--;
  raw.free?.();
});

/** Number of models created and not yet disposed (for leak tests). */
export function liveModelHandles(): number {
  return liveModels;
}

function isInt(v: unknown, min: number, max = 1 << 24): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
}

function prob(name: string, v: unknown): number {
  if (v === undefined) return 0;
  if (typeof v !== 'number' || !(v >= 0 && v < 1)) throw new ValueError(`${name} must be a number in [0, 1), got ${String(v)}`);
  return v;
}

/** Checks a config and turns it into the core's JSON form. @internal */
function coreConfig(c: SequenceModelConfig): Record<string, unknown> {
  if (typeof c !== 'object' || c === null) throw new ValueError('model config must be an object');
  let input: Record<string, unknown>;
  const tokenInput = c.input === 'one-hot' || (typeof c.input === 'object' && c.input !== null && 'embedding' in c.input);
  if (tokenInput && !isInt(c.vocabSize, 1)) {
    throw new ValueError(`vocabSize must be a positive integer for token input, got ${String(c.vocabSize)}`);
  }
  if (c.input === 'one-hot') input = { kind: 'one-hot', vocabSize: c.vocabSize };
  else if (typeof c.input === 'object' && c.input !== null && 'embedding' in c.input) {
    if (!isInt(c.input.embedding, 1)) throw new ValueError(`input.embedding must be a positive integer (the embedding width), got ${String(c.input.embedding)}`);
    const p = c.input.paddingIdx === undefined ? 0 : c.input.paddingIdx;
    if (p !== null && !isInt(p, 0, c.vocabSize! - 1)) throw new ValueError(`input.paddingIdx must be null or an id below vocabSize, got ${String(p)}`);
    input = { kind: 'embedding', vocabSize: c.vocabSize, dim: c.input.embedding, paddingIdx: p };
  } else if (typeof c.input === 'object' && c.input !== null && 'features' in c.input) {
    if (!isInt(c.input.features, 1)) throw new ValueError(`input.features must be a positive integer, got ${String(c.input.features)}`);
    input = { kind: 'dense', features: c.input.features };
  } else {
    throw new ValueError(`input must be 'one-hot', { embedding: dim } or { features: F }, got ${JSON.stringify(c.input)}`);
  }
  const l = c.lstm;
  if (typeof l !== 'object' || l === null) throw new ValueError('lstm must be an object like { hiddenSize: 16 }');
  if (!isInt(l.hiddenSize, 1)) throw new ValueError(`lstm.hiddenSize must be a positive integer, got ${String(l.hiddenSize)}`);
  if (l.numLayers !== undefined && !isInt(l.numLayers, 1, 64)) throw new ValueError(`lstm.numLayers must be an integer in 1..64, got ${String(l.numLayers)}`);
  if (l.bidirectional !== undefined && typeof l.bidirectional !== 'boolean') throw new ValueError('lstm.bidirectional must be a boolean');
  const pooling = c.pooling ?? 'last';
  if (!['last', 'mean', 'max', 'sequence'].includes(pooling)) throw new ValueError(`pooling must be 'last', 'mean', 'max' or 'sequence', got ${String(pooling)}`);
  const head = (c.head ?? []).map((d, i) => {
    if (!isInt(d?.units, 1)) throw new ValueError(`head[${i}].units must be a positive integer, got ${String(d?.units)}`);
    const activation = d.activation ?? 'relu';
    if (!['relu', 'tanh', 'linear'].includes(activation)) throw new ValueError(`head[${i}].activation must be 'relu', 'tanh' or 'linear'`);
    return { units: d.units, activation };
  });
  const o = c.output;
  if (typeof o !== 'object' || o === null || !isInt(o.units, 1)) throw new ValueError(`output.units must be a positive integer, got ${String(o?.units)}`);
  const loss = { sigmoid: 'bce', softmax: 'cross-entropy', linear: 'mse' }[o.activation];
  if (!loss) throw new ValueError(`output.activation must be 'sigmoid', 'softmax' or 'linear', got ${String(o.activation)}`);
  if (o.activation === 'softmax' && o.units < 2) throw new ValueError('a softmax output needs at least 2 units (classes)');
  let maskToken: number | null = null;
  if (c.mask !== undefined && c.mask !== false) {
    if (!tokenInput) throw new ValueError('mask needs token input; pass lengths for float features');
    maskToken = c.mask === true ? 0 : c.mask;
    if (!isInt(maskToken, 0, c.vocabSize! - 1)) throw new ValueError(`mask must be true, false or a token id below vocabSize, got ${String(c.mask)}`);
    if (pooling === 'sequence') throw new ValueError("mask cannot be combined with pooling 'sequence'; pass lengths with 'post' padding");
  }
  const seed = c.seed ?? 0;
  if (!Number.isSafeInteger(seed) || seed < 0) throw new ValueError(`seed must be a non-negative safe integer, got ${String(seed)}`);
  return {
    input,
    lstm: { hiddenSize: l.hiddenSize, numLayers: l.numLayers ?? 1, bidirectional: l.bidirectional ?? false, dropout: prob('lstm.dropout', l.dropout) },
    pooling,
    head,
    headDropout: prob('dropout', c.dropout),
    units: o.units,
    loss,
    maskToken,
    seed,
  };
}

function normalizeOptimizer(o: OptimizerSpec | undefined): Record<string, unknown> {
  const spec = o ?? { type: 'adam' };
  if (typeof spec !== 'object' || spec === null || !['adam', 'adamw', 'sgd'].includes(spec.type)) {
    throw new ValueError(`optimizer.type must be 'adam', 'adamw' or 'sgd', got ${JSON.stringify((spec as { type?: unknown })?.type)}`);
  }
  if (spec.type === 'sgd' && typeof spec.lr !== 'number') throw new ValueError('SGD needs an explicit lr');
  return { ...spec };
}

/** A mulberry32 stream for shuffling (32-bit state, deterministic across runtimes). */
function shuffler(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

/** Inputs as one contiguous batch-first block with optional lengths. */
interface Block {
  tokens: Int32Array | null;
  x: Float32Array | null;
  n: number;
  steps: number;
  width: number;
  lengths: Uint32Array | null;
}

/** Flat targets with `perSample` values per sample. */
interface TargetBlock {
  data: Float32Array;
  perSample: number;
}

const yieldNow = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/**
 * A sequence model over the core: built from a {@link SequenceModelConfig} by {@link sequenceClassifier},
 * {@link sequenceTagger}, {@link sequenceRegressor} or `new SequenceModel(config)`.
 */
export class SequenceModel {
  /** The config as given, with defaults filled in. */
  readonly config: Readonly<SequenceModelConfig>;
  readonly backend: Backend;
  #raw: RawModel | null;
  #table: ParamInfo[];
  #core: Record<string, unknown>;
  #optimizer: Record<string, unknown> = { type: 'adam' };
  #clipNorm = 0;
  #epochsDone = 0;

  /**
   * @throws {ValueError} naming the first config field that cannot work.
   * @throws {StateError} when no backend is given and `init()` has not run.
   */
  constructor(config: SequenceModelConfig, options: { backend?: Backend } = {}) {
    this.#core = coreConfig(config);
    this.backend = options.backend ?? getBackend();
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

  get #tokenInput(): boolean {
    return (this.#core.input as { kind: string }).kind !== 'dense';
  }

  get #units(): number {
    return this.#core.units as number;
  }

  get #loss(): 'bce' | 'cross-entropy' | 'mse' {
    return this.#core.loss as 'bce' | 'cross-entropy' | 'mse';
  }

  get #perStep(): boolean {
    return this.#core.pooling === 'sequence';
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

  /** Copies of every parameter under PyTorch's names. */
  stateDict(): Record<string, Tensor> {
    return this.#split(call(() => this.#handle().params()));
  }

  /** Gradients of the last `trainBatch` / `computeGradients`, under the parameter names. */
  gradients(): Record<string, Tensor> {
    return this.#split(call(() => this.#handle().grads()));
  }

  /**
   * Loads parameters by name (e.g. a PyTorch state dict saved with safetensors). Everything is checked
   * before anything changes.
   * @param strict when true (default) every parameter must be present and no other key may appear.
   * @throws {ShapeError} listing every missing, unexpected or mis-shaped entry.
   */
  loadStateDict(dict: Record<string, TensorLike>, { strict = true }: { strict?: boolean } = {}): void {
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

  /** Converts user input into one contiguous block, checking types and shapes. */
  #block(input: SequenceInput, what = 'x'): Block {
    let data: Int32Array | Float32Array;
    let shape: number[];
    let lengths: ArrayLike<number> | undefined;
    if (typeof input === 'object' && input !== null && 'data' in input && 'shape' in input) {
      ({ data } = input);
      shape = [...input.shape];
      lengths = input.lengths;
    } else if (typeof input === 'object' && input !== null && typeof (input as ArrayLike<unknown>).length === 'number') {
      const rows = input as ArrayLike<ArrayLike<number>>;
      if (!this.#tokenInput) throw new ShapeError(`${what}: float-feature models take { data: Float32Array, shape: [B, T, F] }`);
      const t = rows.length ? rows[0].length : 0;
      for (let i = 0; i < rows.length; i++) {
        if (rows[i].length !== t) {
          throw new ShapeError(
            `${what}: sequences have mixed lengths (sequence 0 has ${t} steps, sequence ${i} has ${rows[i].length}); pad them first with padSequences()`,
          );
        }
      }
      data = new Int32Array(rows.length * t);
      for (let i = 0; i < rows.length; i++) {
        for (let s = 0; s < t; s++) {
          const v = rows[i][s];
          if (!Number.isInteger(v)) throw new ValueError(`${what}: token ${String(v)} at sequence ${i}, step ${s} is not an integer id`);
          data[i * t + s] = v;
        }
      }
      shape = [rows.length, t];
    } else {
      throw new ShapeError(`${what} must be { data, shape } or an array of equal-length token sequences, got ${String(input)}`);
    }
    if (this.#tokenInput) {
      if (!(data instanceof Int32Array)) {
        throw new ShapeError(`${what}.data must be an Int32Array of token ids for this model, got ${data?.constructor?.name ?? typeof data}`);
      }
      if (shape.length !== 2) throw new ShapeError(`${what} must have shape [batch, steps]; got [${shape.join(', ')}]`);
    } else {
      if (!(data instanceof Float32Array)) throw new ShapeError(`${what}.data must be a Float32Array of features, got ${data?.constructor?.name ?? typeof data}`);
      const f = (this.#core.input as { features: number }).features;
      if (shape.length !== 3 || shape[2] !== f) throw new ShapeError(`${what} must have shape [batch, steps, ${f}]; got [${shape.join(', ')}]`);
    }
    const [n, steps] = shape;
    const width = this.#tokenInput ? 1 : shape[2];
    if (!shape.every((d) => Number.isInteger(d) && d >= 0) || data.length !== n * steps * width) {
      throw new ShapeError(`${what} has ${data.length} values but shape [${shape.join(', ')}] needs ${n * steps * width}`);
    }
    if (n > 0 && steps === 0) throw new ShapeError(`${what} has sequences of 0 steps`);
    let lens: Uint32Array | null = null;
    if (lengths !== undefined) {
      if (lengths.length !== n) throw new ShapeError(`${what}.lengths has ${lengths.length} entries; expected ${n}`);
      lens = new Uint32Array(n);
      for (let i = 0; i < n; i++) {
        const v = lengths[i];
        // A padded empty review has length 0: give it one (padding) step, as the core's mask does.
        if (!Number.isInteger(v) || v < 0 || v > steps) throw new ValueError(`${what}.lengths[${i}] = ${v} must be an integer in 0..${steps}`);
        lens[i] = Math.max(1, v);
      }
    }
    return {
      tokens: this.#tokenInput ? (data as Int32Array) : null,
      x: this.#tokenInput ? null : (data as Float32Array),
      n,
      steps,
      width,
      lengths: lens,
    };
  }

  #targets(y: Targets, n: number, steps: number): TargetBlock {
    let data: Float32Array;
    if (typeof y === 'object' && y !== null && 'data' in y && 'shape' in y) data = Float32Array.from((y as TensorLike).data);
    else if (typeof y === 'object' && y !== null && typeof (y as ArrayLike<number>).length === 'number') data = Float32Array.from(y as ArrayLike<number>);
    else throw new ShapeError(`targets must be an array of numbers or a tensor, got ${String(y)}`);
    const u = this.#loss === 'cross-entropy' ? 1 : this.#units;
    const perSample = (this.#perStep ? steps : 1) * u;
    if (data.length !== n * perSample) {
      const shape = this.#perStep ? `[${n}, ${steps}${u > 1 ? `, ${u}` : ''}]` : `[${n}${u > 1 ? `, ${u}` : ''}]`;
      throw new ShapeError(`targets have ${data.length} values; expected ${n * perSample} (${shape}), one per ${this.#perStep ? 'step' : 'sequence'}${u > 1 ? ' and unit' : ''}`);
    }
    return { data, perSample };
  }

  /** Copies rows `idx[from..to)` of a block (and targets) into batch buffers. */
  #gather(b: Block, t: TargetBlock | null, idx: Uint32Array | null, from: number, to: number) {
    const count = to - from;
    const row = b.steps * b.width;
    const pick = (i: number) => (idx ? idx[from + i] : from + i);
    const src = (b.tokens ?? b.x)!;
    const data = b.tokens ? new Int32Array(count * row) : new Float32Array(count * row);
    for (let i = 0; i < count; i++) data.set(src.subarray(pick(i) * row, (pick(i) + 1) * row), i * row);
    let lengths: Uint32Array | null = null;
    if (b.lengths) {
      lengths = new Uint32Array(count);
      for (let i = 0; i < count; i++) lengths[i] = b.lengths[pick(i)];
    }
    let targets: Float32Array | null = null;
    if (t) {
      targets = new Float32Array(count * t.perSample);
      for (let i = 0; i < count; i++) targets.set(t.data.subarray(pick(i) * t.perSample, (pick(i) + 1) * t.perSample), i * t.perSample);
    }
    return {
      tokens: b.tokens ? (data as Int32Array) : null,
      x: b.tokens ? null : (data as Float32Array),
      lengths,
      targets,
      count,
    };
  }

  /**
   * One optimiser step on one batch (forward, loss, backward, clipping, update, all in the core).
   * @throws {ShapeError} / {ValueError} on bad input (token ids ≥ vocabSize, labels not 0/1, ...); the model is unchanged then.
   */
  trainBatch(x: SequenceInput, y: Targets): Evaluation {
    const b = this.#block(x);
    const t = this.#targets(y, b.n, b.steps);
    const s = call(() => this.#handle().trainBatch(b.tokens, b.x, b.n, b.steps, b.lengths, t.data));
    return { loss: s[0], accuracy: s[2] > 0 ? s[1] / s[2] : undefined };
  }

  /**
   * Forward, loss and backward on one batch without an update; read the result with {@link gradients}.
   * Dropout is active as in training.
   */
  computeGradients(x: SequenceInput, y: Targets): GradientStats {
    const b = this.#block(x);
    const t = this.#targets(y, b.n, b.steps);
    const s = call(() => this.#handle().forwardBackward(b.tokens, b.x, b.n, b.steps, b.lengths, t.data));
    return { loss: s[0], accuracy: s[2] > 0 ? s[1] / s[2] : undefined, correct: s[1], count: s[2], terms: s[3] };
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

  /** The logits of the last forward pass, batch-first. */
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
    const raw = this.#handle();
    const epochs = options.epochs ?? 1;
    const batchSize = options.batchSize ?? 32;
    if (!isInt(epochs, 0, 1e6)) throw new ValueError(`epochs must be a non-negative integer, got ${String(epochs)}`);
    if (!isInt(batchSize, 1, 1 << 20)) throw new ValueError(`batchSize must be a positive integer, got ${String(batchSize)}`);
    let data = this.#block(x);
    let targets = this.#targets(y, data.n, data.steps);
    let val: { b: Block; t: TargetBlock } | null = null;
    if (options.validationData) {
      const vb = this.#block(options.validationData[0], 'validationData x');
      val = { b: vb, t: this.#targets(options.validationData[1], vb.n, vb.steps) };
    } else if (options.validationSplit !== undefined) {
      const f = options.validationSplit;
      if (!(typeof f === 'number' && f > 0 && f < 1)) throw new ValueError(`validationSplit must be in (0, 1), got ${String(f)}`);
      const nVal = Math.floor(data.n * f);
      if (nVal < 1 || nVal >= data.n) throw new ValueError(`validationSplit ${f} of ${data.n} samples leaves an empty split`);
      const all = { data, targets };
      const split = (from: number, to: number) => {
        const g = this.#gather(all.data, all.targets, null, from, to);
        const b: Block = { ...all.data, tokens: g.tokens, x: g.x, n: to - from, lengths: g.lengths };
        return { b, t: { data: g.targets!, perSample: all.targets.perSample } };
      };
      val = split(data.n - nVal, data.n);
      const tr = split(0, data.n - nVal);
      data = tr.b;
      targets = tr.t;
    }
    if (options.optimizer || options.clipNorm !== undefined) {
      this.setOptimizer((options.optimizer ?? this.#optimizer) as OptimizerSpec, { clipNorm: options.clipNorm ?? (this.#clipNorm || undefined) });
    }
    const baseLr = (this.#optimizer.lr as number | undefined) ?? 1e-3;
    const schedule = options.lrSchedule;
    if (schedule && !(schedule.type === 'step' ? isInt(schedule.stepSize, 1, 1e9) : schedule.type === 'cosine')) {
      throw new ValueError(`lrSchedule must be { type: 'step', stepSize } or { type: 'cosine' }, got ${JSON.stringify(schedule)}`);
    }
    const batches = Math.ceil(data.n / batchSize);
    const totalSteps = Math.max(1, epochs * batches);
    const lrAt = (epoch: number, step: number) => {
      if (!schedule) return baseLr;
      if (schedule.type === 'step') return baseLr * (schedule.gamma ?? 0.1) ** Math.floor(epoch / schedule.stepSize);
      const min = schedule.minLr ?? 0;
      return min + ((baseLr - min) * (1 + Math.cos((Math.PI * step) / totalSteps))) / 2;
    };
    const es = options.earlyStopping;
    const monitor = es?.monitor ?? (val ? 'valLoss' : 'loss');
    const higherBetter = monitor.endsWith('ccuracy');
    let best = higherBetter ? -Infinity : Infinity;
    let bestWeights: Float32Array | null = null;
    let waited = 0;
    const history: History = { epochs: [], stopReason: 'completed' };
    const next = shuffler(((this.config.seed ?? 0) ^ 0x9e3779b9) + this.#epochsDone * 7919);
    const idx = new Uint32Array(data.n);
    let lastYield = Date.now();
    for (let epoch = 0; epoch < epochs; epoch++) {
      if (options.signal?.aborted) {
        history.stopReason = 'aborted';
        break;
      }
      await options.callbacks?.onEpochBegin?.(epoch);
      for (let i = 0; i < data.n; i++) idx[i] = i;
      if (options.shuffle ?? true) {
        for (let i = data.n - 1; i > 0; i--) {
          const j = next(i + 1);
          const tmp = idx[i];
          idx[i] = idx[j];
          idx[j] = tmp;
        }
      }
      const start = performance.now();
      let lossSum = 0;
      let correct = 0;
      let counted = 0;
      let seen = 0;
      let aborted = false;
      for (let bi = 0; bi < batches; bi++) {
        const from = bi * batchSize;
        const to = Math.min(data.n, from + batchSize);
        const g = this.#gather(data, targets, idx, from, to);
        const lr = lrAt(epoch, epoch * batches + bi);
        if (schedule) call(() => raw.setLr(lr));
        const s = call(() => raw.trainBatch(g.tokens, g.x, g.count, data.steps, g.lengths, g.targets!));
        lossSum += s[0] * g.count;
        correct += s[1];
        counted += s[2];
        seen += g.count;
        const elapsed = (performance.now() - start) / 1000;
        await options.callbacks?.onBatchEnd?.({
          epoch,
          batch: bi,
          batches,
          loss: lossSum / seen,
          accuracy: counted > 0 ? correct / counted : undefined,
          samplesPerSecond: seen / Math.max(elapsed, 1e-9),
          lr,
        });
        // Let timers, I/O and signal handlers run at least every 50 ms.
        if (Date.now() - lastYield > 50) {
          await yieldNow();
          lastYield = Date.now();
        }
        if (options.signal?.aborted) {
          aborted = true;
          break;
        }
      }
      if (aborted) {
        history.stopReason = 'aborted';
        break;
      }
      const seconds = (performance.now() - start) / 1000;
      const logs: EpochLogs = {
        epoch,
        loss: lossSum / Math.max(seen, 1),
        accuracy: counted > 0 ? correct / counted : undefined,
        seconds,
        samplesPerSecond: seen / Math.max(seconds, 1e-9),
        lr: lrAt(epoch, (epoch + 1) * batches - 1),
      };
      if (val) {
        const e = await this.#evaluateBlock(val.b, val.t, batchSize);
        logs.valLoss = e.loss;
        logs.valAccuracy = e.accuracy;
      }
      this.#epochsDone++;
      history.epochs.push(logs);
      const verdict = await options.callbacks?.onEpochEnd?.(logs);
      if (es) {
        const value = logs[monitor];
        if (value === undefined) throw new ValueError(`earlyStopping monitors ${monitor}, which this run does not compute`);
        const delta = es.minDelta ?? 0;
        const improved = higherBetter ? value > best + delta : value < best - delta;
        if (improved) {
          best = value;
          waited = 0;
          if (es.restoreBestWeights) bestWeights = raw.params();
        } else if (++waited >= (es.patience ?? 0)) {
          history.stopReason = 'early-stopping';
          break;
        }
      }
      if (verdict === 'stop') {
        history.stopReason = 'callback';
        break;
      }
    }
    if (bestWeights && history.stopReason === 'early-stopping') call(() => raw.setParams(bestWeights!));
    return history;
  }

  async #evaluateBlock(b: Block, t: TargetBlock, batchSize: number): Promise<Evaluation> {
    const raw = this.#handle();
    let loss = 0;
    let correct = 0;
    let counted = 0;
    let lastYield = Date.now();
    for (let from = 0; from < b.n; from += batchSize) {
      const to = Math.min(b.n, from + batchSize);
      const g = this.#gather(b, t, null, from, to);
      const s = call(() => raw.evaluateBatch(g.tokens, g.x, g.count, b.steps, g.lengths, g.targets!));
      loss += s[0] * g.count;
      correct += s[1];
      counted += s[2];
      if (Date.now() - lastYield > 50) {
        await yieldNow();
        lastYield = Date.now();
      }
    }
    return { loss: loss / Math.max(b.n, 1), accuracy: counted > 0 ? correct / counted : undefined };
  }

  /**
   * Mean loss and accuracy (for sigmoid and softmax outputs) over a dataset, without dropout.
   * @throws {ShapeError} / {ValueError} on bad data.
   */
  async evaluate(x: SequenceInput, y: Targets, { batchSize = 256 }: { batchSize?: number } = {}): Promise<Evaluation> {
    const b = this.#block(x);
    return this.#evaluateBlock(b, this.#targets(y, b.n, b.steps), batchSize);
  }

  /**
   * Outputs for any number of sequences, in batches: σ(z) for a sigmoid output, softmax(z) for softmax,
   * z for linear; shape (B, U), or (B, T, U) for per-step models.
   */
  predict(x: SequenceInput, { batchSize = 256 }: { batchSize?: number } = {}): Tensor {
    const raw = this.#handle();
    const b = this.#block(x);
    const u = this.#units;
    const per = (this.#perStep ? b.steps : 1) * u;
    const out = new Float32Array(b.n * per);
    for (let from = 0; from < b.n; from += batchSize) {
      const to = Math.min(b.n, from + batchSize);
      const g = this.#gather(b, null, null, from, to);
      out.set(call(() => raw.predictBatch(g.tokens, g.x, g.count, b.steps, g.lengths)), from * per);
    }
    return new Tensor(out, this.#perStep ? [b.n, b.steps, u] : [b.n, u]);
  }

  /** Predicted classes: σ(z) > 0.5 for one sigmoid unit, else the argmax per row; (B) or (B, T). */
  predictClasses(x: SequenceInput, options: { batchSize?: number } = {}): Int32Array {
    if (this.#loss === 'mse') throw new StateError('predictClasses needs a sigmoid or softmax output; this model regresses');
    const p = this.predict(x, options);
    const u = this.#units;
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

  /** The model as parts to save: config, weights and optimiser state under PyTorch's names, metadata. @internal */
  toParts(extra: Record<string, string> = {}): ModelParts {
    const raw = this.#handle();
    const tensors: Record<string, TensorLike> = { ...this.stateDict() };
    const m = raw.optimizerM();
    const v = raw.optimizerV();
    const kind = this.#optimizer.type as string;
    for (const [name, t] of Object.entries(this.#split(m))) tensors[`optimizer.${kind}.m.${name}`] = t;
    if (v.length) for (const [name, t] of Object.entries(this.#split(v))) tensors[`optimizer.${kind}.v.${name}`] = t;
    return {
      config: { format: MODEL_FORMAT, version: MODEL_FORMAT_VERSION, model: this.config as unknown as Record<string, unknown> },
      tensors,
      metadata: {
        'cellstate.optimizer': JSON.stringify({ ...this.#optimizer, clipNorm: this.#clipNorm || undefined, step: raw.optimizerStep() }),
        'cellstate.epochs': String(this.#epochsDone),
        'cellstate.rng': Array.from(raw.rngState()).join(','),
        ...extra,
      },
    };
  }

  /** Restores weights and optimiser state from saved parts. @internal */
  restore(parts: ModelParts): void {
    const raw = this.#handle();
    const weights: Record<string, TensorLike> = {};
    for (const [k, t] of Object.entries(parts.tensors)) if (!k.startsWith('optimizer.')) weights[k] = t;
    this.loadStateDict(weights);
    const meta = parts.metadata ?? {};
    if (meta['cellstate.optimizer']) {
      let opt: Record<string, unknown>;
      try {
        opt = JSON.parse(meta['cellstate.optimizer']) as Record<string, unknown>;
      } catch (e) {
        throw new DataError('saved optimizer state is not valid JSON', { cause: e });
      }
      const { step, clipNorm, ...spec } = opt;
      this.setOptimizer(spec as OptimizerSpec, { clipNorm: clipNorm as number | undefined });
      const kind = spec.type as string;
      const join = (which: 'm' | 'v') => {
        const flat = which === 'm' ? raw.optimizerM() : raw.optimizerV();
        if (!flat.length) return flat;
        for (const e of this.#table) {
          const t = parts.tensors[`optimizer.${kind}.${which}.${e.name}`];
          if (!t) throw new DataError(`saved optimizer state lacks optimizer.${kind}.${which}.${e.name}`);
          checkTensor(`optimizer.${kind}.${which}.${e.name}`, t, e.shape);
          flat.set(t.data, e.offset);
        }
        return flat;
      };
      const m = join('m');
      const v = join('v');
      call(() => raw.setOptimizerState(Number(step ?? 0), m, v));
    }
    this.#epochsDone = Number(meta['cellstate.epochs'] ?? 0) || 0;
    if (meta['cellstate.rng']) {
      const words = meta['cellstate.rng'].split(',').map(Number);
      if (words.length !== 8 || !words.every((w) => Number.isInteger(w) && w >= 0 && w < 2 ** 32)) {
        throw new DataError(`saved random state "${meta['cellstate.rng']}" is not 8 unsigned 32-bit words`);
      }
      call(() => raw.setRngState(Uint32Array.from(words)));
    }
  }

  /** The whole model (config, weights, optimiser state) as one safetensors buffer: for browsers, IndexedDB, or sending. */
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

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** Builds a model from saved parts, checking the format version. @internal */
export function modelFromParts(parts: ModelParts, options: { backend?: Backend } = {}): SequenceModel {
  const c = parts.config as { format?: unknown; version?: unknown; model?: unknown };
  if (c.format !== MODEL_FORMAT) {
    throw new DataError(`not a cellstate model: config.format is ${JSON.stringify(c.format)}, expected "${MODEL_FORMAT}"`);
  }
  if (c.version !== MODEL_FORMAT_VERSION) {
    throw new DataError(
      `model format version ${JSON.stringify(c.version)} is not supported by this cellstate (it reads version ${MODEL_FORMAT_VERSION}); save it again with a matching version`,
    );
  }
  let model: SequenceModel;
  try {
    model = new SequenceModel(c.model as SequenceModelConfig, options);
  } catch (e) {
    throw new DataError(`saved model config is invalid: ${(e as Error).message}`, { cause: e });
  }
  try {
    model.restore(parts);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}

/**
 * Loads a model saved with `toArrayBuffer()` (or any safetensors bundle with a cellstate config).
 * @throws {DataError} on a truncated or corrupt buffer, another format or an incompatible version.
 * @throws {ShapeError} when the weights do not fit the config (the message lists every mismatch).
 */
export function modelFromArrayBuffer(bytes: ArrayBuffer | Uint8Array, options: { backend?: Backend } = {}): SequenceModel {
  return modelFromParts(decodeModelBundle(bytes), options);
}

/** A classifier of whole sequences: pooling 'last' and a sigmoid output of 1 unit unless given. */
export function sequenceClassifier(
  config: Omit<SequenceModelConfig, 'output' | 'pooling'> & { output?: OutputSpec; pooling?: 'last' | 'mean' | 'max' },
  options: { backend?: Backend } = {},
): SequenceModel {
  return new SequenceModel({ ...config, output: config.output ?? { units: 1, activation: 'sigmoid' } }, options);
}

/** A per-step model (tagging, language modelling): the head runs on every step; softmax over `output.units` classes. */
export function sequenceTagger(config: Omit<SequenceModelConfig, 'pooling'>, options: { backend?: Backend } = {}): SequenceModel {
  return new SequenceModel({ ...config, pooling: 'sequence' }, options);
}

/** A regressor over float sequences: linear output, mean squared error. `returnSequences` gives one output per step. */
export function sequenceRegressor(
  config: Omit<SequenceModelConfig, 'output' | 'pooling'> & { units?: number; pooling?: 'last' | 'mean' | 'max'; returnSequences?: boolean },
  options: { backend?: Backend } = {},
): SequenceModel {
  const { units = 1, returnSequences, ...rest } = config;
  return new SequenceModel(
    { ...rest, pooling: returnSequences ? 'sequence' : (config.pooling ?? 'last'), output: { units, activation: 'linear' } },
    options,
  );
}
