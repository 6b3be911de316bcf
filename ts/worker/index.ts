/** The trainer's public types, shared by both entries (each exports its own `createTrainer`). */
export { Trainer } from './trainer';
export type { TrainerOptions, TrainerFitOptions, TrainerModel, WorkerLike, WebWorkerLike, NodeWorkerLike } from './trainer';
export type { WorkerFitResult, WorkerBackendInfo } from './protocol';
