/**
 * The safetensors format (https://github.com/huggingface/safetensors), read and written without
 * dependencies, browser-safe:
 *
 *     [8 bytes]  N, unsigned 64-bit little-endian
 *     [N bytes]  UTF-8 JSON object { name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__"?: { string: string } }
 *     [rest]     the byte buffer; offsets are relative to its start, tensors are row-major little-endian
 *
 * The reader checks what the reference implementation (safetensors/src/tensor.rs, `Metadata::validate`)
 * checks, and more: the same 100 MB header limit, tensors contiguous from byte 0 to the end of the
 * file with no holes or overlaps, byte lengths equal to product(shape) × itemsize, and no duplicate
 * JSON keys. It never reads out of bounds and never assumes the data is aligned.
 *
 * The writer produces what the reference writer produces for float32 tensors: the header
 * `{"__metadata__":{...},"a":{"dtype":"F32","shape":[...],"data_offsets":[b,e]},...}` as compact
 * JSON, padded with spaces so the data starts at a multiple of 8, tensors sorted by name (byte order
 * of their UTF-8, as Rust sorts strings) and laid out in that order. Metadata keys are sorted the same
 * way (the reference uses a HashMap, so its order is arbitrary; ours is deterministic).
 */

import { DataError, ValueError, describe } from '../errors';
import { Tensor, type TensorLike, checkTensor } from '../tensor';

/** The header key that holds the string → string metadata map. */
export const METADATA_KEY = '__metadata__';

/** Largest header accepted, as in the reference implementation (`MAX_HEADER_SIZE`). */
export const MAX_HEADER_BYTES = 100_000_000;

/** Bytes per element of every dtype in the spec; only {@link READ_DTYPES} can be decoded. */
const ITEM_SIZE: Record<string, number> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  F8_E8M0: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  I64: 8,
  U64: 8,
  F64: 8,
  C64: 8,
};

/**
 * Dtypes the reader converts to float32. Integer dtypes are refused rather than rounded: every
 * tensor cellstate saves is float, and an I64 read as float32 would silently lose digits above 2^24.
 */
const READ_DTYPES = ['F32', 'F64', 'F16', 'BF16'] as const;
type ReadDtype = (typeof READ_DTYPES)[number];

