/** The Web Worker entry (dist/parallel-worker.browser.js): one handler per worker, requests answered in order. */
import type { Request } from './protocol';
import { createHandler } from './worker';

const handle = createHandler();
let queue: Promise<void> = Promise.resolve();
const scope = globalThis as unknown as { onmessage: ((e: MessageEvent<Request>) => void) | null; postMessage(m: unknown): void };
scope.onmessage = (e) => {
  queue = queue.then(async () => scope.postMessage(await handle(e.data)));
};
