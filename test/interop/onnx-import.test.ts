/**
 * ONNX → cellstate: the graphs `torch.onnx.export` wrote for the notebook's models (committed by
 * scripts/interop-check, with PyTorch's outputs on two inputs of different batch and length) import
 * into models whose `predict` reproduces PyTorch within 1e-5; anything else is a typed error.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { DataError, SequenceModel, ValueError, init } from '../../ts/index';
import { exportOnnx } from '../../ts/interop/onnx-export';
import { importOnnx, onnxToConfig } from '../../ts/interop/onnx-import';
import { decodeModel, encodeModel } from '../../ts/interop/onnx-proto';
import { interopFixtures, maxAbsDiff } from './helpers';

const TOL = 1e-5;

interface Rec {
  shape: number[];
  data: number[];
}
interface TorchExport {
  input: string;
  cases: { x: Rec; output: Rec }[];
}

const kinds = ['seed', 'strong', 'stacked', 'tagger', 'mean', 'maxmean'] as const;
const read = (kind: string) => new Uint8Array(readFileSync(join(interopFixtures, `torch-${kind}.onnx`)));

beforeAll(async () => {
  await init();
});

describe('importOnnx: torch.onnx.export graphs', () => {
  it.each(kinds)('%s reproduces PyTorch’s outputs', (kind) => {
    const ref = JSON.parse(readFileSync(join(interopFixtures, `torch-${kind}.json`), 'utf8')) as TorchExport;
    const model = importOnnx(read(kind));
    try {
      for (const c of ref.cases) {
        const x =
          ref.input === 'tokens'
            ? { data: Int32Array.from(c.x.data), shape: c.x.shape }
            : { data: Float32Array.from(c.x.data), shape: c.x.shape };
        const got = model.predict(x);
        expect(got.shape).toEqual(c.output.shape);
        const diff = maxAbsDiff(got.data, c.output.data);
        console.log(`import torch-${kind}.onnx: max |cellstate − torch| = ${diff.toExponential(2)} on [${c.x.shape.join(', ')}]`);
        expect(diff).toBeLessThanOrEqual(TOL);
      }
    } finally {
      model.dispose();
    }
  });

  it('maps each graph to the config it was written from', () => {
    const configs = Object.fromEntries(kinds.map((k) => [k, onnxToConfig(read(k)).config]));
    expect(configs.seed).toMatchObject({
      input: 'one-hot',
      vocabSize: 300,
      lstm: { hiddenSize: 16, numLayers: 1, bidirectional: false },
      pooling: 'last',
      head: [],
      output: { units: 1, activation: 'linear' },
    });
    expect(configs.strong).toMatchObject({
      input: { embedding: 24, paddingIdx: 0 },
      vocabSize: 1000,
      lstm: { hiddenSize: 12, bidirectional: true },
      pooling: 'max',
      output: { units: 1, activation: 'sigmoid' },
    });
    expect(configs.stacked).toMatchObject({
      lstm: { hiddenSize: 8, numLayers: 2, bidirectional: true },
      pooling: 'last',
      head: [{ units: 8, activation: 'relu' }],
      output: { units: 3, activation: 'softmax' },
    });
    expect(configs.tagger).toMatchObject({ input: { features: 5 }, pooling: 'sequence', output: { units: 4, activation: 'linear' } });
    expect(configs.mean).toMatchObject({ pooling: 'mean', output: { units: 2, activation: 'linear' } });
    expect(configs.maxmean).toMatchObject({
      input: { embedding: 6, paddingIdx: 0 },
      lstm: { hiddenSize: 5, bidirectional: true },
      pooling: 'max-mean',
      head: [],
      output: { units: 1, activation: 'linear' },
    });
  });

  it('a logits graph imported with output: sigmoid predicts σ(torch’s logits)', () => {
    const ref = JSON.parse(readFileSync(join(interopFixtures, 'torch-seed.json'), 'utf8')) as TorchExport;
    const model = importOnnx(read('seed'), { output: 'sigmoid' });
    try {
      const c = ref.cases[0];
      const got = model.predict({ data: Int32Array.from(c.x.data), shape: c.x.shape });
      expect(
        maxAbsDiff(
          got.data,
          c.output.data.map((z) => 1 / (1 + Math.exp(-z))),
        ),
      ).toBeLessThanOrEqual(TOL);
    } finally {
      model.dispose();
    }
  });

  it('cellstate’s own export of an unmasked max-mean model imports back to the same outputs', () => {
    const a = new SequenceModel({
      input: { embedding: 4 },
      vocabSize: 30,
      lstm: { hiddenSize: 3, bidirectional: true },
      pooling: 'max-mean',
      head: [{ units: 4, activation: 'relu' }],
      output: { units: 1, activation: 'sigmoid' },
      seed: 5,
    });
    const b = importOnnx(exportOnnx(a));
    try {
      const x = { data: Int32Array.from({ length: 36 }, (_, i) => (i * 7) % 30), shape: [3, 12] };
      expect(maxAbsDiff(a.predict(x).data, b.predict(x).data)).toBeLessThanOrEqual(TOL);
      expect(b.config.pooling).toBe('max-mean');
    } finally {
      a.dispose();
      b.dispose();
    }
  });

  it('cellstate’s own export of an unmasked model imports back to the same outputs', () => {
    const a = new SequenceModel({
      input: { embedding: 4 },
      vocabSize: 30,
      lstm: { hiddenSize: 5, numLayers: 2, bidirectional: true },
      pooling: 'last',
      head: [{ units: 3, activation: 'tanh' }],
      output: { units: 2, activation: 'softmax' },
      seed: 4,
    });
    const b = importOnnx(exportOnnx(a));
    try {
      const x = { data: Int32Array.from({ length: 40 }, (_, i) => (i * 13) % 30), shape: [4, 10] };
      expect(maxAbsDiff(a.predict(x).data, b.predict(x).data)).toBeLessThanOrEqual(TOL);
      expect(b.config.lstm).toEqual({ hiddenSize: 5, numLayers: 2, bidirectional: true });
    } finally {
      a.dispose();
      b.dispose();
    }
  });
});

/** The op type of the node that writes `value`. */
function producer(m: ReturnType<typeof decodeModel>, value: string): string {
  return m.graph!.node!.find((n) => n.output!.includes(value))?.op_type ?? '';
}

