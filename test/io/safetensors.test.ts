import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { DataError, ShapeError, ValueError } from '../../ts/errors';
import { decodeSafetensors, encodeSafetensors } from '../../ts/io/safetensors';
import { Tensor } from '../../ts/tensor';
import { expectDataError, f32le, f64le, rawFile, safetensorsFile, u16le } from './helpers';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
const t = (values: number[], shape: number[]) => new Tensor(Float32Array.from(values), shape);
const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));

describe('encodeSafetensors', () => {
  test('writes the bytes the spec prescribes (checked against a hand-built array)', () => {
    const bytes = encodeSafetensors({ b: t([], [0]), a: t([1, -2], [2]) }, { k: 'v' });
    // Header: compact JSON, __metadata__ first, tensors by name; 132 bytes padded with 4 spaces to 136 = 0x88.
    const header =
      '{"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[0],"data_offsets":[8,8]}}';
    const expected = [
      0x88,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      ...ascii(header),
      0x20,
      0x20,
      0x20,
      0x20,
      0x00,
      0x00,
      0x80,
      0x3f, // 1.0f
      0x00,
      0x00,
      0x00,
      0xc0, // -2.0f
    ];
    expect(header.length).toBe(132);
    expect([...bytes]).toEqual(expected);
    expect(bytes.buffer.byteLength).toBe(bytes.length);
  });

  test('is byte-identical to safetensors.numpy.save_file (fixture numpy-f32.safetensors)', () => {
    // Same tensors and metadata as make_fixtures.py; "Ａ" (U+FF21) must sort before "😀" (U+1F600) as in Rust.
    const reference = readFileSync(join(fixtures, 'numpy-f32.safetensors'));
    const bytes = encodeSafetensors(
      {
        '😀': t([4, 5], [2]),
        z: t([], [2, 0]),
        Ａ: t([3], [1]),
        b: t([1, 2, 3], [3]),
        a: t([0.5, -0.5], [2, 1]),
      },
      { format: 'pt' },
    );
    expect(Buffer.from(bytes).equals(reference)).toBe(true);
  });

  test('omits __metadata__ when empty; the data starts 8-byte aligned for every header length', () => {
    for (let n = 1; n <= 16; n++) {
      const bytes = encodeSafetensors({ ['x'.repeat(n)]: t([n], [1]) });
      const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
      expect((8 + headerLength) % 8).toBe(0);
      const text = new TextDecoder().decode(bytes.subarray(8, 8 + headerLength));
      expect(text.trimEnd()).toBe(`{"${'x'.repeat(n)}":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`);
      expect(text.slice(text.trimEnd().length)).toMatch(/^ {0,7}$/);
    }
  });

  test('copies only the view of a Float32Array that is a window on a larger buffer', () => {
    const big = Float32Array.from([9, 1, 2, 9]);
    const { tensors } = decodeSafetensors(encodeSafetensors({ w: { data: big.subarray(1, 3), shape: [2] } }));
    expect([...tensors.w.data]).toEqual([1, 2]);
  });

  test('rejects bad tensors, reserved or empty names, non-string metadata and lone surrogates', () => {
    expect(() => encodeSafetensors({ w: { data: [1, 2] as unknown as Float32Array, shape: [2] } })).toThrow(ShapeError);
    expect(() => encodeSafetensors({ w: { data: new Float32Array(3), shape: [2] } })).toThrow(/3 elements but shape \[2\]/);
    expect(() => encodeSafetensors({ __metadata__: t([1], [1]) })).toThrow(ValueError);
    expect(() => encodeSafetensors({ '': t([1], [1]) })).toThrow(ValueError);
    expect(() => encodeSafetensors({}, { step: 3 as unknown as string })).toThrow(/"step" is number/);
    expect(() => encodeSafetensors({ 'a\uD800': t([1], [1]) })).toThrow(/lone surrogate/);
    expect(() => encodeSafetensors({}, { k: '\uDC00' })).toThrow(ValueError);
  });
});

