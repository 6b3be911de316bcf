/**
 * The saved form of a sequence model (browser-safe): a config `{ format, version, model }` beside the
 * weights, and string metadata for the training state (optimiser, epochs, random stream). Encoding and
 * decoding of those fields live here; ./persistence.ts and the Node file layer build on them.
 */
import { DataError } from '../errors';
import type { ModelConfig } from '../io/bundle';
import type { OptimizerSpec, SequenceModelConfig } from './types';

/** The format name written by `saveModel` / `toArrayBuffer`; anything else is refused on load. */
export const MODEL_FORMAT = 'cellstate.sequence-model';
/** The file format version written by `saveModel` / `toArrayBuffer`; a different major version is refused. */
export const MODEL_FORMAT_VERSION = 1;

/** Metadata keys of the training state. */
export const META_OPTIMIZER = 'cellstate.optimizer';
export const META_EPOCHS = 'cellstate.epochs';
export const META_RNG = 'cellstate.rng';

/**
 * The saved config of a model.
 * @throws never.
 */
export function savedConfig(model: Readonly<SequenceModelConfig>): ModelConfig {
  return { format: MODEL_FORMAT, version: MODEL_FORMAT_VERSION, model: model as unknown as Record<string, unknown> };
}

/**
 * The model config inside a saved config, after checking its format and version.
 * @throws {DataError} on another format or an incompatible version.
 */
export function modelConfigOf(config: ModelConfig): SequenceModelConfig {
  const c = config as { format?: unknown; version?: unknown; model?: unknown };
  if (c.format !== MODEL_FORMAT) {
    throw new DataError(`not a cellstate model: config.format is ${JSON.stringify(c.format)}, expected "${MODEL_FORMAT}"`);
  }
  if (c.version !== MODEL_FORMAT_VERSION) {
    throw new DataError(
      `model format version ${JSON.stringify(c.version)} is not supported by this cellstate (it reads version ${MODEL_FORMAT_VERSION}); save it again with a matching version`,
    );
  }
  return c.model as SequenceModelConfig;
}

/** The optimiser state saved in metadata: its spec, clipping and step count. */
export interface SavedOptimizer {
  spec: OptimizerSpec;
  clipNorm: number | undefined;
  step: number;
}

/**
 * Metadata text of the optimiser state.
 * @throws never.
 */
export function encodeOptimizer(spec: OptimizerSpec, clipNorm: number, step: number): string {
  return JSON.stringify({ ...spec, clipNorm: clipNorm || undefined, step });
}

/** @throws {DataError} when the text is not JSON. */
export function decodeOptimizer(text: string): SavedOptimizer {
  let opt: Record<string, unknown>;
  try {
    opt = JSON.parse(text) as Record<string, unknown>;
  } catch (e) {
    throw new DataError('saved optimizer state is not valid JSON', { cause: e });
  }
  if (typeof opt !== 'object' || opt === null || Array.isArray(opt)) throw new DataError('saved optimizer state is not a JSON object');
  const { step = 0, clipNorm, ...spec } = opt;
  if (!Number.isSafeInteger(step) || (step as number) < 0)
    throw new DataError(`saved optimizer step ${JSON.stringify(step)} is not a step count`);
  if (clipNorm !== undefined && clipNorm !== null && !(typeof clipNorm === 'number' && clipNorm > 0 && Number.isFinite(clipNorm))) {
    throw new DataError(`saved optimizer clipNorm ${JSON.stringify(clipNorm)} is not a positive number`);
  }
  return { spec: spec as OptimizerSpec, clipNorm: (clipNorm ?? undefined) as number | undefined, step: step as number };
}

/**
 * Metadata text of the core's random state (8 words).
 * @throws never.
 */
export function encodeRng(state: Uint32Array): string {
  return Array.from(state).join(',');
}

/** @throws {DataError} unless the text is 8 comma-separated unsigned 32-bit words. */
export function decodeRng(text: string): Uint32Array {
  const words = text.split(',').map(Number);
  if (words.length !== 8 || !words.every((w) => Number.isInteger(w) && w >= 0 && w < 2 ** 32)) {
    throw new DataError(`saved random state "${text}" is not 8 unsigned 32-bit words`);
  }
  return Uint32Array.from(words);
}
