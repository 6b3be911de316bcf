/**
 * Saving and loading models, browser-safe: one safetensors buffer (config in its metadata) and IndexedDB.
 * The Node entry adds directories and files (ts/model-node.ts).
 */
import type { Backend } from './backend';
import { ValueError } from './errors';
import { loadFromIndexedDB, saveToIndexedDB } from './io/indexeddb';
import { type SequenceModel, modelFromArrayBuffer } from './model';

/** Where a model is saved: an IndexedDB key (browsers), or in Node a directory path / `{ dir }` / a `.safetensors` file. */
export type SaveTarget = string | { dir: string } | { file: string } | { indexedDB: string };

/** Where a model is loaded from: bytes, an IndexedDB key, or in Node a path. */
export type LoadSource = ArrayBuffer | Uint8Array | SaveTarget;

/** Platform hooks for paths. @internal */
export interface ModelFiles {
  save(model: SequenceModel, target: string | { dir: string } | { file: string }, metadata: Record<string, string>): Promise<void>;
  load(source: string | { dir: string } | { file: string }, options: { backend?: Backend }): Promise<SequenceModel>;
}

let files: ModelFiles | null = null;

/** Installs the Node file hooks. @internal */
export function registerModelFiles(f: ModelFiles): void {
  files = f;
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
  if (!files) throw new ValueError('this runtime has no file system: save to { indexedDB: key } or use model.toArrayBuffer()');
  await files.save(model, target, metadata);
}

/**
 * Loads a model saved by {@link saveModel} or `toArrayBuffer()`.
 * @throws {DataError} on a missing, truncated or corrupt file, another format or an incompatible version.
 * @throws {ShapeError} when the weights do not fit the config.
 */
export async function loadModel(source: LoadSource, options: { backend?: Backend } = {}): Promise<SequenceModel> {
  if (source instanceof ArrayBuffer || source instanceof Uint8Array) return modelFromArrayBuffer(source, options);
  if (typeof source === 'object' && source !== null && 'indexedDB' in source) {
    return modelFromArrayBuffer(await loadFromIndexedDB(source.indexedDB), options);
  }
  if (!files) throw new ValueError('this runtime has no file system: load from bytes or { indexedDB: key }');
  return files.load(source, options);
}
