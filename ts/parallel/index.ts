/** The data-parallel engine's public surface (both entries export it). */
export { createParallelModel, ParallelModel, shardRanges } from './pool';
export type { ParallelOptions, WorkerFactory, WorkerPort } from './pool';