describe('importOnnx: bad graphs are typed errors', () => {
  const seed = () => decodeModel(read('seed'));

  it('an unsupported op is a ValueError naming it', () => {
    const m = seed();
    const gemm = m.graph!.node!.find((n) => n.op_type === 'Gemm')!;
    gemm.op_type = 'Einsum';
    expect(() => onnxToConfig(encodeModel(m))).toThrow(ValueError);
    expect(() => onnxToConfig(encodeModel(m))).toThrow(/unsupported ONNX op Einsum/);
  });

  it('a GRU in place of the LSTM is refused by name', () => {
    const m = seed();
    m.graph!.node!.find((n) => n.op_type === 'LSTM')!.op_type = 'GRU';
    expect(() => onnxToConfig(encodeModel(m))).toThrow(/unsupported ONNX op GRU/);
  });

  it('LSTM attributes cellstate does not compute (clip, other activations) are refused', () => {
    const m = seed();
    const lstm = m.graph!.node!.find((n) => n.op_type === 'LSTM')!;
    lstm.attribute!.push({ name: 'clip', type: 1, f: 3 });
    expect(() => onnxToConfig(encodeModel(m))).toThrow(/unsupported ONNX op LSTM.*clip/);
  });

  it('truncated bytes are a DataError', () => {
    const bytes = read('seed');
    for (const n of [0, 7, 1000, bytes.length - 5]) {
      expect(() => onnxToConfig(bytes.subarray(0, n))).toThrow(DataError);
    }
  });

  it('bytes of another format are a DataError', () => {
    expect(() => onnxToConfig(new TextEncoder().encode('{"not": "onnx"}'))).toThrow(DataError);
  });

  it('a weight whose shape contradicts hidden_size is a DataError', () => {
    const m = seed();
    const lstm = m.graph!.node!.find((n) => n.op_type === 'LSTM')!;
    lstm.attribute!.find((a) => a.name === 'hidden_size')!.i = 15;
    expect(() => onnxToConfig(encodeModel(m))).toThrow(DataError);
    expect(() => onnxToConfig(encodeModel(m))).toThrow(/hidden_size 15/);
  });

  it('an initializer whose data does not fill its shape is a DataError', () => {
    const m = seed();
    const w = m.graph!.initializer!.find((t) => t.name === 'fc.weight')!;
    w.raw_data = w.raw_data!.subarray(0, 8);
    expect(() => onnxToConfig(encodeModel(m))).toThrow(DataError);
  });

  it('a Concat of pooled outputs other than cat([max, mean], 1) is refused', () => {
    const m = decodeModel(read('maxmean'));
    const cat = m.graph!.node!.find((n) => n.op_type === 'Concat' && n.input!.length === 2 && /Reduce/.test(producer(m, n.input![0])))!;
    cat.input!.reverse(); // cat([mean, max]): no cellstate pooling
    expect(() => onnxToConfig(encodeModel(m))).toThrow(/unsupported ONNX op Concat.*max over time, mean over time/);
  });

  it('a graph with no dense output is refused', () => {
    const m = seed();
    const g = m.graph!;
    const lstm = g.node!.find((n) => n.op_type === 'LSTM')!;
    g.output = [{ name: lstm.output![1], type: g.output![0].type }];
    g.node = g.node!.slice(0, g.node!.indexOf(lstm) + 1);
    expect(() => onnxToConfig(encodeModel(m))).toThrow(ValueError);
  });
});
