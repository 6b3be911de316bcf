/**
 * cellstate for browsers and other non-Node runtimes: the wasm backend only, no Node built-ins.
 * @packageDocumentation
 */
import './parallel/browser';

export * from './common';
export * from './data/index';
export * from './interop/index';
export { saveModel, loadModel } from './model/persistence';
export * from './parallel/index';
export { webWorkerFactory } from './parallel/browser';
export * from './worker/index';
export { createTrainer } from './worker/browser';
export type { AbortSignalLike } from './globals';
