/** Builders of safetensors files straight from the spec, independent of ts/io. */
import { expect } from 'vitest';
import { DataError } from '../../ts/errors';

/** `[u64 LE header length][header text as UTF-8][data]`, header written exactly as given (no padding). */
export function safetensorsFile(header: string | object, data: ArrayLike<number> = []): Uint8Array {
  const text = typeof header === 'string' ? header : JSON.stringify(header);
  const json = new TextEncoder().encode(text);
  return rawFile(json.length, json, data);
}

/** A file with an arbitrary declared header length, for lying headers. */
export function rawFile(declaredLength: number | bigint, header: ArrayLike<number>, data: ArrayLike<number> = []): Uint8Array {
  const out = new Uint8Array(8 + header.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(declaredLength), true);
  out.set(header, 8);
  out.set(data, 8 + header.length);
  return out;
}

/** Little-endian bytes of 16-bit words. */
export function u16le(...words: number[]): number[] {
  return words.flatMap((w) => [w & 0xff, w >> 8]);
}

/** Little-endian bytes of float32 values. */
export function f32le(...values: number[]): number[] {
  return [...new Uint8Array(new Float32Array(values).buffer)];
}

/** Little-endian bytes of float64 values. */
export function f64le(...values: number[]): number[] {
  return [...new Uint8Array(new Float64Array(values).buffer)];
}

/** Asserts that `fn` throws a DataError whose message matches `message`. */
export function expectDataError(fn: () => unknown, message: RegExp): void {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown, 'expected a DataError').toBeInstanceOf(DataError);
  expect((thrown as Error).message).toMatch(message);
}
