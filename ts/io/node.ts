/**
 * Model directories for Node: `config.json` (the config, pretty-printed JSON) beside `model.safetensors`
 * (the tensors and string metadata). The same data as a one-buffer bundle (`./bundle`), split in two so
 * the config can be read and edited by hand and the weights opened by any safetensors reader.
 *
 * Each file is replaced atomically (./atomic.ts: written under a temporary name in the same directory,
 * then renamed over the old one; on any failure the temporary files are removed). The pair is not replaced as one
 * (POSIX has no two-file rename): weights are renamed first, the config last.
 */

import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { DataError, ValueError } from '../errors';
import { readRegularFile, replaceFiles } from './atomic';
import { CONFIG_KEY, type DecodedModelParts, type ModelParts, checkParts, parseConfig, serializeConfig } from './bundle';
import { decodeSafetensors, encodeSafetensors } from './safetensors';

export * from './index';

/** File name of the config in a model directory. */
export const CONFIG_FILE = 'config.json';
/** File name of the tensors in a model directory. */
export const WEIGHTS_FILE = 'model.safetensors';

/**
 * Writes `config.json` and `model.safetensors` into `dir`, creating it (and its parents) if needed and
 * replacing files of those names. Everything is encoded before anything is written, so bad input leaves
 * the directory untouched.
 * @throws {ValueError} when the config is not plain JSON, metadata uses the reserved key
 *   `"cellstate.config"`, or a name or metadata value is invalid.
 * @throws {ShapeError} when a tensor is not a `{ data: Float32Array, shape }` of matching size.
 * @throws {DataError} when the directory cannot be created or a file cannot be written or renamed
 *   (the message names the path; `cause` is the system error).
 */
export async function writeModelDir(dir: string, model: ModelParts): Promise<void> {
  checkParts(model);
  if (model.metadata && Object.hasOwn(model.metadata, CONFIG_KEY)) {
    throw new ValueError(`metadata key "${CONFIG_KEY}" is reserved for the model config; pass the config as \`config\``);
  }
  const configText = `${serializeConfig(model.config, 2)}\n`;
  const weights = encodeSafetensors(model.tensors, model.metadata);

  try {
    await fsp.mkdir(dir, { recursive: true });
  } catch (e) {
    throw new DataError(`could not create the model directory "${dir}": ${(e as Error).message}`, { cause: e });
  }
  // Weights first, config last: a config.json never names weights that are not there yet.
  await replaceFiles(
    [
      { path: join(dir, WEIGHTS_FILE), data: weights },
      { path: join(dir, CONFIG_FILE), data: configText },
    ],
    `could not save the model to "${dir}"`,
  );
}

/**
 * Reads a model directory written by {@link writeModelDir} (or by hand: any `config.json` holding a JSON
 * object beside any valid `model.safetensors`). F64, F16 and BF16 tensors are converted to float32.
 * `config.json` is the config; a `"cellstate.config"` key in the weights' metadata (a bundle copied in
 * as `model.safetensors`) is dropped from the returned metadata and not used.
 * @throws {DataError} when `dir` is missing or not a directory, either file is missing or unreadable,
 *   `config.json` is not JSON of an object, or `model.safetensors` is corrupt; the message names the path.
 */
export async function readModelDir(dir: string): Promise<DecodedModelParts> {
  const expected = `a model directory with ${CONFIG_FILE} and ${WEIGHTS_FILE}`;
  let st;
  try {
    st = await fsp.stat(dir);
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
    throw new DataError(`"${dir}" ${missing ? 'does not exist' : `cannot be read (${(e as Error).message})`}; expected ${expected}`, {
      cause: e,
    });
  }
  if (!st.isDirectory()) throw new DataError(`"${dir}" is not a directory; expected ${expected}`);

  const configPath = join(dir, CONFIG_FILE);
  const config = parseConfig(await readFile(configPath, 'utf8', `the model config (JSON) of ${expected}`), `"${configPath}"`);
  const weightsPath = join(dir, WEIGHTS_FILE);
  const bytes = await readFile(weightsPath, null, `the model weights (safetensors) of ${expected}`);
  let decoded;
  try {
    decoded = decodeSafetensors(bytes);
  } catch (e) {
    throw new DataError(`"${weightsPath}": ${(e as Error).message}`, { cause: e });
  }
  delete decoded.metadata[CONFIG_KEY];
  return { config, tensors: decoded.tensors, metadata: decoded.metadata };
}

/** Largest config.json read (a config is a few hundred bytes). */
const MAX_CONFIG_BYTES = 1 << 20;
/**
 * Largest model.safetensors read: the core holds at most 2 GiB of parameters, gradients and moments
 * (crates/cellstate-core/src/limits.rs), so weights plus two moments stay below 1.5 GiB; 3 GiB leaves room.
 */
export const MAX_WEIGHTS_BYTES = 3 * 2 ** 30;

async function readFile(path: string, encoding: 'utf8', expected: string): Promise<string>;
async function readFile(path: string, encoding: null, expected: string): Promise<Uint8Array>;
async function readFile(path: string, encoding: 'utf8' | null, expected: string): Promise<string | Uint8Array> {
  try {
    const bytes = await readRegularFile(path, encoding === null ? MAX_WEIGHTS_BYTES : MAX_CONFIG_BYTES, `"${path}"`);
    return encoding === null ? bytes : new TextDecoder().decode(bytes);
  } catch (e) {
    throw new DataError(`${(e as Error).message}; expected ${expected}`, { cause: e });
  }
}
