/** Everything both entries (Node and browser) export. */
export { init, loadBackend, getBackend, relaxedSimdSupported } from './backend';
export type { Backend, BackendName, InitOptions, WasmBuild, WasmSource } from './backend';
export { LSTM, liveHandles } from './lstm';
export type { LSTMOptions, ForwardOptions, ForwardResult, BackwardOptions, Gradients } from './lstm';
export {
  SequenceModel,
  sequenceClassifier,
  sequenceTagger,
  sequenceRegressor,
  modelFromArrayBuffer,
  liveModelHandles,
  MODEL_FORMAT,
  MODEL_FORMAT_VERSION,
} from './model';
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
  History,
  Evaluation,
  GradientStats,
} from './model';
export { saveModel, loadModel } from './model-io';
export type { SaveTarget, LoadSource } from './model-io';
export { Tensor, shapeSize } from './tensor';
export type { TensorLike } from './tensor';
export { encodeSafetensors, decodeSafetensors } from './io/safetensors';
export {
  CellstateError,
  ShapeError,
  ValueError,
  StateError,
  DisposedError,
  BackendError,
  DataError,
} from './errors';
