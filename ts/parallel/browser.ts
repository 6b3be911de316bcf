/**
 * The browser's side of the data-parallel engine: module Web Workers running `dist/parallel-worker.browser.js`
 * from beside this bundle. No SharedArrayBuffer or cross-origin isolation is needed.
 */
import type { Reply } from './protocol';
import { type WorkerFactory, registerWorkerFactory } from './pool';

/**
 * Module Web Workers running the package's browser worker entry, or the script at `url`. The default spells out
 * `new Worker(new URL('./parallel-worker.browser.js', import.meta.url), { type: 'module' })` so that bundlers
 * (Vite, webpack 5) see a worker entry and bundle it, rather than copying the file as an opaque asset.
 * @throws never (a worker that fails to load reports through `onError`).
 */
export function webWorkerFactory(url?: string | URL): WorkerFactory {
  return () => {
    const w =
      url === undefined
        ? new Worker(new URL('./parallel-worker.browser.js', import.meta.url), { type: 'module' })
        : new Worker(url, { type: 'module' });
    return {
      postMessage: (m, transfer) => w.postMessage(m, transfer ?? []),
      onMessage: (h) => w.addEventListener('message', (e: MessageEvent<Reply>) => h(e.data)),
      onError: (h) => w.addEventListener('error', (e: ErrorEvent) => h(new Error(e.message || 'worker failed to load'))),
      terminate: () => w.terminate(),
    };
  };
}

if (typeof Worker !== 'undefined') registerWorkerFactory(webWorkerFactory());
