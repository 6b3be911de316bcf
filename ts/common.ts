/** Everything both entries (Node and browser) export, except `saveModel` / `loadModel`: each entry has its own. */
export { init, loadBackend, getBackend, relaxedSimdSupported, wasmThreadsUnsupported } from './backend';
export type { Backend, BackendName, InitOptions, WasmBuild, WasmFeatures, WasmSource } from './backend';
export { LSTM, liveHandles } from './lstm';
export type { LSTMOptions, ForwardOptions, ForwardResult, StateResult, BackwardOptions, Gradients } from './lstm';
export * from './model/index';
export { Tensor, shapeSize } from './tensor';
export type { TensorLike } from './tensor';
export { encodeSafetensors, decodeSafetensors } from './io/safetensors';
export { CellstateError, ShapeError, ValueError, StateError, DisposedError, BackendError, DataError } from './errors';
