/**
 * The worker_threads entry of the wasm threads build (dist/wasm-thread.js): instantiates the module it is given on
 * the shared memory and enters the core's pool, which it never leaves (the pool ends it by terminating it).
 */
import { workerData } from 'node:worker_threads';
import { initSync, workerMain } from '../generated/wasm-threads/cellstate_wasm.js';

const { module, memory } = workerData as { module: WebAssembly.Module; memory: WebAssembly.Memory };
initSync({ module, memory });
workerMain();
