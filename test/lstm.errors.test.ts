/** Bad input gets a typed error naming the problem and the expected shape, and leaves state as it was. */
import { describe, expect, it } from 'vitest';
import { DisposedError, LSTM, ShapeError, StateError, type TensorLike, ValueError, sequenceClassifier } from '../ts/index';
import { backend, backendNames, randomTensor, rng, thrown } from './helpers';

describe.each(backendNames)('LSTM errors on %s', (name) => {
  const make = async (extra: Partial<ConstructorParameters<typeof LSTM>[0]> = {}) =>
    new LSTM({ inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true, seed: 1, backend: await backend(name), ...extra });
  const x = () => randomTensor([2, 5, 3], rng(1));

  it('rejects a config that cannot work', async () => {
    const b = await backend(name);
    expect(() => new LSTM({ inputSize: 3, hiddenSize: 0, backend: b })).toThrow(ValueError);
    expect(() => new LSTM({ inputSize: 3, hiddenSize: 2.5, backend: b })).toThrow(/hiddenSize must be an integer/);
    expect(() => new LSTM({ inputSize: -1, hiddenSize: 2, backend: b })).toThrow(/inputSize/);
    expect(() => new LSTM({ inputSize: 3, hiddenSize: 2, numLayers: 0, backend: b })).toThrow(/numLayers/);
    expect(() => new LSTM({ inputSize: 3, hiddenSize: 2, seed: -1, backend: b })).toThrow(/seed/);
  });

  it('rejects a backend given by name, saying how to load one', () => {
    for (const make of [
      () => new LSTM({ inputSize: 3, hiddenSize: 2, backend: name as never }),
      () => sequenceClassifier({ input: { features: 3 }, lstm: { hiddenSize: 2 } }, { backend: name as never }),
    ]) {
      expect(make).toThrow(ValueError);
      expect(make).toThrow(
        `backend must be a Backend from init() or loadBackend(), got "${name}"; for a backend by name, pass \`await loadBackend({ backend: "${name}" })\``,
      );
    }
    expect(() => new LSTM({ inputSize: 3, hiddenSize: 2, backend: null as never })).toThrow(
      /backend must be a Backend from init\(\) or loadBackend\(\), got null$/,
    );
  });

  it('rejects wrong shapes with the expected shape in the message', async () => {
    const lstm = await make();
    expect(() => lstm.forward(randomTensor([2, 5, 4], rng(1)))).toThrow(ShapeError);
    expect(() => lstm.forward(randomTensor([2, 5, 4], rng(1)))).toThrow(/expected \(batch, steps, inputSize\) = \[B, T, 3\]/);
    expect(() => lstm.forward(randomTensor([10, 3], rng(1)))).toThrow(ShapeError);
    expect(() => lstm.forward({ data: new Float32Array(29), shape: [2, 5, 3] })).toThrow(/29 elements but shape \[2, 5, 3\] needs 30/);
    expect(() => lstm.forward(randomTensor([0, 5, 3], rng(1)))).toThrow(/at least one sequence/);
  });

  it('rejects data that is not a Float32Array', async () => {
    const lstm = await make();
    const bad = { data: Array.from({ length: 30 }, () => 0.5), shape: [2, 5, 3] };
    expect(() => lstm.forward(bad as never)).toThrow(/x\.data must be a Float32Array, got an Array/);
    expect(() => lstm.forward({ data: new Float64Array(30), shape: [2, 5, 3] } as never)).toThrow(/got a Float64Array/);
    expect(() => lstm.forward(null as never)).toThrow(ShapeError);
  });

  it('rejects NaN and Infinity in the input and the initial state', async () => {
    const lstm = await make();
    const bad = x();
    bad.data[7] = NaN;
    expect(() => lstm.forward(bad)).toThrow(ValueError);
    expect(() => lstm.forward(bad)).toThrow(/non-finite value \(NaN\) at flat index 7/);
    const h0 = randomTensor([4, 2, 4], rng(2));
    h0.data[0] = Infinity;
    expect(() => lstm.forward(x(), { h0 })).toThrow(/h0 holds a non-finite value/);
  });

  it('rejects lengths out of range, of the wrong count or not integers', async () => {
    const lstm = await make();
    expect(() => lstm.forward(x(), { lengths: [5, 0] })).toThrow(/lengths\[1\] = 0 is out of range; each length must be in 1..=5/);
    expect(() => lstm.forward(x(), { lengths: [6, 1] })).toThrow(ValueError);
    expect(() => lstm.forward(x(), { lengths: [2.5, 1] })).toThrow(ValueError);
    expect(() => lstm.forward(x(), { lengths: [NaN, 1] })).toThrow(ValueError);
    expect(() => lstm.forward(x(), { lengths: [5] })).toThrow(/lengths has 1 entries; expected one per sequence \(batch 2\)/);
  });

  it('rejects h0 and c0 of the wrong size', async () => {
    const lstm = await make();
    expect(() => lstm.forward(x(), { h0: randomTensor([2, 2, 4], rng(2)) })).toThrow(
      /h0 has shape \[2, 2, 4\]; expected \(numLayers·directions, batch, hiddenSize\) = \[4, 2, 4\]/,
    );
    expect(() => lstm.forward(x(), { c0: randomTensor([4, 2, 5], rng(2)) })).toThrow(ShapeError);
  });

  it('rejects backward before forward, and after new weights invalidate the cache', async () => {
    const lstm = await make();
    expect(() => lstm.backward({})).toThrow(StateError);
    lstm.forward(x());
    lstm.loadStateDict(lstm.stateDict());
    expect(() => lstm.backward({})).toThrow(/needs a forward pass first/);
  });

  it('rejects mis-shaped or non-finite upstream gradients', async () => {
    const lstm = await make();
    lstm.forward(x());
    expect(() => lstm.backward({ output: randomTensor([2, 5, 4], rng(3)) })).toThrow(ShapeError);
    const g = randomTensor([2, 5, 8], rng(3));
    g.data[3] = NaN;
    expect(() => lstm.backward({ output: g })).toThrow(ValueError);
  });

  it('throws DisposedError on use after dispose, and dispose twice is harmless', async () => {
    const lstm = await make();
    lstm.dispose();
    lstm.dispose();
    expect(() => lstm.forward(x())).toThrow(DisposedError);
    expect(() => lstm.stateDict()).toThrow(/LSTM was used after dispose\(\)/);
    expect(() => lstm.backward()).toThrow(DisposedError);
  });

  it('leaves the cache intact when a forward call is rejected', async () => {
    const lstm = await make();
    const gy = randomTensor([2, 5, 8], rng(4));
    lstm.forward(x(), { lengths: [5, 3] });
    const want = lstm.backward({ output: gy });
    lstm.forward(x(), { lengths: [5, 3] });
    const bad = x();
    bad.data[0] = NaN;
    expect(() => lstm.forward(bad)).toThrow(ValueError);
    expect(() => lstm.forward(x(), { lengths: [9, 1] })).toThrow(ValueError);
    const got = lstm.backward({ output: gy });
    expect(got.x.data).toEqual(want.x.data);
    expect(got.params.weight_hh_l1_reverse.data).toEqual(want.params.weight_hh_l1_reverse.data);
  });

  it('loadStateDict lists every problem and changes nothing when any entry is wrong', async () => {
    const lstm = await make();
    const before = lstm.stateDict();
    const dict: Record<string, TensorLike> = lstm.stateDict();
    dict.weight_ih_l0 = randomTensor([16, 3], rng(5));
    dict.weight_hh_l0 = randomTensor([16, 5], rng(5));
    delete (dict as Record<string, unknown>).bias_ih_l1;
    (dict as Record<string, unknown>).extra = randomTensor([1], rng(5));
    const err = thrown(() => lstm.loadStateDict(dict));
    expect(err).toBeInstanceOf(ShapeError);
    expect(err!.message).toMatch(/weight_hh_l0 has shape \[16, 5\]; expected \[16, 4\]/);
    expect(err!.message).toMatch(/missing bias_ih_l1 \[16\]/);
    expect(err!.message).toMatch(/unexpected extra/);
    expect(lstm.stateDict().weight_ih_l0.data).toEqual(before.weight_ih_l0.data);
  });
});
