/**
 * `createTrainer` for browsers: a module Web Worker running `dist/worker.js`, started with the
 * `new Worker(new URL(...), { type: 'module' })` pattern that Vite, webpack 5 and others bundle.
 */
import { type Trainer, type TrainerOptions, startTrainer } from './trainer';

/**
 * Starts a trainer: a dedicated module worker with its own wasm backend (or, with `workers > 1`, that many
 * data-parallel wasm workers), ready when the promise resolves.
 * @throws {ValueError} on bad options.
 * @throws {BackendError} when the worker cannot start or its backend cannot load.
 */
export function createTrainer(options: TrainerOptions = {}): Promise<Trainer> {
  return startTrainer(options, () => new Worker(new URL('./worker.js', import.meta.url), { type: 'module' }));
}
