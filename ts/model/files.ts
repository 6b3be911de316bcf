/**
 * Saving and loading models in Node: the browser-safe `saveModel` / `loadModel` of ./persistence.ts plus
 * paths: a directory (`config.json` + `model.safetensors`, see io/node.ts) or one `.safetensors` bundle.
 * Exported by the Node entry only, under the same names.
 */
import { mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Backend } from '../backend';
import { DataError } from '../errors';
import { readRegularFile, replaceFiles } from '../io/atomic';
import { encodeModelBundle } from '../io/bundle';
import { MAX_WEIGHTS_BYTES, readModelDir, writeModelDir } from '../io/node';
import * as portable from './persistence';
import type { LoadSource, SaveTarget } from './persistence';
import type { SequenceModel } from './sequence-model';

type PathTarget = string | { dir: string } | { file: string };

/** Everything but bytes and `{ indexedDB }` is a path, as in the browser-safe functions' messages. */
function isPath(t: LoadSource): t is PathTarget {
  return !(t instanceof ArrayBuffer || t instanceof Uint8Array || (typeof t === 'object' && t !== null && 'indexedDB' in t));
}

function pathOf(t: PathTarget): { path: string; file: boolean } {
  if (typeof t === 'string') return { path: t, file: t.endsWith('.safetensors') };
  if ('file' in t) return { path: t.file, file: true };
  return { path: t.dir, file: false };
}

/**
 * Saves config, weights and optimiser state (so training resumes): a directory (`config.json` +
 * `model.safetensors`), one `.safetensors` file, or `{ indexedDB: key }` where IndexedDB exists.
 * Files are replaced atomically.
 * @throws {ValueError} on a bad target or metadata; {DataError} when writing fails (the message names the path).
 */
export async function saveModel(model: SequenceModel, target: SaveTarget, metadata: Record<string, string> = {}): Promise<void> {
  if (!isPath(target)) return portable.saveModel(model, target, metadata);
  const { path, file } = pathOf(target);
  if (!file) return writeModelDir(path, model.toParts(metadata));
  const bytes = encodeModelBundle(model.toParts(metadata));
  try {
    await mkdir(dirname(path), { recursive: true });
  } catch (e) {
    throw new DataError(`cannot write model file ${path}: ${(e as Error).message}`, { cause: e });
  }
  await replaceFiles([{ path, data: bytes }], `cannot write model file ${path}`);
}

/**
 * Loads a model saved by {@link saveModel} or `toArrayBuffer()`: from bytes, `{ indexedDB: key }`, or a
 * path (a directory or a `.safetensors` file; a path of another name is read as whichever it is).
 * @throws {DataError} on a missing, truncated or corrupt file, another format or an incompatible version.
 * @throws {ShapeError} when the weights do not fit the config.
 */
export async function loadModel(source: LoadSource, options: { backend?: Backend } = {}): Promise<SequenceModel> {
  if (!isPath(source)) return portable.loadModel(source, options);
  const { path, file } = pathOf(source);
  let isFile = file;
  if (!file) {
    const s = await stat(path).catch((e: unknown) => {
      throw new DataError(
        `cannot read model at ${path}: ${(e as Error).message}; expected a directory with config.json and model.safetensors, or a .safetensors file`,
        { cause: e },
      );
    });
    isFile = s.isFile();
  }
  if (isFile) {
    const bytes = await readRegularFile(path, MAX_WEIGHTS_BYTES, `model file ${path}`);
    return portable.modelFromArrayBuffer(bytes, options);
  }
  return portable.modelFromParts(await readModelDir(path), options);
}
