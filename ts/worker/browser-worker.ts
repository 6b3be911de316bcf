/**
 * The module Web Worker script of the browser trainer (`dist/worker.js`, `cellstate/worker`): the wasm
 * backend, the `.wasm` found beside this file unless the trainer passes another source.
 * @packageDocumentation
 */
import type { Reply, Request } from './protocol';
import { serve } from './serve';

interface WorkerScope {
  postMessage(message: Reply, transfer: ArrayBuffer[]): void;
  addEventListener(type: 'message', listener: (event: { data: Request }) => void): void;
}

const scope = globalThis as unknown as WorkerScope;
serve({
  post: (message, transfer = []) => scope.postMessage(message, transfer),
  listen: (handler) => scope.addEventListener('message', (event) => handler(event.data)),
});