describe('decodeSafetensors round trips', () => {
  test('values, shapes, zero-sized tensors, unicode names, metadata', () => {
    const tensors = {
      'lstm.weight_ih_l0': t([0.1, -1e-30, 3e38, -0, Infinity, NaN], [2, 3]),
      'Gewicht.ü/😀': t([42], [1, 1, 1]),
      empty: t([], [0]),
      'empty.2d': t([], [4, 0]),
      scalar: t([7], []),
      ['__proto__']: t([5], [1]), // computed, so an own property, as a tensor name can be
    };
    const metadata = { 'optimizer.adam.step': '1200', 'note ✓': 'a\n"quoted"\\ \u0001' };
    const out = decodeSafetensors(encodeSafetensors(tensors, metadata));
    expect(Object.keys(out.tensors).sort()).toEqual(Object.keys(tensors).sort());
    for (const [name, tensor] of Object.entries(tensors)) {
      expect(out.tensors[name]).toBeInstanceOf(Tensor);
      expect(out.tensors[name].shape).toEqual(tensor.shape);
      // Compare bit patterns, so -0 and NaN count.
      expect(new Uint32Array(out.tensors[name].data.buffer)).toEqual(new Uint32Array(tensor.data.slice().buffer));
    }
    expect(out.metadata).toEqual(metadata);
    expect(Object.getPrototypeOf(out.tensors)).toBe(Object.prototype);
  });

  test('accepts an ArrayBuffer, and a Uint8Array at an odd offset; results never alias the input', () => {
    const bytes = encodeSafetensors({ w: t([1, 2, 3], [3]) });
    const shifted = new Uint8Array(bytes.length + 3);
    shifted.set(bytes, 3);
    const view = shifted.subarray(3);
    const a = decodeSafetensors(view);
    const b = decodeSafetensors(bytes.slice().buffer);
    expect([...a.tensors.w.data]).toEqual([1, 2, 3]);
    expect([...b.tensors.w.data]).toEqual([1, 2, 3]);
    shifted.fill(0);
    expect([...a.tensors.w.data]).toEqual([1, 2, 3]);
    expect(b.metadata).toEqual({});
  });
});

