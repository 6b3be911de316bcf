/**
 * cellstate for Node.js: the native addon when it loads, the wasm module otherwise; models saved to and
 * loaded from paths as well as bytes.
 * @packageDocumentation
 */
import './native';
import './parallel/node';

export * from './common';
export * from './data/node';
export { saveModel, loadModel } from './model/files';
export { nativeFileName } from './native';
export * from './interop/index';
export * from './parallel/index';
export * from './worker/index';
export { createTrainer } from './worker/node';
export type { AbortSignalLike } from './globals';
