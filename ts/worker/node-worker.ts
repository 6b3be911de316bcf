/**
 * The worker_threads script of the Node trainer (`dist/node-worker.js`): the native addon when it loads,
 * else wasm, as `init()` chooses on the main thread.
 * @packageDocumentation
 */
import { parentPort } from 'node:worker_threads';
import '../native';
import type { Request } from './protocol';
import { serve } from './serve';

if (!parentPort) throw new Error('cellstate/node-worker runs inside a worker_threads Worker only');
const port = parentPort;
serve({
  post: (message, transfer = []) => port.postMessage(message, transfer),
  listen: (handler) => port.on('message', (m: Request) => handler(m)),
});
