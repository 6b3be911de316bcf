/**
 * `createTrainer` for Node: a `worker_threads` Worker running `dist/node-worker.js`, with the native addon
 * (or wasm) loaded there as `init()` chooses. It does not keep the process alive while idle.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { type Trainer, type TrainerOptions, startTrainer } from './trainer';

/** The worker script: beside this module in the package (dist/), or dist/ of a clone when run from ts/. */
function workerScript(): URL {
  const candidates = ['./node-worker.js', '../../dist/node-worker.js'].map((p) => new URL(p, import.meta.url));
  return candidates.find((u) => existsSync(fileURLToPath(u))) ?? candidates[0];
}

/**
 * Starts a trainer: a worker thread with its own backend (or, with `workers > 1`, that many data-parallel
 * wasm workers), ready when the promise resolves.
 * @throws {ValueError} on bad options.
 * @throws {BackendError} when the worker cannot start or its backend cannot load.
 */
export function createTrainer(options: TrainerOptions = {}): Promise<Trainer> {
  return startTrainer(options, () => new Worker(workerScript()));
}
