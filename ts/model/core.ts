/**
 * The core's side of a model: the config it is built from (checked and translated from a
 * {@link SequenceModelConfig}), the raw handle both bindings export, and the statistics a batch call
 * returns, decoded once here.
 */
import { call } from '../backend';
import { ValueError } from '../errors';
import type { OptimizerSpec, SequenceModelConfig } from './types';

/** How the core embeds its input. */
export type CoreInput =
  | { kind: 'one-hot'; vocabSize: number }
  | { kind: 'embedding'; vocabSize: number; dim: number; paddingIdx: number | null }
  | { kind: 'dense'; features: number };

/** The loss the output activation implies. */
export type CoreLoss = 'bce' | 'cross-entropy' | 'mse';

/** The JSON the core's `ModelHandle` is built from (crates/cellstate-core's model config); defaults filled in. */
export interface CoreConfig {
  input: CoreInput;
  lstm: { hiddenSize: number; numLayers: number; bidirectional: boolean; dropout: number };
  pooling: 'last' | 'mean' | 'max' | 'sequence';
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

function prob(name: string, v: unknown): number {
  if (v === undefined) return 0;
  if (typeof v !== 'number' || !(v >= 0 && v < 1)) throw new ValueError(`${name} must be a number in [0, 1), got ${String(v)}`);
  return v;
}

/**
 * Checks a config and turns it into the core's form.
 * @throws {ValueError} naming the first field that cannot work.
 */
export function coreConfig(c: SequenceModelConfig): CoreConfig {
  if (typeof c !== 'object' || c === null) throw new ValueError('model config must be an object');
  let input: CoreInput;
  const tokenInput = c.input === 'one-hot' || (typeof c.input === 'object' && c.input !== null && 'embedding' in c.input);
  if (tokenInput && !isInt(c.vocabSize, 1)) {
    throw new ValueError(`vocabSize must be a positive integer for token input, got ${String(c.vocabSize)}`);
  }
  if (c.input === 'one-hot') input = { kind: 'one-hot', vocabSize: c.vocabSize! };
  else if (typeof c.input === 'object' && c.input !== null && 'embedding' in c.input) {
    if (!isInt(c.input.embedding, 1))
      throw new ValueError(`input.embedding must be a positive integer (the embedding width), got ${String(c.input.embedding)}`);
    const p = c.input.paddingIdx === undefined ? 0 : c.input.paddingIdx;
    if (p !== null && !isInt(p, 0, c.vocabSize! - 1))
      throw new ValueError(`input.paddingIdx must be null or an id below vocabSize, got ${String(p)}`);
    input = { kind: 'embedding', vocabSize: c.vocabSize!, dim: c.input.embedding, paddingIdx: p };
  } else if (typeof c.input === 'object' && c.input !== null && 'features' in c.input) {
    if (!isInt(c.input.features, 1)) throw new ValueError(`input.features must be a positive integer, got ${String(c.input.features)}`);
    input = { kind: 'dense', features: c.input.features };
  } else {
    throw new ValueError(`input must be 'one-hot', { embedding: dim } or { features: F }, got ${JSON.stringify(c.input)}`);
  }
  const l = c.lstm;
  if (typeof l !== 'object' || l === null) throw new ValueError('lstm must be an object like { hiddenSize: 16 }');
  if (!isInt(l.hiddenSize, 1)) throw new ValueError(`lstm.hiddenSize must be a positive integer, got ${String(l.hiddenSize)}`);
  if (l.numLayers !== undefined && !isInt(l.numLayers, 1, 64))
    throw new ValueError(`lstm.numLayers must be an integer in 1..64, got ${String(l.numLayers)}`);
  if (l.bidirectional !== undefined && typeof l.bidirectional !== 'boolean') throw new ValueError('lstm.bidirectional must be a boolean');
  const pooling = c.pooling ?? 'last';
  if (!['last', 'mean', 'max', 'sequence'].includes(pooling))
    throw new ValueError(`pooling must be 'last', 'mean', 'max' or 'sequence', got ${String(pooling)}`);
  const head = (c.head ?? []).map((d, i) => {
    if (!isInt(d?.units, 1)) throw new ValueError(`head[${i}].units must be a positive integer, got ${String(d?.units)}`);
    const activation = d.activation ?? 'relu';
    if (!['relu', 'tanh', 'linear'].includes(activation)) throw new ValueError(`head[${i}].activation must be 'relu', 'tanh' or 'linear'`);
    return { units: d.units, activation };
  });
  const o = c.output;
  if (typeof o !== 'object' || o === null || !isInt(o.units, 1))
    throw new ValueError(`output.units must be a positive integer, got ${String(o?.units)}`);
  const loss = ({ sigmoid: 'bce', softmax: 'cross-entropy', linear: 'mse' } as const)[o.activation] as CoreLoss | undefined;
  if (!loss) throw new ValueError(`output.activation must be 'sigmoid', 'softmax' or 'linear', got ${String(o.activation)}`);
  if (o.activation === 'softmax' && o.units < 2) throw new ValueError('a softmax output needs at least 2 units (classes)');
  let maskToken: number | null = null;
  if (c.mask !== undefined && c.mask !== false) {
    if (!tokenInput) throw new ValueError('mask needs token input; pass lengths for float features');
    maskToken = c.mask === true ? 0 : c.mask;
    if (!isInt(maskToken, 0, c.vocabSize! - 1))
      throw new ValueError(`mask must be true, false or a token id below vocabSize, got ${String(c.mask)}`);
    if (pooling === 'sequence') throw new ValueError("mask cannot be combined with pooling 'sequence'; pass lengths with 'post' padding");
  }
  const seed = c.seed ?? 0;
  if (!Number.isSafeInteger(seed) || seed < 0) throw new ValueError(`seed must be a non-negative safe integer, got ${String(seed)}`);
  return {
    input,
    lstm: {
      hiddenSize: l.hiddenSize,
      numLayers: l.numLayers ?? 1,
      bidirectional: l.bidirectional ?? false,
      dropout: prob('lstm.dropout', l.dropout),
    },
    pooling,
    head,
    headDropout: prob('dropout', c.dropout),
    units: o.units,
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
  const spec = o ?? { type: 'adam' };
  if (typeof spec !== 'object' || spec === null || !['adam', 'adamw', 'sgd'].includes(spec.type)) {
    throw new ValueError(`optimizer.type must be 'adam', 'adamw' or 'sgd', got ${JSON.stringify((spec as { type?: unknown })?.type)}`);
  }
  if (spec.type === 'sgd' && typeof spec.lr !== 'number') throw new ValueError('SGD needs an explicit lr');
  return { ...spec };
}
