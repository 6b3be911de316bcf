/**
 * cellstate for Node.js: the native addon when it loads, the wasm module otherwise.
 * @packageDocumentation
 */
import './native';

export * from './common';
export { nativeFileName } from './native';
