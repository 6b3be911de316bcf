/**
 * cellstate for browsers and other non-Node runtimes: the wasm backend only, no Node built-ins.
 * @packageDocumentation
 */
export * from './common';
export * from './data/index';
export * from './interop/index';
export { saveModel, loadModel } from './model/persistence';
export * from './worker/index';
export { createTrainer } from './worker/browser';
export type { AbortSignalLike } from './globals';