describe('decodeSafetensors on files from other writers', () => {
  test('safetensors.numpy.save_file output (fixture numpy-mixed.safetensors: F64, F32, F16, metadata)', () => {
    const { tensors, metadata } = decodeSafetensors(readFileSync(join(fixtures, 'numpy-mixed.safetensors')));
    expect(metadata).toEqual({ step: '12' });
    expect(Object.keys(tensors).sort()).toEqual(['empty', 'fc.bias', 'half', 'lstm.weight_ih_l0', 'poids.é']);
    // np.arange(6).reshape(2, 3) / 4
    expect(tensors['lstm.weight_ih_l0']).toEqual(new Tensor(Float32Array.from([0, 0.25, 0.5, 0.75, 1, 1.25]), [2, 3]));
    // F64 → float32: 1.5 and -2.25 are exact; 1e300 is past float32's range.
    expect([...tensors['fc.bias'].data]).toEqual([1.5, -2.25, Infinity]);
    // F16: 65504 is the largest half, 2^-24 the smallest subnormal.
    expect([...tensors.half.data]).toEqual([1, -2, 65504, 2 ** -24, Infinity, -Infinity]);
    expect(tensors.empty.shape).toEqual([0, 3]);
    expect(tensors['poids.é']).toEqual(new Tensor(Float32Array.from([7]), [1, 1]));
  });

  test('a hand-built file: unpadded header, keys in another order, unaligned data, F64/BF16/F16 conversions', () => {
    const f16 = [
      0x3c00, // 1
      0x0001, // 2^-24, smallest subnormal
      0x03ff, // 1023·2^-24, largest subnormal
      0x0400, // 2^-14, smallest normal
      0x7bff, // 65504, largest finite
      0x7c00, // +inf
      0xfc00, // -inf
      0x8000, // -0
      0xc500, // -5
      0x3555, // 0.333251953125 = 1365/4096
    ];
    const bf16 = [0x3f80 /* 1 */, 0xc000 /* -2 */, 0x7f80 /* +inf */, 0x0001 /* 2^-133 */, 0x4049 /* 3.140625 */];
    const f64 = [0.1, 1e300, -1e-50, 2 ** -149];
    const f32 = [1.5, -3];
    // Layout: F16 (20 bytes) at 0, F32 at 20, BF16 at 28 (10 bytes), F64 at 38: F64 is not 8-byte aligned.
    const data = [...u16le(...f16), ...f32le(...f32), ...u16le(...bf16), ...f64le(...f64)];
    const header = `{ "b16" : {"shape":[5], "data_offsets":[28, 38], "dtype":"BF16"},
      "d": {"data_offsets":[38,70],"dtype":"F64","shape":[2,2]},
      "h": {"dtype":"F16","data_offsets":[0,20],"shape":[10], "extra": "ignored"},
      "f": {"dtype":"F32","shape":[2],"data_offsets":[20,28]},
      "__metadata__": {"format": "pt", "z": ""} }`;
    const file = safetensorsFile(header, data);
    expect((8 + new TextEncoder().encode(header).length) % 4).not.toBe(0); // the F32 data is unaligned
    const { tensors, metadata } = decodeSafetensors(file);
    expect(metadata).toEqual({ format: 'pt', z: '' });
    expect([...tensors.h.data]).toEqual([1, 2 ** -24, 1023 * 2 ** -24, 2 ** -14, 65504, Infinity, -Infinity, -0, -5, 1365 / 4096]);
    expect(Object.is(tensors.h.data[7], -0)).toBe(true);
    expect([...tensors.b16.data]).toEqual([1, -2, Infinity, 2 ** -133, 3.140625]);
    // F64 rounds to nearest float32: fround(0.1) = 0.100000001490116119384765625; 1e300 overflows; -1e-50 underflows to -0.
    expect([...tensors.d.data]).toEqual([Math.fround(0.1), Infinity, -0, 2 ** -149]);
    expect(tensors.d.data[0]).toBe(0.10000000149011612);
    expect(Object.is(tensors.d.data[2], -0)).toBe(true);
    expect(tensors.d.shape).toEqual([2, 2]);
    expect([...tensors.f.data]).toEqual(f32);
  });

  test('F16 and BF16 NaN payloads read as NaN', () => {
    const file = safetensorsFile(
      { h: { dtype: 'F16', shape: [2], data_offsets: [0, 4] }, b: { dtype: 'BF16', shape: [1], data_offsets: [4, 6] } },
      u16le(0x7e00, 0xfc01, 0x7fc0),
    );
    const { tensors } = decodeSafetensors(file);
    expect([...tensors.h.data].every(Number.isNaN)).toBe(true);
    expect(Number.isNaN(tensors.b.data[0])).toBe(true);
  });
});