/** A decoded file: tensors by name (in file order) and the `__metadata__` map (empty when absent). */
export interface Safetensors {
  tensors: Record<string, Tensor>;
  metadata: Record<string, string>;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const utf8 = new TextEncoder();
// fatal: invalid UTF-8 throws; ignoreBOM: a BOM stays in the text, so JSON.parse refuses it like serde_json does.
const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Encodes float32 tensors and optional metadata as a safetensors file. The result owns its whole
 * `ArrayBuffer` (`result.buffer.byteLength === result.length`). Every tensor is written as F32.
 * @param tensors tensors by name; names are any non-empty string except `"__metadata__"`.
 * @param metadata string → string pairs stored under `"__metadata__"` (omitted from the header when empty).
 * @throws {ShapeError} when a tensor is not a `{ data: Float32Array, shape }` of matching size.
 * @throws {ValueError} on an empty or reserved name, a non-string metadata value, or a name or
 *   value that is not well-formed UTF-16 (a lone surrogate cannot be written as UTF-8).
 */
export function encodeSafetensors(tensors: Record<string, TensorLike>, metadata?: Record<string, string>): Uint8Array {
  if (typeof tensors !== 'object' || tensors === null) {
    throw new ValueError(
      `tensors must be an object of { data: Float32Array, shape } by name, got ${tensors === null ? 'null' : typeof tensors}`,
    );
  }
  const names = Object.keys(tensors).sort(compareCodePoints);
  const parts: string[] = [];
  const meta = checkMetadata(metadata);
  const metaKeys = Object.keys(meta).sort(compareCodePoints);
  if (metaKeys.length > 0) {
    parts.push(`${JSON.stringify(METADATA_KEY)}:{${metaKeys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(meta[k])}`).join(',')}}`);
  }
  let offset = 0;
  const checked: TensorLike[] = [];
  for (const name of names) {
    if (name === '') throw new ValueError('a tensor name must not be empty');
    if (name === METADATA_KEY) throw new ValueError(`"${METADATA_KEY}" is reserved for metadata and cannot name a tensor`);
    checkWellFormed(`tensor name ${JSON.stringify(name)}`, name);
    const t = checkTensor(`tensor "${name}"`, tensors[name]);
    checked.push(t);
    const end = offset + t.data.byteLength;
    parts.push(`${JSON.stringify(name)}:{"dtype":"F32","shape":[${t.shape.join(',')}],"data_offsets":[${offset},${end}]}`);
    offset = end;
  }
  const json = utf8.encode(`{${parts.join(',')}}`);
  const headerLength = json.length + ((8 - (json.length % 8)) % 8);
  const out = new Uint8Array(8 + headerLength + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, headerLength, true);
  view.setUint32(4, Math.floor(headerLength / 2 ** 32), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);
  let at = 8 + headerLength;
  for (const t of checked) {
    if (LITTLE_ENDIAN) {
      out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    } else {
      for (let i = 0; i < t.data.length; i++) view.setFloat32(at + 4 * i, t.data[i], true);
    }
    at += t.data.byteLength;
  }
  return out;
}

/**
 * Decodes a safetensors file. F32 is copied as is; F64, F16 and BF16 are converted to float32 on load
 * (F16 and BF16 exactly, F64 rounded to nearest, with values beyond float32's range becoming ±Infinity).
 * The returned tensors own their memory: nothing aliases `bytes`.
 * @throws {DataError} when `bytes` is not an ArrayBuffer or Uint8Array, or the file is shorter than 8
 *   bytes, its header length is past the end or above 100 MB, the header is not UTF-8 JSON of an object,
 *   has a duplicate key, an entry lacks `dtype`/`shape`/`data_offsets` or has them of the wrong type,
 *   `__metadata__` is not a string → string map, a dtype is unknown or not F32/F64/F16/BF16, or the
 *   offsets are out of bounds, overlap, leave a hole or trailing bytes, or disagree with the shape.
 */
export function decodeSafetensors(bytes: ArrayBuffer | Uint8Array): Safetensors {
  let u8: Uint8Array;
  if (bytes instanceof Uint8Array) u8 = bytes;
  else if (bytes instanceof ArrayBuffer) u8 = new Uint8Array(bytes);
  else throw new DataError(`safetensors: expected an ArrayBuffer or Uint8Array, got ${describe(bytes)}`);

  if (u8.length < 8) {
    throw new DataError(`safetensors: the file is ${u8.length} bytes long, shorter than the 8-byte header length`);
  }
  const view = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
  const lo = view.getUint32(0, true);
  const hi = view.getUint32(4, true);
  if (hi !== 0 || lo > MAX_HEADER_BYTES) {
    const n = BigInt(hi) * 2n ** 32n + BigInt(lo);
    throw new DataError(`safetensors: header length ${n} is above the ${MAX_HEADER_BYTES}-byte limit (not a safetensors file, or corrupt)`);
  }
  if (8 + lo > u8.length) {
    throw new DataError(`safetensors: header length ${lo} runs past the end of the ${u8.length}-byte file (truncated?)`);
  }

  let text: string;
  try {
    text = utf8Strict.decode(u8.subarray(8, 8 + lo));
  } catch (e) {
    throw new DataError('safetensors: the header is not valid UTF-8', { cause: e });
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    throw new DataError(`safetensors: the header is not valid JSON: ${(e as Error).message}`, { cause: e });
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new DataError(`safetensors: the header must be a JSON object, got ${describe(header)}`);
  }
  const duplicate = findDuplicateKey(text);
  if (duplicate !== undefined) {
    throw new DataError(`safetensors: the header has the key ${JSON.stringify(duplicate)} more than once`);
  }

  const metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === METADATA_KEY) {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        throw new DataError(`safetensors: "${METADATA_KEY}" must be an object of strings, got ${describe(value)}`);
      }
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== 'string') {
          throw new DataError(`safetensors: "${METADATA_KEY}" values must be strings; ${JSON.stringify(k)} is ${describe(v)}`);
        }
        defineOwn(metadata, k, v);
      }
    } else {
      entries.push(parseEntry(name, value));
    }
  }

  const dataStart = 8 + lo;
  const dataLength = u8.length - dataStart;
  checkLayout(entries, dataLength);

  const tensors: Record<string, Tensor> = {};
  for (const e of entries) {
    defineOwn(tensors, e.name, new Tensor(convert(view, e.dtype as ReadDtype, dataStart + e.begin, e.count), e.shape));
  }
  return { tensors, metadata };
}

interface Entry {
  name: string;
  dtype: string;
  shape: number[];
  count: number;
  begin: number;
  end: number;
}

/** Checks one header entry's fields and dtype. */
function parseEntry(name: string, value: unknown): Entry {
  const where = `safetensors: tensor ${JSON.stringify(name)}`;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new DataError(`${where}: expected an object { dtype, shape, data_offsets }, got ${describe(value)}`);
  }
  const v = value as Record<string, unknown>;
  for (const field of ['dtype', 'shape', 'data_offsets']) {
    if (!Object.hasOwn(v, field)) throw new DataError(`${where}: missing "${field}"`);
  }
  const { dtype, shape, data_offsets: offsets } = v;
  if (typeof dtype !== 'string') throw new DataError(`${where}: "dtype" must be a string, got ${describe(dtype)}`);
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    throw new DataError(`${where}: "shape" must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
    throw new DataError(`${where}: "data_offsets" must be [begin, end] with non-negative integers, got ${JSON.stringify(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) throw new DataError(`${where}: data_offsets [${begin}, ${end}] end before they begin`);
  const itemSize = ITEM_SIZE[dtype];
  if (itemSize === undefined || !Object.hasOwn(ITEM_SIZE, dtype)) {
    throw new DataError(`${where}: ${JSON.stringify(dtype)} is not a safetensors dtype`);
  }
  if (!(READ_DTYPES as readonly string[]).includes(dtype)) {
    throw new DataError(`${where}: dtype ${dtype} is not supported (cellstate reads ${READ_DTYPES.join(', ')})`);
  }
  // product(shape) in BigInt: a header may claim dimensions whose product is past 2^53.
  const bytes = (shape as number[]).reduce((a, d) => a * BigInt(d), 1n) * BigInt(itemSize);
  if (bytes !== BigInt(end - begin)) {
    throw new DataError(
      `${where}: shape [${shape.join(', ')}] of ${dtype} needs ${bytes} bytes but data_offsets [${begin}, ${end}] hold ${end - begin}`,
    );
  }
  const count = (end - begin) / itemSize;
  return { name, dtype, shape: shape as number[], count, begin, end };
}

/** Tensors must tile the byte buffer exactly: sorted by offset, each begins where the previous ends. */
function checkLayout(entries: Entry[], dataLength: number): void {
  for (const e of entries) {
    if (e.end > dataLength) {
      throw new DataError(
        `safetensors: tensor ${JSON.stringify(e.name)} has data_offsets [${e.begin}, ${e.end}] past the end of the ${dataLength}-byte data buffer (truncated?)`,
      );
    }
  }
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  let previous: Entry | undefined;
  for (const e of sorted) {
    if (e.begin < cursor) {
      throw new DataError(
        `safetensors: tensor ${JSON.stringify(e.name)} (bytes ${e.begin}..${e.end}) overlaps ${JSON.stringify(previous!.name)} (bytes ${previous!.begin}..${previous!.end})`,
      );
    }
    if (e.begin > cursor) {
      throw new DataError(
        `safetensors: bytes ${cursor}..${e.begin} of the data buffer belong to no tensor (before ${JSON.stringify(e.name)}); the spec requires tensors to be contiguous`,
      );
    }
    cursor = e.end;
    previous = e;
  }
  if (cursor !== dataLength) {
    throw new DataError(
      `safetensors: the data buffer is ${dataLength} bytes but the tensors cover only ${cursor}; ${dataLength - cursor} trailing bytes belong to no tensor`,
    );
  }
}

/** Reads `count` little-endian elements at byte `at` into a new Float32Array; `at` need not be aligned. */
function convert(view: DataView, dtype: ReadDtype, at: number, count: number): Float32Array {
  const out = new Float32Array(count);
  switch (dtype) {
    case 'F32':
      if (LITTLE_ENDIAN) {
        // Copy the bytes, so neither alignment nor aliasing of the input matters.
        new Uint8Array(out.buffer).set(new Uint8Array(view.buffer, view.byteOffset + at, 4 * count));
      } else {
        for (let i = 0; i < count; i++) out[i] = view.getFloat32(at + 4 * i, true);
      }
      break;
    case 'F64':
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(at + 8 * i, true);
      break;
    case 'BF16': {
      // bfloat16 is the top half of a float32.
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) bits[i] = view.getUint16(at + 2 * i, true) << 16;
      break;
    }
    case 'F16':
      for (let i = 0; i < count; i++) out[i] = halfToFloat(view.getUint16(at + 2 * i, true));
      break;
  }
  return out;
}

/**
 * IEEE 754 binary16 → number, exact (every half is a float32).
 * @throws never.
 */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  return sign * (1024 + mantissa) * 2 ** (exponent - 25);
}

/**
 * The first key that occurs twice in one object of already-valid JSON `text`, or undefined.
 * JSON.parse keeps the last of duplicates silently; a second entry under one tensor name is corruption.
 * Iterative (no recursion), so deep nesting cannot overflow the stack.
 */
function findDuplicateKey(text: string): string | undefined {
  const stack: (Set<string> | null)[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x7b /* { */) stack.push(new Set());
    else if (c === 0x5b /* [ */) stack.push(null);
    else if (c === 0x7d /* } */ || c === 0x5d /* ] */) stack.pop();
    else if (c === 0x22 /* " */) {
      let j = i + 1;
      while (text.charCodeAt(j) !== 0x22) j += text.charCodeAt(j) === 0x5c /* \ */ ? 2 : 1;
      let k = j + 1;
      while (k < text.length && /\s/.test(text[k])) k++;
      const keys = stack[stack.length - 1];
      if (text[k] === ':' && keys) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (keys.has(key)) return key;
        keys.add(key);
      }
      i = j;
    }
  }
  return undefined;
}

function checkMetadata(metadata: Record<string, string> | undefined): Record<string, string> {
  if (metadata === undefined) return {};
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
    throw new ValueError(`metadata must be an object of strings, got ${describe(metadata)}`);
  }
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== 'string') {
      throw new ValueError(
        `metadata values must be strings (safetensors stores a string → string map); ${JSON.stringify(k)} is ${describe(v)}`,
      );
    }
    checkWellFormed(`metadata key ${JSON.stringify(k)}`, k);
    checkWellFormed(`metadata value of ${JSON.stringify(k)}`, v);
  }
  return metadata;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function checkWellFormed(what: string, s: string): void {
  if (LONE_SURROGATE.test(s)) throw new ValueError(`${what} contains a lone surrogate and cannot be encoded as UTF-8`);
}

/**
 * Orders strings by code point, which is the byte order of their UTF-8 (Rust's `str` order).
 * @throws never.
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(i)!;
    if (x !== y) return x - y;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}

/** Sets an own property even for names like `__proto__`, which plain assignment would not. */
function defineOwn<T>(obj: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

function isCount(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}
