import { describe, expect, test } from 'vitest';
import { ValueError } from '../../ts/errors';
import { CONFIG_KEY, decodeModelBundle, encodeModelBundle, serializeConfig } from '../../ts/io/bundle';
import { decodeSafetensors, encodeSafetensors } from '../../ts/io/safetensors';
import { Tensor } from '../../ts/tensor';
import { expectDataError } from './helpers';

const config = { kind: 'sentiment', vocabSize: 10000, hidden: [64, 32], bidirectional: false, dropout: 0.25, name: 'ünï ✓', extra: null };
const tensors = {
  'embedding.weight': new Tensor(Float32Array.from([0.5, -1, 2, 3]), [2, 2]),
  'fc.bias': new Tensor(Float32Array.from([0.125]), [1]),
  'optimizer.adam.m.fc.bias': new Tensor(Float32Array.from([1e-8]), [1]),
};

describe('model bundle (safetensors with the config in __metadata__)', () => {
  test('round trip of config, tensors and metadata; the config key is not returned as metadata', () => {
    const bytes = encodeModelBundle({ config, tensors, metadata: { 'optimizer.adam.step': '17' } });
    expect(bytes.buffer.byteLength).toBe(bytes.length);
    const out = decodeModelBundle(bytes.buffer as ArrayBuffer);
    expect(out.config).toEqual(config);
    expect(out.tensors).toEqual(tensors);
    expect(out.metadata).toEqual({ 'optimizer.adam.step': '17' });
  });

  test('is a plain safetensors file: the config is compact JSON under "cellstate.config"', () => {
    const { metadata, tensors: read } = decodeSafetensors(encodeModelBundle({ config: { a: 1 }, tensors }));
    expect(metadata).toEqual({ [CONFIG_KEY]: '{"a":1}' });
    expect(Object.keys(read)).toEqual(Object.keys(tensors));
  });

  test('a weights-only safetensors file, or a bad config, is a DataError', () => {
    expectDataError(
      () => decodeModelBundle(encodeSafetensors(tensors, { format: 'pt' })),
      /not a cellstate model bundle: .*no "cellstate.config" key \(it has "format"\)/,
    );
    expectDataError(() => decodeModelBundle(encodeSafetensors(tensors)), /\(it has no metadata\)/);
    expectDataError(
      () => decodeModelBundle(encodeSafetensors({}, { [CONFIG_KEY]: '{"a":' })),
      /the "cellstate.config" metadata is not valid JSON/,
    );
    expectDataError(() => decodeModelBundle(encodeSafetensors({}, { [CONFIG_KEY]: '[1]' })), /must be a JSON object, got an array/);
    expectDataError(() => decodeModelBundle(new Uint8Array(3)), /shorter than the 8-byte/);
  });

  test('refuses what JSON cannot carry faithfully, and the reserved metadata key', () => {
    const bad: [unknown, RegExp][] = [
      [{ lr: NaN }, /config.lr is NaN/],
      [{ sizes: [1, Infinity] }, /config.sizes\[1\] is Infinity/],
      [{ f: undefined }, /config.f is undefined/],
      [{ f: () => 1 }, /config.f is a function/],
      [{ n: 1n }, /config.n is a bigint/],
      [{ d: new Date(0) }, /config.d is an object \(Date\)/],
      [[1], /config must be a plain object, got an array/],
    ];
    for (const [c, message] of bad) {
      expect(() => encodeModelBundle({ config: c as Record<string, unknown>, tensors: {} })).toThrow(ValueError);
      expect(() => encodeModelBundle({ config: c as Record<string, unknown>, tensors: {} })).toThrow(message);
    }
    const cyclic: Record<string, unknown> = { a: {} };
    (cyclic.a as Record<string, unknown>).back = cyclic;
    expect(() => serializeConfig(cyclic)).toThrow(/config.a.back refers back to an enclosing object/);
    const shared = { x: 1 };
    expect(serializeConfig({ a: shared, b: shared })).toBe('{"a":{"x":1},"b":{"x":1}}'); // shared, not cyclic
    expect(() => encodeModelBundle({ config, tensors, metadata: { [CONFIG_KEY]: '{}' } })).toThrow(/"cellstate.config" is reserved/);
    expect(() => encodeModelBundle({ config, tensors: null as unknown as Record<string, Tensor> })).toThrow(ValueError);
  });
});
