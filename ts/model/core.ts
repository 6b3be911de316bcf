/**
 * The core's side of a model: the config it is built from (checked and translated from a
 * {@link SequenceModelConfig}), the raw handle both bindings export, and the statistics a batch call
 * returns, decoded once here.
 */
import { call } from '../backend';
import { ValueError, describe } from '../errors';
import type { OptimizerSpec, SequenceModelConfig } from './types';

/** How the core embeds its input. */
export type CoreInput =
  | { kind: 'one-hot'; vocabSize: number }
  | { kind: 'embedding'; vocabSize: number; dim: number; paddingIdx: number | null; dropout: number }
  | { kind: 'dense'; features: number };

/** The loss the output activation implies. */
export type CoreLoss = 'bce' | 'cross-entropy' | 'mse';

/** The JSON the core's `ModelHandle` is built from (crates/cellstate-core's model config); defaults filled in. */
export interface CoreConfig {
  input: CoreInput;
  lstm: { hiddenSize: number; numLayers: number; bidirectional: boolean; dropout: number };
  pooling: 'last' | 'mean' | 'max' | 'max-mean' | 'sequence';
  head: { units: number; activation: 'relu' | 'tanh' | 'linear' }[];
  headDropout: number;
  units: number;
  loss: CoreLoss;
  maskToken: number | null;
  seed: number;
}

/** A batch call of the core: tokens (B·T) or features (B·T·F), lengths (B) or null, targets; returns raw statistics. */
type BatchCall = (
  tokens: Int32Array | null,
  x: Float32Array | null,
  batch: number,
  steps: number,
  lengths: Uint32Array | null,
  targets: Float32Array,
) => Float64Array | number[];

/** The raw model handle both bindings export (generated glue; never exposed to users). */
export interface RawModel {
  configJson(): string;
  paramTable(): string;
  params(): Float32Array;
  setParams(data: Float32Array): void;
  grads(): Float32Array;
  setOptimizer(config: string, clipNorm: number): void;
  setLr(lr: number): void;
  /** Sequences of `steps` steps per chunk of a chunked evaluation or prediction (the core's memory budget), ≥ 1. */
  maxBatch(steps: number): number;
  optimizerStep(): number;
  optimizerM(): Float32Array;
  optimizerV(): Float32Array;
  setOptimizerState(step: number, m: Float32Array, v: Float32Array): void;
  rngState(): Uint32Array;
  setRngState(state: Uint32Array): void;
  trainBatch: BatchCall;
  forwardBackward: BatchCall;
  applyGradients(grads: Float32Array): void;
  evaluateBatch: BatchCall;
  checkBatch(
    tokens: Int32Array | null,
    x: Float32Array | null,
    batch: number,
    steps: number,
    lengths: Uint32Array | null,
    targets: Float32Array | null,
  ): void;
  predictBatch(tokens: Int32Array | null, x: Float32Array | null, batch: number, steps: number, lengths: Uint32Array | null): Float32Array;
  logits(): Float32Array;
  free?(): void;
}

/**
 * What one batch call reports: the mean loss, correct / counted predictions (counted is 0 for regression), and
 * the number of terms the mean loss averages (what shards of one batch are weighted by).
 */
export interface BatchStats {
  loss: number;
  correct: number;
  counted: number;
  terms: number;
}

/** Inputs as one contiguous batch-first block of `n` sequences of `steps` × `width` values, with optional lengths. */
export interface Block {
  tokens: Int32Array | null;
  x: Float32Array | null;
  n: number;
  steps: number;
  width: number;
  lengths: Uint32Array | null;
}

/**
 * Runs one batch call of the core on `b` and decodes its statistics: the bindings return them as a bare
 * `[loss, correct, counted, terms]` array, read here and nowhere else.
 * @throws {ShapeError} / {ValueError} as the core reports bad input.
 */
export function runBatch(
  raw: RawModel,
  kind: 'trainBatch' | 'forwardBackward' | 'evaluateBatch',
  b: Block,
  targets: Float32Array,
): BatchStats {
  const s = call(() => raw[kind](b.tokens, b.x, b.n, b.steps, b.lengths, targets));
  return { loss: s[0], correct: s[1], counted: s[2], terms: s[3] };
}

/**
 * An integer in [min, max].
 * @throws never.
 */
export function isInt(v: unknown, min: number, max = 1 << 24): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
}

/** Largest size the config's JSON carries to the core (its fields are u32-sized on wasm32 and native alike). */
const U32 = 0xffffffff;

/**
 * A size as the core reads it: an integer in 0..2^32 − 1. Only the JS type is checked here; the range
 * (zero, the maximum, the memory the model needs) is the core's rule (crates/cellstate-core/src/limits.rs).
 */
function size(name: string, v: unknown): number {
  if (!isInt(v, 0, U32)) throw new ValueError(`${name} must be a positive integer, got ${describe(v)}`);
  return v;
}

/** A number that survives JSON (NaN and Infinity do not); its range is the core's rule. */
function finite(name: string, v: unknown): number {
  if (v === undefined) return 0;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ValueError(`${name} must be a number in [0, 1), got ${describe(v)}`);
  return v;
}

/**
 * Checks a config's JS types and turns it into the core's form. Ranges, limits and the rules that tie
 * fields together (paddingIdx and mask below vocabSize, softmax with 2+ units, mask with token input)
 * are checked once, by the core, when the handle is built.
 * @throws {ValueError} naming the first field of the wrong type.
 */
