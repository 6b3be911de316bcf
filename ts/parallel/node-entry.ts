/** The worker_threads entry (dist/parallel-worker.js): one handler per worker, requests answered in order. */
import { parentPort } from 'node:worker_threads';
import '../native';
import type { Request } from './protocol';
import { createHandler } from './worker';

const handle = createHandler();
let queue: Promise<void> = Promise.resolve();
parentPort!.on('message', (req: Request) => {
  // Replies are copied, not transferred: with a transfer list here the first call of a fresh pool ran at about half
  // the speed (its kernels tiered up later), measured in Node 20 and not explained; the copies cost little.
  queue = queue.then(async () => parentPort!.postMessage(await handle(req)));
});
