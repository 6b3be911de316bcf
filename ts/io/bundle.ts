/**
 * A whole model in one buffer, for browsers and `model.toArrayBuffer()`: a plain safetensors file whose
 * `__metadata__` holds the model config as JSON under the key {@link CONFIG_KEY} (`"cellstate.config"`).
 *
 * One format, not a container around one: a `.safetensors` bundle is a complete model that any
 * safetensors reader (Python, Rust, the HF hub viewer) can open, and the directory form
 * (`config.json` + `model.safetensors`, see `./node`) is the same data split in two, its
 * `model.safetensors` carrying no {@link CONFIG_KEY}. Other metadata (optimiser step counts, ...)
 * sits beside it as ordinary string → string pairs.
 */

import { DataError, ValueError, describe } from '../errors';
import type { Tensor, TensorLike } from '../tensor';
import { decodeSafetensors, encodeSafetensors } from './safetensors';

/** The `__metadata__` key under which a bundle stores the model config as JSON text. */
export const CONFIG_KEY = 'cellstate.config';

/** A model config: a plain JSON object (no undefined, functions, NaN, Infinity, BigInt or class instances). */
export type ModelConfig = Record<string, unknown>;

/** What a saved model consists of: its config, its tensors under PyTorch's names, and string metadata. */
export interface ModelParts<T extends TensorLike = TensorLike> {
  config: ModelConfig;
  tensors: Record<string, T>;
  metadata?: Record<string, string>;
}

/** A model as read back: tensors are fresh {@link Tensor}s; metadata is `{}` when there was none. */
export interface DecodedModelParts extends ModelParts<Tensor> {
  metadata: Record<string, string>;
}

/**
 * Encodes a model as one safetensors file with the config in its metadata. The result owns its whole
 * `ArrayBuffer`, so `result.buffer` can be handed out as is.
 * @throws {ValueError} when the config is not a plain JSON object, `metadata` uses the reserved key
 *   {@link CONFIG_KEY}, or a name or metadata value is invalid (see `encodeSafetensors`).
 * @throws {ShapeError} when a tensor is not a `{ data: Float32Array, shape }` of matching size.
 */
export function encodeModelBundle(model: ModelParts): Uint8Array {
  checkParts(model);
  const metadata = { ...model.metadata };
  if (Object.hasOwn(metadata, CONFIG_KEY)) {
    throw new ValueError(`metadata key "${CONFIG_KEY}" is reserved for the model config; pass the config as \`config\``);
  }
  metadata[CONFIG_KEY] = serializeConfig(model.config);
  return encodeSafetensors(model.tensors, metadata);
}

/**
 * Decodes a bundle written by {@link encodeModelBundle}. Tensors stored as F64, F16 or BF16 are
 * converted to float32 (see `decodeSafetensors`). The config's key is removed from the returned metadata.
 * @throws {DataError} when the bytes are not a valid safetensors file, or it has no {@link CONFIG_KEY}
 *   metadata (a weights-only file, not a cellstate bundle), or that is not JSON of an object.
 */
export function decodeModelBundle(bytes: ArrayBuffer | Uint8Array): DecodedModelParts {
  const { tensors, metadata } = decodeSafetensors(bytes);
  if (!Object.hasOwn(metadata, CONFIG_KEY)) {
    const keys = Object.keys(metadata);
    throw new DataError(
      `not a cellstate model bundle: the safetensors metadata has no "${CONFIG_KEY}" key ` +
        `(it has ${keys.length ? keys.map((k) => JSON.stringify(k)).join(', ') : 'no metadata'}); a weights-only file needs its config.json`,
    );
  }
  const config = parseConfig(metadata[CONFIG_KEY], `the "${CONFIG_KEY}" metadata`);
  delete metadata[CONFIG_KEY];
  return { config, tensors, metadata };
}

/**
 * JSON text of a config, after checking that it is plain JSON (so that parsing gives it back unchanged).
 * @param indent spaces per level, as in `JSON.stringify` (0 for compact).
 * @throws {ValueError} naming the path of the first value JSON cannot represent faithfully.
 */
export function serializeConfig(config: ModelConfig, indent = 0): string {
  if (!isPlainObject(config)) throw new ValueError(`config must be a plain object, got ${describe(config)}`);
  checkJson(config, 'config', new Set());
  return JSON.stringify(config, null, indent);
}

/**
 * Parses config JSON text.
 * @param where what the text is, for messages (e.g. a file path).
 * @throws {DataError} when the text is not JSON or not a JSON object.
 */
export function parseConfig(text: string, where: string): ModelConfig {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new DataError(`${where} is not valid JSON: ${(e as Error).message}`, { cause: e });
  }
  if (!isPlainObject(value)) throw new DataError(`${where} must be a JSON object, got ${describe(value)}`);
  return value;
}

/** @throws {ValueError} when `model` is not an object with `config` and `tensors`. */
export function checkParts(model: unknown): asserts model is ModelParts {
  if (typeof model !== 'object' || model === null) {
    throw new ValueError(`expected { config, tensors, metadata? }, got ${describe(model)}`);
  }
  const m = model as Partial<ModelParts>;
  if (typeof m.tensors !== 'object' || m.tensors === null) {
    throw new ValueError(`tensors must be an object of { data: Float32Array, shape } by name, got ${describe(m.tensors)}`);
  }
  if (m.metadata !== undefined && (typeof m.metadata !== 'object' || m.metadata === null)) {
    throw new ValueError(`metadata must be an object of strings, got ${describe(m.metadata)}`);
  }
}

function checkJson(value: unknown, path: string, seen: Set<object>): void {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new ValueError(`${path} is ${value}, which JSON cannot represent`);
    return;
  }
  if (typeof value !== 'object') throw new ValueError(`${path} is ${describe(value)}, which JSON cannot represent`);
  if (seen.has(value)) throw new ValueError(`${path} refers back to an enclosing object (a cycle)`);
  seen.add(value);
  if (Array.isArray(value)) {
    value.forEach((v, i) => checkJson(v, `${path}[${i}]`, seen));
  } else if (isPlainObject(value)) {
    for (const [k, v] of Object.entries(value)) checkJson(v, `${path}.${k}`, seen);
  } else {
    throw new ValueError(`${path} is ${describe(value)}; a config holds only plain objects, arrays, strings, numbers, booleans and null`);
  }
  seen.delete(value);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