export function coreConfig(c: SequenceModelConfig): CoreConfig {
  if (typeof c !== 'object' || c === null) throw new ValueError(`model config must be an object, got ${describe(c)}`);
  let input: CoreInput;
  const tokenInput = c.input === 'one-hot' || (typeof c.input === 'object' && c.input !== null && 'embedding' in c.input);
  if (tokenInput && c.vocabSize === undefined) throw new ValueError('vocabSize must be a positive integer for token input, got undefined');
  if (c.input === 'one-hot') input = { kind: 'one-hot', vocabSize: size('vocabSize', c.vocabSize) };
  else if (typeof c.input === 'object' && c.input !== null && 'embedding' in c.input) {
    const dim = size('input.embedding (the embedding width)', c.input.embedding);
    const p = c.input.paddingIdx === undefined ? 0 : c.input.paddingIdx;
    if (p !== null && !isInt(p, 0, U32)) throw new ValueError(`input.paddingIdx must be null or an id below vocabSize, got ${describe(p)}`);
    input = {
      kind: 'embedding',
      vocabSize: size('vocabSize', c.vocabSize),
      dim,
      paddingIdx: p,
      dropout: finite('input.dropout', c.input.dropout),
    };
  } else if (typeof c.input === 'object' && c.input !== null && 'features' in c.input) {
    input = { kind: 'dense', features: size('input.features', c.input.features) };
  } else {
    throw new ValueError(
      `input must be 'one-hot', { embedding: dim } or { features: F }, got ${JSON.stringify(c.input) ?? describe(c.input)}`,
    );
  }
  const l = c.lstm;
  if (typeof l !== 'object' || l === null) throw new ValueError('lstm must be an object like { hiddenSize: 16 }');
  const hiddenSize = size('lstm.hiddenSize', l.hiddenSize);
  const numLayers = l.numLayers === undefined ? 1 : size('lstm.numLayers', l.numLayers);
  if (l.bidirectional !== undefined && typeof l.bidirectional !== 'boolean') throw new ValueError('lstm.bidirectional must be a boolean');
  const pooling = c.pooling ?? 'last';
  if (!['last', 'mean', 'max', 'max-mean', 'sequence'].includes(pooling))
    throw new ValueError(`pooling must be 'last', 'mean', 'max', 'max-mean' or 'sequence', got ${String(pooling)}`);
  if (c.head !== undefined && !Array.isArray(c.head)) throw new ValueError(`head must be an array of { units }, got ${describe(c.head)}`);
  const head = (c.head ?? []).map((d, i) => {
    if (typeof d !== 'object' || d === null) throw new ValueError(`head[${i}] must be { units, activation? }, got ${describe(d)}`);
    const units = size(`head[${i}].units`, d.units);
    const activation = d.activation ?? 'relu';
    if (!['relu', 'tanh', 'linear'].includes(activation)) throw new ValueError(`head[${i}].activation must be 'relu', 'tanh' or 'linear'`);
    return { units, activation };
  });
  const o = c.output;
  if (typeof o !== 'object' || o === null) throw new ValueError(`output.units must be a positive integer, got ${describe(o)}`);
  const units = size('output.units', o.units);
  const loss = ({ sigmoid: 'bce', softmax: 'cross-entropy', linear: 'mse' } as const)[o.activation] as CoreLoss | undefined;
  if (!loss || !Object.hasOwn({ sigmoid: 1, softmax: 1, linear: 1 }, o.activation))
    throw new ValueError(`output.activation must be 'sigmoid', 'softmax' or 'linear', got ${String(o.activation)}`);
  let maskToken: number | null = null;
  if (c.mask !== undefined && c.mask !== false) {
    maskToken = c.mask === true ? 0 : c.mask;
    if (!isInt(maskToken, 0, U32)) throw new ValueError(`mask must be true, false or a token id below vocabSize, got ${describe(c.mask)}`);
  }
  const seed = c.seed ?? 0;
  if (!Number.isSafeInteger(seed) || seed < 0) throw new ValueError(`seed must be a non-negative safe integer, got ${String(seed)}`);
  return {
    input,
    lstm: {
      hiddenSize,
      numLayers,
      bidirectional: l.bidirectional ?? false,
      dropout: finite('lstm.dropout', l.dropout),
    },
    pooling,
    head,
    headDropout: finite('dropout', c.dropout),
    units,
    loss,
    maskToken,
    seed,
  };
}

/**
 * Checks an optimiser spec; omitted means Adam with PyTorch's defaults.
 * @throws {ValueError} on an unknown type, or SGD without an lr.
 */
export function normalizeOptimizer(o: OptimizerSpec | undefined): OptimizerSpec {
  const spec = o === undefined ? { type: 'adam' as const } : o;
  if (typeof spec !== 'object' || spec === null || !['adam', 'adamw', 'sgd'].includes(spec.type)) {
    throw new ValueError(`optimizer.type must be 'adam', 'adamw' or 'sgd', got ${JSON.stringify((spec as { type?: unknown })?.type)}`);
  }
  // JSON turns NaN and Infinity into null: refuse them here, by name; their ranges are the core's.
  for (const [k, v] of Object.entries(spec)) {
    if (k !== 'type' && k !== 'nesterov' && v !== undefined && !(typeof v === 'number' && Number.isFinite(v))) {
      throw new ValueError(`optimizer.${k} must be a finite number, got ${describe(v)}`);
    }
  }
  if (spec.type === 'sgd' && typeof spec.lr !== 'number') throw new ValueError('SGD needs an explicit lr');
  return { ...spec };
}
