/**
 * Sequence models, browser-safe: what both entries export. `saveModel` / `loadModel` are not here: each
 * entry exports its own (./persistence.ts for browsers, ./files.ts for Node).
 *
 * - types.ts: the public config, input, option and result types
 * - core.ts: the core's config (checked), its raw handle and decoded batch statistics
 * - batching.ts: user input → contiguous blocks → batches
 * - fit.ts: the training and evaluation loops
 * - sequence-model.ts: the `SequenceModel` class and its builders
 * - format.ts, persistence.ts, files.ts: the saved form, bytes / IndexedDB, Node paths
 */
export { SequenceModel, sequenceClassifier, sequenceTagger, sequenceRegressor, liveModelHandles } from './sequence-model';
export { modelFromArrayBuffer } from './persistence';
export type { SaveTarget, LoadSource } from './persistence';
export { MODEL_FORMAT, MODEL_FORMAT_VERSION } from './format';
export type {
  SequenceModelConfig,
  InputSpec,
  DenseLayerSpec,
  OutputSpec,
  OptimizerSpec,
  LrSchedule,
  SequenceInput,
  SequenceBatchInput,
  Targets,
  BatchLogs,
  EpochLogs,
  Callbacks,
  FitOptions,
  Checkpoint,
  EpochTotals,
  History,
  Evaluation,
  GradientStats,
} from './types';
