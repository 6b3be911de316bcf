/** The data-parallel engine's public surface (both entries export it). */
export { createParallelModel, lstmForwardFlops, MIN_SHARD_FLOPS, ParallelModel, shardRanges } from './pool';
export type { ParallelOptions, WorkerFactory, WorkerPort } from './pool';