describe('decodeSafetensors rejects corrupt files with a DataError', () => {
  const ok = { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
  const data8 = f32le(1, 2);
  const entry = (e: unknown) => safetensorsFile({ a: e }, data8);

  test('input that is not bytes', () => {
    expectDataError(() => decodeSafetensors('abc' as unknown as Uint8Array), /expected an ArrayBuffer or Uint8Array, got string/);
    expectDataError(() => decodeSafetensors(new Float32Array(4) as unknown as Uint8Array), /got a Float32Array/);
  });

  test('shorter than 8 bytes', () => {
    for (let n = 0; n < 8; n++)
      expectDataError(() => decodeSafetensors(new Uint8Array(n)), new RegExp(`is ${n} bytes long, shorter than the 8-byte`));
  });

  test('header length past the end, or absurd', () => {
    expectDataError(() => decodeSafetensors(rawFile(100, ascii('{}'))), /header length 100 runs past the end of the 10-byte file/);
    expectDataError(
      () => decodeSafetensors(rawFile(100_000_001, ascii('{}'))),
      /header length 100000001 is above the 100000000-byte limit/,
    );
    expectDataError(() => decodeSafetensors(rawFile(2n ** 64n - 1n, ascii('{}'))), /header length 18446744073709551615 is above/);
  });

  test('header not UTF-8, not JSON, not an object', () => {
    expectDataError(() => decodeSafetensors(rawFile(4, [0x7b, 0xff, 0xfe, 0x7d])), /not valid UTF-8/);
    expectDataError(() => decodeSafetensors(rawFile(5, [0xef, 0xbb, 0xbf, 0x7b, 0x7d])), /not valid JSON/); // a BOM
    expectDataError(() => decodeSafetensors(safetensorsFile('{"a":')), /not valid JSON/);
    expectDataError(() => decodeSafetensors(safetensorsFile('')), /not valid JSON/);
    expectDataError(() => decodeSafetensors(safetensorsFile('[]')), /must be a JSON object, got an array/);
    expectDataError(() => decodeSafetensors(safetensorsFile('null')), /must be a JSON object, got null/);
    expectDataError(() => decodeSafetensors(safetensorsFile('"x"')), /must be a JSON object, got string "x"/);
  });

  test('an entry missing a field, or with fields of the wrong type', () => {
    expectDataError(() => decodeSafetensors(entry([1])), /tensor "a": expected an object \{ dtype, shape, data_offsets \}, got an array/);
    expectDataError(() => decodeSafetensors(entry(null)), /tensor "a": expected an object.*got null/);
    expectDataError(() => decodeSafetensors(entry({ shape: [2], data_offsets: [0, 8] })), /tensor "a": missing "dtype"/);
    expectDataError(() => decodeSafetensors(entry({ dtype: 'F32', data_offsets: [0, 8] })), /tensor "a": missing "shape"/);
    expectDataError(() => decodeSafetensors(entry({ dtype: 'F32', shape: [2] })), /tensor "a": missing "data_offsets"/);
    expectDataError(
      () => decodeSafetensors(entry({ dtype: 32, shape: [2], data_offsets: [0, 8] })),
      /"dtype" must be a string, got number 32/,
    );
    for (const shape of ['2', [-2], [1.5], [null], [2 ** 53]]) {
      expectDataError(
        () => decodeSafetensors(entry({ dtype: 'F32', shape, data_offsets: [0, 8] })),
        /"shape" must be an array of non-negative integers/,
      );
    }
    for (const offsets of [[0], [0, 8, 8], [0, '8'], '0,8', [-8, 0], [0, 2 ** 53 + 8]]) {
      expectDataError(
        () => decodeSafetensors(entry({ dtype: 'F32', shape: [2], data_offsets: offsets })),
        /"data_offsets" must be \[begin, end\]/,
      );
    }
    expectDataError(() => decodeSafetensors(entry({ dtype: 'F32', shape: [2], data_offsets: [8, 0] })), /\[8, 0\] end before they begin/);
  });

  test('unknown and unsupported dtypes', () => {
    expectDataError(() => decodeSafetensors(entry({ dtype: 'Q4', shape: [2], data_offsets: [0, 8] })), /"Q4" is not a safetensors dtype/);
    expectDataError(
      () => decodeSafetensors(entry({ dtype: 'toString', shape: [2], data_offsets: [0, 8] })),
      /"toString" is not a safetensors dtype/,
    );
    expectDataError(
      () => decodeSafetensors(entry({ dtype: 'I64', shape: [1], data_offsets: [0, 8] })),
      /dtype I64 is not supported \(cellstate reads F32, F64, F16, BF16\)/,
    );
    expectDataError(() => decodeSafetensors(entry({ dtype: 'I32', shape: [2], data_offsets: [0, 8] })), /dtype I32 is not supported/);
  });

  test('byte length disagreeing with the shape, including absurd shapes', () => {
    expectDataError(
      () => decodeSafetensors(entry({ dtype: 'F32', shape: [3], data_offsets: [0, 8] })),
      /shape \[3\] of F32 needs 12 bytes but data_offsets \[0, 8\] hold 8/,
    );
    expectDataError(() => decodeSafetensors(entry({ dtype: 'F16', shape: [2], data_offsets: [0, 8] })), /needs 4 bytes/);
    expectDataError(
      () => decodeSafetensors(entry({ dtype: 'F32', shape: [2 ** 40, 2 ** 40], data_offsets: [0, 8] })),
      /needs 4835703278458516698824704 bytes/, // 2^80 · 4
    );
  });

  test('offsets out of bounds, overlapping, with holes or trailing bytes', () => {
    const two = (a: number[], b: number[], data: number[]) =>
      safetensorsFile(
        {
          a: { dtype: 'F32', shape: [(a[1] - a[0]) / 4], data_offsets: a },
          b: { dtype: 'F32', shape: [(b[1] - b[0]) / 4], data_offsets: b },
        },
        data,
      );
    expectDataError(
      () => decodeSafetensors(safetensorsFile(ok, f32le(1))),
      /tensor "a" has data_offsets \[0, 8\] past the end of the 4-byte data buffer/,
    );
    expectDataError(
      () => decodeSafetensors(two([0, 8], [4, 12], f32le(1, 2, 3))),
      /tensor "b" \(bytes 4..12\) overlaps "a" \(bytes 0..8\)/,
    );
    expectDataError(
      () => decodeSafetensors(two([0, 4], [8, 12], f32le(1, 2, 3))),
      /bytes 4..8 of the data buffer belong to no tensor \(before "b"\)/,
    );
    expectDataError(
      () => decodeSafetensors(two([4, 8], [8, 12], f32le(1, 2, 3))),
      /bytes 0..4 of the data buffer belong to no tensor \(before "a"\)/,
    );
    expectDataError(() => decodeSafetensors(two([0, 4], [0, 4], f32le(1))), /overlaps/);
    expectDataError(
      () => decodeSafetensors(safetensorsFile(ok, f32le(1, 2, 3))),
      /the data buffer is 12 bytes but the tensors cover only 8; 4 trailing bytes/,
    );
    expectDataError(() => decodeSafetensors(safetensorsFile({}, [0])), /1 trailing bytes/);
  });

  test('duplicate keys, and metadata that is not a string → string map', () => {
    const dup = '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}';
    expectDataError(() => decodeSafetensors(safetensorsFile(dup, f32le(1))), /the key "a" more than once/);
    expectDataError(() => decodeSafetensors(safetensorsFile('{"__metadata__":{"k":"1","k":"2"}}')), /the key "k" more than once/);
    // The same text as a key in one object and a value in another is not a duplicate; escapes are decoded before comparing.
    expect(decodeSafetensors(safetensorsFile('{"__metadata__":{"a":"b", "b":"a"}}')).metadata).toEqual({ a: 'b', b: 'a' });
    expectDataError(() => decodeSafetensors(safetensorsFile('{"__metadata__":{"\\u0061":"1","a":"2"}}')), /the key "a" more than once/);
    expectDataError(
      () => decodeSafetensors(safetensorsFile('{"__metadata__":[]}')),
      /"__metadata__" must be an object of strings, got an array/,
    );
    expectDataError(
      () => decodeSafetensors(safetensorsFile('{"__metadata__":{"step":12}}')),
      /values must be strings; "step" is number 12/,
    );
  });

  test('truncation at every byte position', () => {
    const file = encodeSafetensors({ b: t([1, 2, 3], [3]), a: t([4], [1, 1]), e: t([], [0]) }, { step: '3' });
    for (let n = 0; n < file.length; n++) {
      expectDataError(
        () => decodeSafetensors(file.subarray(0, n)),
        /shorter than the 8-byte|runs past the end|past the end of the \d+-byte data buffer/,
      );
    }
    expect(decodeSafetensors(file).tensors.b.shape).toEqual([3]);
  });

  test('every single-byte corruption gives a result or a DataError, never another error', () => {
    const file = encodeSafetensors({ b: t([1, 2, 3], [3]), a: t([4], [1, 1]), e: t([], [0]) }, { step: '3' });
    let rejected = 0;
    for (let i = 0; i < file.length; i++) {
      for (const mask of [0x01, 0x10, 0x80, 0xff]) {
        const bad = file.slice();
        bad[i] ^= mask;
        try {
          decodeSafetensors(bad);
        } catch (e) {
          expect(e).toBeInstanceOf(DataError);
          rejected++;
        }
      }
    }
    // Flips in the data section decode fine; flips in the length prefix and most header bytes must not.
    expect(rejected).toBeGreaterThan(4 * 8);
  });
});
