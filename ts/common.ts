/** Everything both entries (Node and browser) export, except `saveModel` / `loadModel`: each entry has its own. */
export { init, loadBackend, getBackend } from './backend';
export type { Backend, BackendName, InitOptions, WasmSource } from './backend';
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
} from './model/index';
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
  SaveTarget,
  LoadSource,
} from './model/index';
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
