/**
 * The public types of sequence models: the config a model is built from, its inputs and targets, and the
 * options and results of training. Plain data only; the model is in ./sequence-model.ts.
 * Shapes: B batch, T steps, F features, V vocabulary, U output units.
 */
import type { AbortSignalLike } from '../globals';
import type { TensorLike } from '../tensor';

/** How tokens or features enter the LSTM. */
export type InputSpec =
  /** Token ids as one-hot vectors of width `vocabSize` (computed as a row gather, never a dense product). */
  | 'one-hot'
  /**
   * Token ids through an embedding table (`embedding.weight`, V × dim); row `paddingIdx` (default 0) stays zero.
   * `dropout` (default 0): dropout on the embedded vectors while training, one draw per element.
   */
  | { embedding: number; paddingIdx?: number | null; dropout?: number }
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
   * step, PyTorch's h_n), 'mean' or 'max' over real steps, 'max-mean' (both concatenated, max first: the head's
   * input is 2·D·H wide), or 'sequence' (the head runs on every step:
   * tagging, language modelling).
   */
  pooling?: 'last' | 'mean' | 'max' | 'max-mean' | 'sequence';
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
  /**
   * Cosine from lr to `minLr` over all the run's batches; with `warmup` (a fraction in [0, 1) of those
   * batches) the lr first rises linearly from lr / warmupBatches to lr (warm-up + cosine, one-cycle-like).
   */
  | { type: 'cosine'; minLr?: number; warmup?: number };

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
  earlyStopping?: {
    monitor?: 'valLoss' | 'valAccuracy' | 'loss' | 'accuracy';
    patience?: number;
    minDelta?: number;
    restoreBestWeights?: boolean;
  };
  /**
   * Length-bucketed batches for masked input (`lengths`, or a model built with `mask`): each epoch's
   * batches hold samples of similar real length and are cut to their longest, so padding costs little.
   * Buckets (default 20, at most one per batch) split the samples at quantiles of their lengths; the order
   * within buckets and the order of the buckets' batches are shuffled from the seed. Results per sample
   * are those of unpadded input; the batches differ from unbucketed training's unless all lengths are
   * equal. The validation pass is cut the same way. Not for per-step models.
   */
  bucketByLength?: boolean | { buckets?: number };
  /**
   * After training, restore the weights of the epoch with the best value of this validation metric
   * (ties: the earlier epoch); needs validation data. `History.selectedEpoch` says which was kept.
   */
  keepBestEpoch?: 'valAccuracy' | 'valLoss';
  callbacks?: Callbacks;
  /** Aborting stops training between batches; `fit` then resolves with `stopReason: 'aborted'`. */
  signal?: AbortSignalLike;
  /**
   * Resume: the epoch to start at (as Keras' `initial_epoch`; `epochs` stays the total). With a model
   * restored from a checkpoint taken at {@link Checkpoint} `{ epoch, batch }`, `fit` with
   * `initialEpoch: epoch, initialBatch: batch` ends with the weights of the uninterrupted run, bit for bit
   * (same backend and threads): the data order, learning rates, optimiser and dropout state are restored.
   */
  initialEpoch?: number;
  /** Resume inside `initialEpoch`: the first batch to run (default 0). */
  initialBatch?: number;
  /** Resume inside `initialEpoch`: the checkpoint's `totals`, so the epoch's loss and accuracy cover its earlier batches. */
  initialTotals?: EpochTotals;
  /**
   * Resume: the logs of the `initialEpoch` epochs already trained, as the earlier run's `onEpochEnd` received
   * them (`epoch` 0, 1, …). With them a resumed run chooses its epoch (`keepBestEpoch`) and counts its
   * patience (`earlyStopping`) over the whole run, and `History.epochs` lists every epoch.
   */
  initialHistory?: EpochLogs[];
  /**
   * Resume with `keepBestEpoch` (or `earlyStopping.restoreBestWeights`) and an `initialHistory`: the flat
   * weights (`parameterNames` order, as `onEpochEnd` could read them with `stateDict()`) after the best epoch
   * of `initialHistory`, to be restored if no later epoch beats it.
   */
  initialBestWeights?: Float32Array;
  /** Call `onCheckpoint` every this many batches, as well as after every epoch. */
  checkpointEvery?: number;
  /**
   * Called (and awaited) at each checkpoint with the position to resume from: save the model there. At an
   * epoch's end it comes after `onEpochEnd` (so the epoch's logs are known to what saves it).
   */
  onCheckpoint?: (at: Checkpoint) => void | Promise<void>;
}

/**
 * Where a resumed `fit` starts: pass these as `initialEpoch`, `initialBatch` and (inside an epoch)
 * `initialTotals`.
 */
export interface Checkpoint {
  epoch: number;
  batch: number;
  /** Inside an epoch: the running totals of its batches so far, so the resumed epoch's loss covers them all. */
  totals?: EpochTotals;
}

/** The running totals of an epoch's training batches (the loss summed per sample, correct of counted). */
export interface EpochTotals {
  lossSum: number;
  correct: number;
  counted: number;
  seen: number;
}

/** What `fit` resolves to. */
export interface History {
  epochs: EpochLogs[];
  stopReason: 'completed' | 'early-stopping' | 'callback' | 'aborted';
  /** The epoch (0-based, as `EpochLogs.epoch`) whose weights the model holds after `fit`; absent when none finished. */
  selectedEpoch?: number;
  /** Why: 'last epoch', 'best valAccuracy' / 'best valLoss' (keepBestEpoch), or 'early stopping: best <metric>'; absent when none finished. */
  selection?: string;
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
