/**
 * Saving and loading models, browser-safe: one safetensors buffer (the config in its metadata) or
 * IndexedDB. The Node entry exports `saveModel` / `loadModel` from ./files.ts instead, which add
 * directories and files and hand everything else to the functions here.
 */
import type { Backend } from '../backend';
import { DataError, ValueError } from '../errors';
import { type ModelParts, decodeModelBundle } from '../io/bundle';
import { loadFromIndexedDB, saveToIndexedDB } from '../io/indexeddb';
import { modelConfigOf } from './format';
import { SequenceModel } from './sequence-model';

/** Where a model is saved: an IndexedDB key (browsers), or in Node a directory path / `{ dir }` / a `.safetensors` file. */
export type SaveTarget = string | { dir: string } | { file: string } | { indexedDB: string };

/** Where a model is loaded from: bytes, an IndexedDB key, or in Node a path. */
export type LoadSource = ArrayBuffer | Uint8Array | SaveTarget;

/**
 * Builds a model from saved parts, checking the format version. @internal
 * @throws {DataError} on another format, an incompatible version or an invalid config.
 * @throws {ShapeError} when the weights do not fit the config.
 */
export function modelFromParts(parts: ModelParts, options: { backend?: Backend } = {}): SequenceModel {
  const config = modelConfigOf(parts.config);
  let model: SequenceModel;
  try {
    model = new SequenceModel(config, options);
  } catch (e) {
    throw new DataError(`saved model config is invalid: ${(e as Error).message}`, { cause: e });
  }
  try {
    model.restore(parts);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}

/**
 * Loads a model saved with `toArrayBuffer()` (or any safetensors bundle with a cellstate config).
 * @throws {DataError} on a truncated or corrupt buffer, another format or an incompatible version.
 * @throws {ShapeError} when the weights do not fit the config (the message lists every mismatch).
 */
export function modelFromArrayBuffer(bytes: ArrayBuffer | Uint8Array, options: { backend?: Backend } = {}): SequenceModel {
  return modelFromParts(decodeModelBundle(bytes), options);
}

/**
 * Saves config, weights and optimiser state (so training resumes). In Node: a directory (`config.json` +
 * `model.safetensors`) or one `.safetensors` file; in browsers: `{ indexedDB: key }`.
 * @throws {ValueError} on a target this runtime cannot write; {DataError} when writing fails.
 */
export async function saveModel(model: SequenceModel, target: SaveTarget, metadata: Record<string, string> = {}): Promise<void> {
  if (typeof target === 'object' && target !== null && 'indexedDB' in target) {
    await saveToIndexedDB(target.indexedDB, model.toArrayBuffer(metadata));
    return;
  }
  throw new ValueError('this runtime has no file system: save to { indexedDB: key } or use model.toArrayBuffer()');
}

/**
 * Loads a model saved by {@link saveModel} or `toArrayBuffer()`.
 * @throws {DataError} on a missing, truncated or corrupt file, another format or an incompatible version.
 * @throws {ShapeError} when the weights do not fit the config.
 * @throws {ValueError} on a path, which this runtime cannot read.
 */
export async function loadModel(source: LoadSource, options: { backend?: Backend } = {}): Promise<SequenceModel> {
  if (source instanceof ArrayBuffer || source instanceof Uint8Array) return modelFromArrayBuffer(source, options);
  if (typeof source === 'object' && source !== null && 'indexedDB' in source) {
    return modelFromArrayBuffer(await loadFromIndexedDB(source.indexedDB), options);
  }
  throw new ValueError('this runtime has no file system: load from bytes or { indexedDB: key }');
}
