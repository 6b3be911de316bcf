/** Save → load round trips, PyTorch-named weights from another writer, and bad input that leaves the model as it was. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  DataError,
  decodeSafetensors,
  loadModel,
  modelFromArrayBuffer,
  saveModel,
  sequenceClassifier,
  SequenceModel,
  ShapeError,
  ValueError,
} from '../ts/index';
import { backend, backendNames, rng, thrown } from './helpers';

const dir = mkdtempSync(join(tmpdir(), 'cellstate-model-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const config = {
  input: { embedding: 6 },
  vocabSize: 30,
  lstm: { hiddenSize: 5, bidirectional: true, numLayers: 2, dropout: 0.1 },
  head: [{ units: 4, activation: 'tanh' as const }],
  dropout: 0.2,
  mask: true,
  seed: 3,
};

function batch(n: number, t: number, seed: number) {
  const r = rng(seed);
  const data = Int32Array.from({ length: n * t }, () => Math.floor(r() * 30));
  const y = Float32Array.from({ length: n }, () => (r() > 0.5 ? 1 : 0));
  return { x: { data, shape: [n, t] }, y };
}

/** A safetensors file written from the spec: u64 LE header length, JSON header, raw little-endian data. */
function foreignSafetensors(tensors: Record<string, { data: Float32Array; shape: number[] }>): Uint8Array {
  const header: Record<string, unknown> = {};
  let offset = 0;
  // Reverse order and F64 data, so the file differs from what cellstate itself writes.
  const names = Object.keys(tensors).reverse();
  for (const k of names) {
    const bytes = tensors[k].data.length * 8;
    header[k] = { dtype: 'F64', shape: tensors[k].shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let p = 8 + json.length;
  for (const k of names) {
    for (const v of tensors[k].data) {
      view.setFloat64(p, v, true);
      p += 8;
    }
  }
  return out;
}

describe.each(backendNames)('model I/O on %s', (name) => {
  it('round-trips predictions exactly through a directory, a .safetensors file and an ArrayBuffer, and resumes training', async () => {
    const b = await backend(name);
    const model = sequenceClassifier(config, { backend: b });
    const { x, y } = batch(16, 9, 1);
    await model.fit(x, y, { epochs: 2, batchSize: 8, optimizer: { type: 'adamw', lr: 1e-2 }, clipNorm: 1 });
    const want = model.predict(x).data;
    const target = join(dir, `${name}-dir`);
    await saveModel(model, target);
    await saveModel(model, join(dir, `${name}.safetensors`));
    const fromDir = await loadModel(target, { backend: b });
    const fromFile = await loadModel(join(dir, `${name}.safetensors`), { backend: b });
    const fromBuffer = modelFromArrayBuffer(model.toArrayBuffer(), { backend: b });
    for (const m of [fromDir, fromFile, fromBuffer]) {
      expect(m.predict(x).data).toEqual(want);
      expect(m.epochsTrained).toBe(2);
      expect(m.config).toEqual(model.config);
    }
    // Optimiser state came along: the next step is the same step.
    const next = batch(8, 9, 2);
    expect(fromDir.trainBatch(next.x, next.y)).toEqual(model.trainBatch(next.x, next.y));
    expect(fromDir.stateDict()['lstm.weight_hh_l1_reverse'].data).toEqual(model.stateDict()['lstm.weight_hh_l1_reverse'].data);
    // The directory holds plain JSON and PyTorch-named safetensors.
    const cfg = JSON.parse(readFileSync(join(target, 'config.json'), 'utf8'));
    expect(cfg.format).toBe('cellstate.sequence-model');
    const st = decodeSafetensors(readFileSync(join(target, 'model.safetensors')));
    expect(Object.keys(st.tensors)).toContain('embedding.weight');
    expect(Object.keys(st.tensors)).toContain('fc.weight');
    expect(Object.keys(st.tensors)).toContain('optimizer.adamw.v.head.0.bias');
  });

  it('loads a PyTorch-named safetensors state dict written by another tool and gives the same predictions', async () => {
    const b = await backend(name);
    const source = sequenceClassifier(config, { backend: b });
    const sd = source.stateDict();
    const bytes = foreignSafetensors(Object.fromEntries(Object.entries(sd).map(([k, v]) => [k, { data: v.data, shape: v.shape }])));
    const other = sequenceClassifier({ ...config, seed: 99 }, { backend: b });
    const { x } = batch(5, 7, 3);
    expect(other.predict(x).data).not.toEqual(source.predict(x).data);
    other.loadStateDict(decodeSafetensors(bytes).tensors);
    expect(other.predict(x).data).toEqual(source.predict(x).data);
  });

  it('rejects weights whose names or shapes do not fit, listing every problem, and changes nothing', async () => {
    const b = await backend(name);
    const model = sequenceClassifier(config, { backend: b });
    const before = model.stateDict();
    const bad = { ...model.stateDict() } as Record<string, { data: Float32Array; shape: number[] }>;
    delete bad['fc.bias'];
    bad['lstm.weight_ih_l0'] = { data: new Float32Array(20 * 7), shape: [20, 7] };
    bad['decoder.weight'] = { data: new Float32Array(1), shape: [1] };
    const err = thrown(() => model.loadStateDict(bad));
    expect(err).toBeInstanceOf(ShapeError);
    expect(err!.message).toMatch(/missing fc\.bias \[1\]/);
    expect(err!.message).toMatch(/lstm\.weight_ih_l0 has shape \[20, 7\]; expected \[20, 6\]/);
    expect(err!.message).toMatch(/unexpected decoder\.weight/);
    expect(model.stateDict()['lstm.weight_ih_l0'].data).toEqual(before['lstm.weight_ih_l0'].data);
  });

  it('rejects truncated, corrupt, foreign and incompatible model files with DataError', async () => {
    const b = await backend(name);
    const model = sequenceClassifier(config, { backend: b });
    const bytes = new Uint8Array(model.toArrayBuffer());
    expect(() => modelFromArrayBuffer(bytes.slice(0, bytes.length - 3), { backend: b })).toThrow(DataError);
    expect(() => modelFromArrayBuffer(bytes.slice(0, 5), { backend: b })).toThrow(DataError);
    const garbled = bytes.slice();
    garbled[10] = 0x7b;
    garbled[12] = 0x00;
    expect(() => modelFromArrayBuffer(garbled, { backend: b })).toThrow(DataError);
    const weightsOnly = foreignSafetensors({ 'fc.bias': { data: new Float32Array(1), shape: [1] } });
    expect(() => modelFromArrayBuffer(weightsOnly, { backend: b })).toThrow(/not a cellstate model bundle/);
    await expect(loadModel(join(dir, 'does-not-exist'), { backend: b })).rejects.toThrow(DataError);
    // A directory from an incompatible format version.
    const target = join(dir, `${name}-future`);
    await saveModel(model, target);
    const cfg = JSON.parse(readFileSync(join(target, 'config.json'), 'utf8'));
    cfg.version = 99;
    writeFileSync(join(target, 'config.json'), JSON.stringify(cfg));
    await expect(loadModel(target, { backend: b })).rejects.toThrow(/format version 99 is not supported/);
  });

  it('rejects bad training input with a typed error and leaves the model as it was', async () => {
    const b = await backend(name);
    const model = sequenceClassifier({ ...config, mask: false }, { backend: b });
    const before = model.stateDict()['lstm.weight_hh_l0'].data;
    const { x, y } = batch(4, 5, 4);
    const expectUnchanged = () => expect(model.stateDict()['lstm.weight_hh_l0'].data).toEqual(before);
    expect(() => model.trainBatch(x, y.subarray(0, 3))).toThrow(/targets have 3 values; expected 4/);
    expect(() => model.trainBatch(x, [0, 1, 2, 1])).toThrow(/label 2 at index 2 is not 0 or 1/);
    expect(() => model.trainBatch(x, [0, 1, 0.5, 1])).toThrow(ValueError);
    const high = { data: x.data.slice(), shape: x.shape };
    high.data[7] = 30;
    expect(() => model.trainBatch(high, y)).toThrow(
      /token id 30 at flat index 7 \(sequence 1, step 2\) is out of range; ids must be in 0\.\.30/,
    );
    const negative = { data: x.data.slice(), shape: x.shape };
    negative.data[0] = -1;
    expect(() => model.trainBatch(negative, y)).toThrow(ValueError);
    expect(() =>
      model.trainBatch(
        [
          [1, 2, 3],
          [4, 5],
        ],
        [0, 1],
      ),
    ).toThrow(/mixed lengths .* pad them first with padSequences/);
    expect(() => model.trainBatch({ data: new Float32Array(20), shape: [4, 5] }, y)).toThrow(/must be an Int32Array of token ids/);
    expect(() => model.trainBatch({ ...x, lengths: [1, 2, 9, 1] }, y)).toThrow(ValueError);
    await expect(model.fit(x, y, { epochs: 1, batchSize: 0 })).rejects.toThrow(/batchSize/);
    await expect(model.fit(x, y, { optimizer: { type: 'adam', beta1: 1.5 } })).rejects.toThrow(/beta1 must be in \[0, 1\)/);
    expectUnchanged();
  });

  it('rejects configs that cannot work', async () => {
    const b = await backend(name);
    const full = { ...config, output: { units: 1, activation: 'sigmoid' } };
    const make = (c: object) => () => new SequenceModel({ ...full, ...c } as never, { backend: b });
    expect(make({ lstm: { hiddenSize: 0 } })).toThrow(/lstm\.hiddenSize must be a positive integer, got 0/);
    expect(make({ lstm: { hiddenSize: 4, dropout: 1.5 } })).toThrow(/lstm\.dropout must be a number in \[0, 1\), got 1\.5/);
    expect(make({ dropout: -0.1 })).toThrow(ValueError);
    expect(make({ vocabSize: undefined })).toThrow(/vocabSize/);
    expect(make({ input: 'one-hot', vocabSize: 5, lstm: { hiddenSize: 2 }, output: { units: 1, activation: 'softmax' } })).toThrow(
      /at least 2 units/,
    );
    expect(make({ input: { features: 3 }, lstm: { hiddenSize: 2 }, output: { units: 1, activation: 'sigmoid' }, mask: true })).toThrow(
      /mask needs token input/,
    );
    expect(make({ input: 'two-hot', vocabSize: 5, lstm: { hiddenSize: 2 }, output: { units: 1, activation: 'sigmoid' } })).toThrow(
      /input must be/,
    );
  });
});
