/** The worker_threads entry (dist/parallel-worker.js): one handler per worker, requests answered in order. */
import { parentPort } from 'node:worker_threads';
import '../native';
import type { Request } from './protocol';
import { createHandler, replyTransfer } from './worker';

const handle = createHandler();
let queue: Promise<void> = Promise.resolve();
parentPort!.on('message', (req: Request) => {
  queue = queue.then(async () => {
    const reply = await handle(req);
    parentPort!.postMessage(reply, replyTransfer(reply));
  });
});
