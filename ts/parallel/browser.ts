/**
 * The browser's side of the data-parallel engine: module Web Workers running `dist/parallel-worker.browser.js`
 * from beside this bundle. No SharedArrayBuffer or cross-origin isolation is needed.
 */
import type { Reply } from './protocol';
import { type WorkerFactory, registerWorkerFactory } from './pool';

/** Module Web Workers running the package's browser worker entry (or `url`). */
export function webWorkerFactory(url: string | URL = new URL('./parallel-worker.browser.js', import.meta.url)): WorkerFactory {
  return () => {
    const w = new Worker(url, { type: 'module' });
    return {
      postMessage: (m) => w.postMessage(m),
      onMessage: (h) => w.addEventListener('message', (e: MessageEvent<Reply>) => h(e.data)),
      onError: (h) => w.addEventListener('error', (e: ErrorEvent) => h(new Error(e.message || 'worker failed to load'))),
      terminate: () => w.terminate(),
    };
  };
}

if (typeof Worker !== 'undefined') registerWorkerFactory(webWorkerFactory());
