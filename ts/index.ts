/**
 * cellstate for Node.js: the native addon when it loads, the wasm module otherwise.
 * @packageDocumentation
 */
import './native';
import './model-node';
import './parallel/node';

export * from './common';
export * from './data/node';
export { nativeFileName } from './native';
export * from './interop/index';
export * from './parallel/index';
