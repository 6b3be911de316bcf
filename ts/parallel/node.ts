/**
 * Node's side of the data-parallel engine: workers are worker_threads running `dist/parallel-worker.js`
 * (found beside this bundle, or from the source tree after `bash scripts/build`; CELLSTATE_WORKER_PATH overrides).
 * They inherit the process's V8 flags (e.g. --experimental-wasm-relaxed-simd).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Reply } from './protocol';
import { type WorkerFactory, registerWorkerFactory } from './pool';

function workerScript(): string {
  if (process.env.CELLSTATE_WORKER_PATH) return process.env.CELLSTATE_WORKER_PATH;
  for (const p of ['./parallel-worker.js', '../parallel-worker.js', '../../dist/parallel-worker.js']) {
    const path = fileURLToPath(new URL(p, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new Error('parallel-worker.js not found beside the package (run `bash scripts/build`, or set CELLSTATE_WORKER_PATH)');
}

/** worker_threads workers running the package's worker entry. */
export const nodeWorkerFactory: WorkerFactory = () => {
  const w = new Worker(workerScript());
  return {
    postMessage: (m, transfer) => w.postMessage(m, transfer),
    onMessage: (h) => w.on('message', (r: Reply) => h(r)),
    onError: (h) => {
      w.on('error', h);
      w.on('exit', (code) => code !== 0 && h(new Error(`worker exited with code ${code}`)));
    },
    terminate: () => w.terminate(),
    // An idle pool does not keep the process alive (a forgotten dispose() must not hang a script).
    hold: (busy) => (busy ? w.ref() : w.unref()),
  };
};

registerWorkerFactory(nodeWorkerFactory);
