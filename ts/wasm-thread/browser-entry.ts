/**
 * The module Web Worker entry of the wasm threads build (dist/wasm-thread.browser.js): waits for the module and
 * the shared memory, instantiates one on the other and enters the core's pool, which it never leaves.
 */
import { initSync, workerMain } from '../generated/wasm-threads/cellstate_wasm.js';

self.addEventListener(
  'message',
  (e: MessageEvent<{ module: WebAssembly.Module; memory: WebAssembly.Memory }>) => {
    initSync({ module: e.data.module, memory: e.data.memory });
    workerMain();
  },
  { once: true },
);
