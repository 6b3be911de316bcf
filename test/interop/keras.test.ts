/**
 * TF.js / Keras → cellstate: TF.js Layers models saved by TF.js 4.22 itself (model.save to a memory
 * handler; scripts/interop/make_tfjs_fixtures.mjs), with TF.js' own predictions. cellstate must give
 * them within 1e-5, and refuse hard_sigmoid gates. Also the gate-layout conversions round-trip.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { DataError, ValueError, init } from '../../ts/index';
import { kerasKernelToTorch, onnxToTorchGates, torchToKerasKernel, torchToOnnxGates } from '../../ts/interop/gates';
import { importTfjs, tfjsToConfig, type TfjsModelJson } from '../../ts/interop/keras';
import { interopFixtures, maxAbsDiff } from './helpers';

const dir = (name: string) => join(interopFixtures, 'tfjs', name);
const load = (name: string) => ({
  json: JSON.parse(readFileSync(join(dir(name), 'model.json'), 'utf8')) as TfjsModelJson,
  weights: new Uint8Array(readFileSync(join(dir(name), 'weights.bin'))),
  expected: JSON.parse(readFileSync(join(dir(name), 'expected.json'), 'utf8')) as {
    x: { shape: number[]; data: number[] };
    output: { shape: number[]; data: number[] };
  },
});

beforeAll(async () => {
  await init();
});

describe('importTfjs: TF.js Layers models', () => {
  it.each(['embedding-lstm', 'bilstm-stacked-mask', 'dense-lstm-maxpool'])('%s gives TF.js’ predictions', (name) => {
    const { json, weights, expected } = load(name);
    const model = importTfjs(json, weights);
    try {
      const x = name.startsWith('dense')
        ? { data: Float32Array.from(expected.x.data), shape: expected.x.shape }
        : { data: Int32Array.from(expected.x.data), shape: expected.x.shape };
      const got = model.predict(x);
      expect(got.shape).toEqual(expected.output.shape);
      const diff = maxAbsDiff(got.data, expected.output.data);
      console.log(`TF.js ${name}: max |cellstate − tfjs| = ${diff.toExponential(2)}`);
      expect(diff).toBeLessThanOrEqual(1e-5);
    } finally {
      model.dispose();
    }
  });

  it('maps the layers to the config they describe', () => {
    const { json, weights } = load('bilstm-stacked-mask');
    const { config, stateDict } = tfjsToConfig(json, weights);
    expect(config).toEqual({
      input: { embedding: 4, paddingIdx: null },
      vocabSize: 30,
      lstm: { hiddenSize: 3, numLayers: 2, bidirectional: true },
      pooling: 'last',
      head: [{ units: 8, activation: 'relu' }],
      output: { units: 3, activation: 'softmax' },
      mask: true,
    });
    // Keras' one bias goes to bias_ih; bias_hh is zero.
    expect(Array.from(stateDict['lstm.bias_hh_l1_reverse'].data).every((v) => v === 0)).toBe(true);
    expect(tfjsToConfig(load('dense-lstm-maxpool').json, load('dense-lstm-maxpool').weights).config.pooling).toBe('max');
  });

  it('refuses hard_sigmoid gates (TF.js’ default) with a ValueError that says so', () => {
    const { json, weights } = load('hard-sigmoid');
    expect(() => tfjsToConfig(json, weights)).toThrow(ValueError);
    expect(() => tfjsToConfig(json, weights)).toThrow(/recurrent_activation 'hard_sigmoid'/);
  });

  it('a truncated weight file is a DataError; a GRU layer is a ValueError naming it', () => {
    const { json, weights } = load('embedding-lstm');
    expect(() => tfjsToConfig(json, weights.subarray(0, weights.length - 8))).toThrow(DataError);
    const gru = structuredClone(json);
    const layers = (gru.modelTopology.config as { layers: { class_name: string }[] }).layers;
    layers[1].class_name = 'GRU';
    expect(() => tfjsToConfig(gru, weights)).toThrow(/unsupported Keras layer GRU/);
  });
});

describe('gate layouts', () => {
  const H = 3;
  const rows = (cols: number) => Float32Array.from({ length: 4 * H * cols }, (_, i) => i);
  it('PyTorch (i, f, g, o) ⇄ ONNX (i, o, f, c) round-trips and moves whole gate blocks', () => {
    const w = rows(2);
    const o = torchToOnnxGates(w, H, 2);
    expect(Array.from(onnxToTorchGates(o, H, 2))).toEqual(Array.from(w));
    // ONNX block 1 (o) is PyTorch block 3; ONNX block 3 (c) is PyTorch block 2 (g).
    expect(Array.from(o.subarray(6, 12))).toEqual(Array.from(w.subarray(18, 24)));
    expect(Array.from(o.subarray(18, 24))).toEqual(Array.from(w.subarray(12, 18)));
  });
  it('Keras kernel (K, 4H) ⇄ PyTorch (4H, K) round-trips', () => {
    const k = rows(5);
    const t = kerasKernelToTorch(k, 5, H);
    expect(Array.from(torchToKerasKernel(t, 5, H))).toEqual(Array.from(k));
    expect(t[1]).toBe(k[4 * H]); // row 0 (gate i, unit 0) column 1 = Keras row 1, column 0
  });
});
