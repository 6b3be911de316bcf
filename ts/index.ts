/**
 * cellstate for Node.js: the native addon when it loads, the wasm module otherwise.
 * @packageDocumentation
 */
import './native';
import './model-node';

export * from './common';
export * from './data/node';
export { nativeFileName } from './native';
export * from './interop/index';
