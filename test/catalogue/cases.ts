/**
 * The catalogue of bad inputs: each entry is one distinct bad input (API call, file or command line), the
 * error class it must raise and a fragment of its message. catalogue.test.ts runs every entry on both
 * backends and checks that the model, the files on disk and the backend (live handles, wasm memory) are
 * unchanged afterwards. Entries are generated from small tables (a field × a bad value), each row one input.
 */
import { gzipSync, zipSync } from 'fflate';
import { mkfifoSync } from './fifo';
import { tar } from '../data/helpers';
import {
  type Backend,
  LSTM,
  SequenceModel,
  type SequenceModelConfig,
  WordIndex,
  decodeSafetensors,
  encodeSafetensors,
  loadImdb,
  loadModel,
  modelFromArrayBuffer,
  saveModel,
} from '../../ts/index';
import { readNpy, readNpz, unpickle } from '../../ts/data/npz';
import { TarReader } from '../../ts/data/tar';
import { readKerasNpz } from '../../ts/data/imdb';
import { train as cliTrain, evaluate as cliEvaluate, predict as cliPredict, type Io } from '../../ts/cli/imdb';
import { join } from 'node:path';
import { symlinkSync, writeFileSync, mkdirSync } from 'node:fs';

/** What every case runs against: a model and an LSTM built from fixed seeds, and a scratch directory. */
export interface Ctx {
  backend: Backend;
  model: SequenceModel;
  dense: SequenceModel;
  lstm: LSTM;
  dir: string;
  /** A saved bundle of `model` (bytes), for the file cases. */
  bundle: Uint8Array;
}

export type ErrorClass = 'ShapeError' | 'ValueError' | 'StateError' | 'DisposedError' | 'BackendError' | 'DataError' | 'UsageError';

export interface Case {
  name: string;
  area: 'api' | 'file' | 'cli';
  error: ErrorClass;
  message: RegExp;
  run(ctx: Ctx): unknown;
  /**
   * Bytes wasm memory may grow by: only the cases whose input is itself large (it is copied into wasm
   * before the core can refuse it) or that build a model of their own; wasm memory never shrinks.
   */
  grows?: number;
}

const cases: Case[] = [];
const add = (area: Case['area'], name: string, error: ErrorClass, message: RegExp, run: Case['run']) =>
  cases.push({ area, name, error, message, run });

// ---- model configs: one field × one bad value --------------------------------------------------------------

/** The model every config case starts from (one-hot, V = 12). */
export const BASE: SequenceModelConfig = {
  input: { embedding: 6 },
  vocabSize: 12,
  lstm: { hiddenSize: 5 },
  output: { units: 1, activation: 'sigmoid' },
  seed: 3,
};

/** A config as a test edits it: any field may be set to anything. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = Record<string, any>;
type Patch = (c: Loose) => void;
const sizeFields: [string, (c: Loose, v: unknown) => void][] = [
  ['vocabSize', (c, v) => (c.vocabSize = v)],
  ['input.embedding', (c, v) => (c.input = { embedding: v })],
  ['lstm.hiddenSize', (c, v) => (c.lstm = { hiddenSize: v })],
  ['head[0].units', (c, v) => (c.head = [{ units: v }])],
  ['output.units', (c, v) => (c.output = { units: v, activation: 'linear' })],
];
const badSizes: [string, unknown, ErrorClass, RegExp][] = [
  ['zero', 0, 'ValueError', /must be a positive integer, got 0 \(at most 16777216\)/],
  ['negative', -1, 'ValueError', /must be a positive integer, got number -1/],
  ['fraction', 2.5, 'ValueError', /must be a positive integer, got number 2\.5/],
  ['NaN', NaN, 'ValueError', /must be a positive integer, got number NaN/],
  ['a string', '4', 'ValueError', /must be a positive integer, got string "4"/],
  ['null', null, 'ValueError', /must be a positive integer, got null/],
  ['2^32 (past u32)', 2 ** 32, 'ValueError', /must be a positive integer, got number 4294967296/],
  ['Infinity', Infinity, 'ValueError', /must be a positive integer, got number Infinity/],
  ['2^24 + 1 (past the size limit, or the memory)', 2 ** 24 + 1, 'ValueError', /(at most 16777216|would not fit)/],
  ['10^9 (memory)', 1e9, 'ValueError', /would not fit: \d+ parameters need [\d.]+ [GTP]B/],
];
for (const [field, set] of sizeFields) {
  for (const [label, v, error, message] of badSizes) {
    add('api', `config ${field} = ${label}`, error, message, ({ backend }) => {
      const c = structuredClone({ ...BASE }) as Record<string, unknown>;
      set(c, v);
      return new SequenceModel(c as unknown as SequenceModelConfig, { backend });
    });
  }
}
const otherConfigs: [string, Patch, RegExp][] = [
  ['numLayers 0', (c) => (c.lstm = { hiddenSize: 4, numLayers: 0 }), /lstm\.numLayers must be a positive integer, got 0 \(at most 64\)/],
  ['numLayers 65', (c) => (c.lstm = { hiddenSize: 4, numLayers: 65 }), /lstm\.numLayers must be a positive integer, got 65 \(at most 64\)/],
  ['numLayers 1e6', (c) => (c.lstm = { hiddenSize: 4, numLayers: 1e6 }), /at most 64/],
  ['numLayers 1.5', (c) => (c.lstm = { hiddenSize: 4, numLayers: 1.5 }), /lstm\.numLayers must be a positive integer/],
  ['bidirectional "yes"', (c) => (c.lstm = { hiddenSize: 4, bidirectional: 'yes' }), /lstm\.bidirectional must be a boolean/],
  ['lstm.dropout 1', (c) => (c.lstm = { hiddenSize: 4, dropout: 1 }), /lstm\.dropout must be a number in \[0, 1\), got 1/],
  ['lstm.dropout -0.1', (c) => (c.lstm = { hiddenSize: 4, dropout: -0.1 }), /lstm\.dropout must be a number in \[0, 1\)/],
  ['lstm.dropout NaN', (c) => (c.lstm = { hiddenSize: 4, dropout: NaN }), /lstm\.dropout must be a number in \[0, 1\)/],
  ['dropout 2', (c) => (c.dropout = 2), /dropout must be a number in \[0, 1\), got 2/],
  ['dropout "0.1"', (c) => (c.dropout = '0.1'), /dropout must be a number in \[0, 1\)/],
  ['lstm null', (c) => (c.lstm = null), /lstm must be an object/],
  ['lstm a number', (c) => (c.lstm = 4), /lstm must be an object/],
  ['input "embedding"', (c) => (c.input = 'embedding'), /input must be 'one-hot'/],
  ['input null', (c) => (c.input = null), /input must be 'one-hot'/],
  ['input {}', (c) => (c.input = {}), /input must be 'one-hot'/],
  ['features 0', (c) => (c.input = { features: 0 }), /input\.features must be a positive integer, got 0/],
  ['features -3', (c) => (c.input = { features: -3 }), /input\.features must be a positive integer/],
  ['features 1e9 with H 1e4', (c) => ((c.input = { features: 1e9 }), (c.lstm = { hiddenSize: 1e4 })), /would not fit/],
  ['vocabSize missing', (c) => delete c.vocabSize, /vocabSize must be a positive integer for token input/],
  [
    'paddingIdx = vocabSize',
    (c) => (c.input = { embedding: 4, paddingIdx: 12 }),
    /paddingIdx must be null or an id below vocabSize 12, got 12/,
  ],
  ['paddingIdx -1', (c) => (c.input = { embedding: 4, paddingIdx: -1 }), /paddingIdx must be null or an id below vocabSize/],
  ['paddingIdx "0"', (c) => (c.input = { embedding: 4, paddingIdx: '0' }), /paddingIdx must be null or an id below vocabSize/],
  ['mask = vocabSize', (c) => (c.mask = 12), /mask must be true, false or a token id below vocabSize 12, got 12/],
  ['mask -1', (c) => (c.mask = -1), /mask must be true, false or a token id below vocabSize/],
  ['mask "yes"', (c) => (c.mask = 'yes'), /mask must be true, false or a token id/],
  ['mask with features', (c) => ((c.input = { features: 3 }), (c.mask = true)), /mask needs token input/],
  ['mask with pooling sequence', (c) => ((c.mask = true), (c.pooling = 'sequence')), /mask cannot be combined with pooling 'sequence'/],
  ['pooling "avg"', (c) => (c.pooling = 'avg'), /pooling must be 'last', 'mean', 'max', 'max-mean' or 'sequence'/],
  ['embedding dropout 1', (c) => (c.input = { embedding: 4, dropout: 1 }), /input\.dropout must be a number in \[0, 1\), got 1/],
  ['embedding dropout "0.2"', (c) => (c.input = { embedding: 4, dropout: '0.2' }), /input\.dropout must be a number in \[0, 1\)/],
  ['head not an array', (c) => (c.head = { units: 3 }), /head must be an array/],
  ['head[0] null', (c) => (c.head = [null]), /head\[0\] must be \{ units/],
  [
    'head activation "gelu"',
    (c) => (c.head = [{ units: 3, activation: 'gelu' }]),
    /head\[0\]\.activation must be 'relu', 'tanh' or 'linear'/,
  ],
  ['output missing', (c) => delete c.output, /output\.units must be a positive integer, got undefined/],
  [
    'output activation "relu"',
    (c) => (c.output = { units: 1, activation: 'relu' }),
    /output\.activation must be 'sigmoid', 'softmax' or 'linear'/,
  ],
  ['output activation "toString"', (c) => (c.output = { units: 1, activation: 'toString' }), /output\.activation must be/],
  [
    'softmax with 1 unit',
    (c) => (c.output = { units: 1, activation: 'softmax' }),
    /softmax output \(cross-entropy\) needs at least 2 units/,
  ],
  ['seed -1', (c) => (c.seed = -1), /seed must be a non-negative safe integer/],
  ['seed 2^53', (c) => (c.seed = 2 ** 53), /seed must be a non-negative safe integer/],
  ['seed 0.5', (c) => (c.seed = 0.5), /seed must be a non-negative safe integer/],
  ['a wide head that would not fit', (c) => (c.head = [{ units: 2 ** 24 }, { units: 2 ** 24 }]), /would not fit: \d+ parameters need/],
];
for (const [label, patch, message] of otherConfigs) {
  add('api', `config ${label}`, 'ValueError', message, ({ backend }) => {
    const c = structuredClone(BASE) as unknown as Record<string, unknown>;
    patch(c);
    return new SequenceModel(c as unknown as SequenceModelConfig, { backend });
  });
}
add(
  'api',
  'config null',
  'ValueError',
  /model config must be an object, got null/,
  ({ backend }) => new SequenceModel(null as never, { backend }),
);
add(
  'api',
  'config a string',
  'ValueError',
  /model config must be an object/,
  ({ backend }) => new SequenceModel('lstm' as never, { backend }),
);

// ---- LSTM options -----------------------------------------------------------------------------------------

const lstmBad: [string, Record<string, unknown>, RegExp][] = [
  ['inputSize 0', { inputSize: 0 }, /LSTM inputSize must be a positive integer, got 0/],
  ['hiddenSize 0', { hiddenSize: 0 }, /LSTM hiddenSize must be a positive integer, got 0/],
  ['numLayers 0', { numLayers: 0 }, /LSTM numLayers must be a positive integer, got 0 \(at most 64\)/],
  ['numLayers 1e6', { numLayers: 1e6 }, /LSTM numLayers must be a positive integer, got 1000000 \(at most 64\)/],
  ['inputSize -1', { inputSize: -1 }, /inputSize must be an integer/],
  ['hiddenSize 2.5', { hiddenSize: 2.5 }, /hiddenSize must be an integer/],
  ['hiddenSize "4"', { hiddenSize: '4' }, /hiddenSize must be an integer/],
  ['inputSize 2^32 + 1 (would wrap to 1)', { inputSize: 2 ** 32 + 1 }, /inputSize must be an integer/],
  [
    'inputSize 2^24 + 1',
    { inputSize: 2 ** 24 + 1, hiddenSize: 1 },
    /LSTM inputSize must be a positive integer, got 16777217 \(at most 16777216\)/,
  ],
  [
    'sizes whose product overflows 32 bits',
    { inputSize: 2 ** 20, hiddenSize: 2 ** 20 },
    /LSTM would not fit: 8796101410816 parameters need 70\.4 TB/,
  ],
  ['hiddenSize 1e5 (memory)', { hiddenSize: 1e5 }, /LSTM would not fit: \d+ parameters need [\d.]+ GB/],
  ['bidirectional 1', { bidirectional: 1 }, /bidirectional must be a boolean/],
  ['batchFirst "no"', { batchFirst: 'no' }, /batchFirst must be a boolean/],
  ['seed -5', { seed: -5 }, /seed must be a non-negative safe integer/],
  ['seed NaN', { seed: NaN }, /seed must be a non-negative safe integer/],
];
for (const [label, patch, message] of lstmBad) {
  add(
    'api',
    `LSTM ${label}`,
    'ValueError',
    message,
    ({ backend }) => new LSTM({ inputSize: 3, hiddenSize: 4, backend, ...patch } as never),
  );
}
add('api', 'LSTM options null', 'ValueError', /LSTM options must be an object/, () => new LSTM(null as never));

// ---- LSTM forward / backward -------------------------------------------------------------------------------

const f32 = (n: number, v = 0.5) => new Float32Array(n).fill(v);
const lstmForward: [string, ErrorClass, RegExp, (l: LSTM) => unknown][] = [
  ['x null', 'ShapeError', /x must be a tensor/, (l) => l.forward(null as never)],
  [
    'x a number[]',
    'ShapeError',
    /x\.data must be a Float32Array, got an Array/,
    (l) => l.forward({ data: [1, 2, 3] as never, shape: [1, 1, 3] }),
  ],
  [
    'x a Float64Array',
    'ShapeError',
    /x\.data must be a Float32Array, got a Float64Array/,
    (l) => l.forward({ data: new Float64Array(3) as never, shape: [1, 1, 3] }),
  ],
  ['x shape of 2 dims', 'ShapeError', /x has shape \[1, 3\]/, (l) => l.forward({ data: f32(3), shape: [1, 3] })],
  ['x wrong feature count', 'ShapeError', /x has shape \[1, 1, 4\]/, (l) => l.forward({ data: f32(4), shape: [1, 1, 4] })],
  [
    'x shape with -1',
    'ShapeError',
    /x\.shape must be an array of non-negative integers/,
    (l) => l.forward({ data: f32(3), shape: [-1, 1, 3] }),
  ],
  [
    'x shape not matching data',
    'ShapeError',
    /x has 5 elements but shape \[1, 1, 3\] needs 3/,
    (l) => l.forward({ data: f32(5), shape: [1, 1, 3] }),
  ],
  ['x batch 0', 'ShapeError', /at least one sequence/, (l) => l.forward({ data: f32(0), shape: [0, 2, 3] })],
  ['x steps 0', 'ShapeError', /at least one sequence/, (l) => l.forward({ data: f32(0), shape: [2, 0, 3] })],
  [
    'x NaN',
    'ValueError',
    /non-finite value \(NaN\) at flat index 4/,
    (l) => l.forward({ data: Float32Array.from([0, 0, 0, 0, NaN, 0]), shape: [1, 2, 3] }),
  ],
  [
    'x Infinity',
    'ValueError',
    /non-finite value \(inf\)/,
    (l) => l.forward({ data: Float32Array.from([Infinity, 0, 0]), shape: [1, 1, 3] }),
  ],
  [
    'x -Infinity',
    'ValueError',
    /non-finite value \(-inf\)/,
    (l) => l.forward({ data: Float32Array.from([0, -Infinity, 0]), shape: [1, 1, 3] }),
  ],
  [
    'lengths 0',
    'ValueError',
    /lengths\[0\] = 0 is out of range; each length must be in 1..=2/,
    (l) => l.forward({ data: f32(6), shape: [1, 2, 3] }, { lengths: [0] }),
  ],
  [
    'lengths T + 1',
    'ValueError',
    /lengths\[0\] = 3 is out of range/,
    (l) => l.forward({ data: f32(6), shape: [1, 2, 3] }, { lengths: [3] }),
  ],
  ['lengths -1', 'ValueError', /lengths\[0\] = -1 is not valid/, (l) => l.forward({ data: f32(6), shape: [1, 2, 3] }, { lengths: [-1] })],
  [
    'lengths 1.5',
    'ValueError',
    /lengths\[0\] = 1\.5 is not valid/,
    (l) => l.forward({ data: f32(6), shape: [1, 2, 3] }, { lengths: [1.5] }),
  ],
  [
    'lengths 2^32 + 1 (would wrap)',
    'ValueError',
    /lengths\[0\] = 4294967297 is not valid/,
    (l) => l.forward({ data: f32(6), shape: [1, 2, 3] }, { lengths: [2 ** 32 + 1] }),
  ],
  [
    'lengths wrong count',
    'ShapeError',
    /lengths has 2 entries; expected one per sequence \(batch 1\)/,
    (l) => l.forward({ data: f32(6), shape: [1, 2, 3] }, { lengths: [1, 1] }),
  ],
  [
    'lengths null',
    'ShapeError',
    /lengths must be an array of integers/,
    (l) => l.forward({ data: f32(6), shape: [1, 2, 3] }, { lengths: null as never }),
  ],
  [
    'h0 wrong shape',
    'ShapeError',
    /h0 has shape \[1, 1, 3\]/,
    (l) => l.forward({ data: f32(3), shape: [1, 1, 3] }, { h0: { data: f32(3), shape: [1, 1, 3] } }),
  ],
  [
    'h0 NaN',
    'ValueError',
    /h0 holds a non-finite value/,
    (l) => l.forward({ data: f32(3), shape: [1, 1, 3] }, { h0: { data: Float32Array.from([NaN, 0, 0, 0]), shape: [1, 1, 4] } }),
  ],
  [
    'c0 a number[]',
    'ShapeError',
    /c0\.data must be a Float32Array/,
    (l) => l.forward({ data: f32(3), shape: [1, 1, 3] }, { c0: { data: [0, 0, 0, 0] as never, shape: [1, 1, 4] } }),
  ],
  [
    'a shape whose product overflows 32 bits',
    'ShapeError',
    /x has 0 elements but shape \[65536, 65536, 3\] needs 12884901888/,
    (l) => l.forward({ data: f32(0), shape: [65536, 65536, 3] }),
  ],
  ['backward before forward', 'StateError', /forward/, (l) => l.backward()],
];
for (const [label, error, message, run] of lstmForward) add('api', `LSTM.forward ${label}`, error, message, ({ lstm }) => run(lstm));
add(
  'api',
  'LSTM.forward a batch needing > 4 GB (more than wasm can address)',
  'ValueError',
  /LSTM input of batch 2048 × steps 2048 would not fit: it needs about [\d.]+ GB \(\d+ bytes\) of working memory; at most 2\.1 GB/,
  ({ backend }) => {
    const big = new LSTM({ inputSize: 1, hiddenSize: 512, numLayers: 2, bidirectional: true, backend });
    try {
      return big.forward({ data: f32(2048 * 2048), shape: [2048, 2048, 1] });
    } finally {
      big.dispose();
    }
  },
);

// ---- model calls -------------------------------------------------------------------------------------------

const ids = (n: number, t: number, v = 1) => ({ data: new Int32Array(n * t).fill(v), shape: [n, t] });
const y = (n: number, v = 1) => new Float32Array(n).fill(v);
type ModelCall = [string, ErrorClass, RegExp, (m: SequenceModel) => unknown];
const calls: ModelCall[] = [
  ['x null', 'ShapeError', /x must be \{ data, shape \} or an array/, (m) => m.predict(null as never)],
  ['x a number', 'ShapeError', /x must be \{ data, shape \}/, (m) => m.predict(3 as never)],
  [
    'x a Float32Array of ids',
    'ShapeError',
    /x\.data must be an Int32Array of token ids/,
    (m) => m.predict({ data: new Float32Array(4), shape: [2, 2] }),
  ],
  ['x 3-d', 'ShapeError', /x must have shape \[batch, steps\]/, (m) => m.predict({ data: new Int32Array(4), shape: [2, 2, 1] })],
  [
    'x data/shape mismatch',
    'ShapeError',
    /x has 4 values but shape \[2, 3\] needs 6/,
    (m) => m.predict({ data: new Int32Array(4), shape: [2, 3] }),
  ],
  ['x steps 0', 'ShapeError', /x has sequences of 0 steps/, (m) => m.predict({ data: new Int32Array(0), shape: [2, 0] })],
  ['id = vocabSize', 'ValueError', /token id 12 at flat index 0 .* ids must be in 0..12 \(vocabSize\)/, (m) => m.predict(ids(1, 2, 12))],
  ['id -1', 'ValueError', /token id -1 at flat index 0/, (m) => m.predict(ids(1, 2, -1))],
  ['id 2^31 - 1', 'ValueError', /token id 2147483647/, (m) => m.predict(ids(1, 1, 2 ** 31 - 1))],
  [
    'number[][] id 2^32 + 3 (would wrap to 3)',
    'ValueError',
    /token 4294967299 at sequence 0, step 0 is not an integer id that fits int32/,
    (m) => m.predict([[2 ** 32 + 3]]),
  ],
  ['number[][] id 1.5', 'ValueError', /token 1\.5 at sequence 0, step 1 is not an integer id/, (m) => m.predict([[1, 1.5]])],
  ['number[][] id NaN', 'ValueError', /token NaN at sequence 0, step 0/, (m) => m.predict([[NaN]])],
  ['number[][] id "3"', 'ValueError', /token 3 at sequence 0, step 0 is not an integer id/, (m) => m.predict([['3' as never]])],
  ['number[][] mixed lengths', 'ShapeError', /sequences have mixed lengths/, (m) => m.predict([[1, 2], [1]])],
  [
    'lengths 0',
    'ValueError',
    /lengths\[1\] = 0 is out of range; each length must be in 1..=2/,
    (m) => m.predict({ ...ids(2, 2), lengths: [1, 0] }),
  ],
  ['lengths T + 1', 'ValueError', /lengths\[0\] = 3 is out of range/, (m) => m.predict({ ...ids(2, 2), lengths: [3, 1] })],
  ['lengths -2', 'ValueError', /x\.lengths\[0\] = -2 must be an integer in 1..2/, (m) => m.predict({ ...ids(2, 2), lengths: [-2, 1] })],
  ['lengths 0.5', 'ValueError', /x\.lengths\[1\] = 0\.5 must be an integer/, (m) => m.predict({ ...ids(2, 2), lengths: [1, 0.5] })],
  ['lengths wrong count', 'ShapeError', /x\.lengths has 1 entries; expected 2/, (m) => m.predict({ ...ids(2, 2), lengths: [1] })],
  [
    'a shape whose product overflows',
    'ShapeError',
    /x has 1 values but shape \[16777216, 16777216\] needs 281474976710656/,
    (m) => m.predict({ data: new Int32Array(1), shape: [2 ** 24, 2 ** 24] }),
  ],
  ['predict batchSize 0', 'ValueError', /batchSize must be a positive integer, got 0/, (m) => m.predict(ids(1, 2), { batchSize: 0 })],
  ['predict batchSize -1', 'ValueError', /batchSize must be a positive integer, got -1/, (m) => m.predict(ids(1, 2), { batchSize: -1 })],
  ['predict batchSize NaN', 'ValueError', /batchSize must be a positive integer, got NaN/, (m) => m.predict(ids(1, 2), { batchSize: NaN })],
  [
    'evaluate batchSize 0.5',
    'ValueError',
    /batchSize must be a positive integer, got 0\.5/,
    (m) => m.evaluate(ids(1, 2), y(1), { batchSize: 0.5 }),
  ],
  ['label 2', 'ValueError', /label 2 at index 0 is not 0 or 1/, (m) => m.trainBatch(ids(1, 2), y(1, 2))],
  ['label 0.5', 'ValueError', /label 0\.5 at index 0 is not 0 or 1/, (m) => m.trainBatch(ids(1, 2), y(1, 0.5))],
  ['label NaN', 'ValueError', /label NaN at index 0 is not 0 or 1/, (m) => m.trainBatch(ids(1, 2), y(1, NaN))],
  ['label -1', 'ValueError', /label -1 at index 0/, (m) => m.trainBatch(ids(1, 2), y(1, -1))],
  ['targets too few', 'ShapeError', /targets have 1 values; expected 2/, (m) => m.trainBatch(ids(2, 2), y(1))],
  ['targets too many', 'ShapeError', /targets have 3 values; expected 2/, (m) => m.trainBatch(ids(2, 2), y(3))],
  ['targets null', 'ShapeError', /targets/, (m) => m.trainBatch(ids(1, 2), null as never)],
  ['targets a string', 'ShapeError', /targets/, (m) => m.trainBatch(ids(1, 2), 'yes' as never)],
  ['trainBatch bad id', 'ValueError', /token id 40/, (m) => m.trainBatch(ids(1, 2, 40), y(1))],
  ['computeGradients bad label', 'ValueError', /label 3/, (m) => m.computeGradients(ids(1, 2), y(1, 3))],
  ['evaluate bad id', 'ValueError', /token id 99/, (m) => m.evaluate(ids(1, 2, 99), y(1))],
  ['loadStateDict missing key', 'ShapeError', /missing/, (m) => m.loadStateDict({})],
  [
    'loadStateDict wrong shape',
    'ShapeError',
    /fc\.bias/,
    (m) => m.loadStateDict({ ...m.stateDict(), 'fc.bias': { data: f32(2), shape: [2] } }),
  ],
  [
    'loadStateDict unexpected key',
    'ShapeError',
    /unexpected/,
    (m) => m.loadStateDict({ ...m.stateDict(), extra: { data: f32(1), shape: [1] } }),
  ],
  [
    'loadStateDict NaN',
    'ValueError',
    /non-finite/,
    (m) => m.loadStateDict({ ...m.stateDict(), 'fc.bias': { data: f32(1, NaN), shape: [1] } }),
  ],
  [
    'loadStateDict a number[]',
    'ShapeError',
    /Float32Array/,
    (m) => m.loadStateDict({ ...m.stateDict(), 'fc.bias': { data: [0] as never, shape: [1] } }),
  ],
  [
    'setOptimizer type "rmsprop"',
    'ValueError',
    /optimizer\.type must be 'adam', 'adamw' or 'sgd', got "rmsprop"/,
    (m) => m.setOptimizer({ type: 'rmsprop' } as never),
  ],
  [
    'setOptimizer null',
    'ValueError',
    /optimizer\.type must be 'adam', 'adamw' or 'sgd', got undefined/,
    (m) => m.setOptimizer(null as never),
  ],
  ['setOptimizer sgd without lr', 'ValueError', /SGD needs an explicit lr/, (m) => m.setOptimizer({ type: 'sgd' } as never)],
  ['setOptimizer lr -1', 'ValueError', /lr/, (m) => m.setOptimizer({ type: 'adam', lr: -1 })],
  [
    'setOptimizer lr NaN',
    'ValueError',
    /optimizer\.lr must be a finite number, got number NaN/,
    (m) => m.setOptimizer({ type: 'adam', lr: NaN }),
  ],
  ['setOptimizer beta1 1', 'ValueError', /beta1/, (m) => m.setOptimizer({ type: 'adam', beta1: 1 })],
  ['setOptimizer beta2 -0.1', 'ValueError', /beta2/, (m) => m.setOptimizer({ type: 'adam', beta2: -0.1 })],
  ['setOptimizer eps 0', 'ValueError', /eps/, (m) => m.setOptimizer({ type: 'adam', eps: 0 })],
  ['setOptimizer momentum 2', 'ValueError', /momentum/, (m) => m.setOptimizer({ type: 'sgd', lr: 0.1, momentum: 2 })],
  ['setOptimizer clipNorm 0', 'ValueError', /clipNorm/, (m) => m.setOptimizer({ type: 'adam' }, { clipNorm: 0 })],
  ['setOptimizer clipNorm -1', 'ValueError', /clipNorm/, (m) => m.setOptimizer({ type: 'adam' }, { clipNorm: -1 })],
];
const fitCalls: ModelCall[] = [
  ['fit epochs -1', 'ValueError', /epochs must be a non-negative integer, got -1/, (m) => m.fit(ids(4, 2), y(4), { epochs: -1 })],
  ['fit epochs 1.5', 'ValueError', /epochs must be a non-negative integer/, (m) => m.fit(ids(4, 2), y(4), { epochs: 1.5 })],
  ['fit batchSize 0', 'ValueError', /batchSize must be a positive integer, got 0/, (m) => m.fit(ids(4, 2), y(4), { batchSize: 0 })],
  ['fit batchSize "8"', 'ValueError', /batchSize must be a positive integer/, (m) => m.fit(ids(4, 2), y(4), { batchSize: '8' as never })],
  [
    'fit validationSplit 1.5',
    'ValueError',
    /validationSplit must be in \(0, 1\), got 1\.5/,
    (m) => m.fit(ids(4, 2), y(4), { validationSplit: 1.5 }),
  ],
  ['fit validationSplit 0.1 of 4 samples', 'ValueError', /leaves an empty split/, (m) => m.fit(ids(4, 2), y(4), { validationSplit: 0.1 })],
  [
    'fit lrSchedule unknown',
    'ValueError',
    /lrSchedule must be/,
    (m) => m.fit(ids(4, 2), y(4), { lrSchedule: { type: 'linear' } as never }),
  ],
  [
    'fit lrSchedule step 0',
    'ValueError',
    /lrSchedule must be/,
    (m) => m.fit(ids(4, 2), y(4), { lrSchedule: { type: 'step', stepSize: 0 } }),
  ],
  [
    'fit earlyStopping on valLoss without validation',
    'ValueError',
    /earlyStopping monitors valLoss, which this run does not compute/,
    (m) => m.fit(ids(4, 2), y(4), { epochs: 2, earlyStopping: { monitor: 'valLoss' } }),
  ],
  [
    'fit earlyStopping monitor "f1"',
    'ValueError',
    /earlyStopping\.monitor must be one of/,
    (m) => m.fit(ids(4, 2), y(4), { earlyStopping: { monitor: 'f1' as never } }),
  ],
  [
    'fit callbacks.onBatchEnd not a function',
    'ValueError',
    /callbacks\.onBatchEnd must be a function/,
    (m) => m.fit(ids(4, 2), y(4), { callbacks: { onBatchEnd: 3 as never } }),
  ],
  [
    'fit initialHistory of the wrong length',
    'ValueError',
    /initialHistory must be an array of the 1 epochs before initialEpoch, got 0 entries/,
    (m) => m.fit(ids(4, 2), y(4), { epochs: 2, initialEpoch: 1, initialHistory: [] }),
  ],
  [
    'fit initialHistory with a non-numeric loss',
    'ValueError',
    /initialHistory\[0\] must be the EpochLogs of epoch 0/,
    (m) =>
      m.fit(ids(4, 2), y(4), {
        epochs: 2,
        initialEpoch: 1,
        initialHistory: [{ epoch: 0, loss: 'x' as never, seconds: 1, samplesPerSecond: 1, lr: 1 }],
      }),
  ],
  [
    'fit initialBestWeights without initialHistory',
    'ValueError',
    /initialBestWeights needs initialHistory/,
    (m) => m.fit(ids(4, 2), y(4), { epochs: 2, initialBestWeights: new Float32Array(1) }),
  ],
  [
    'fit keepBestEpoch resumed without initialBestWeights',
    'ValueError',
    /initialBestWeights is needed to resume with keepBestEpoch/,
    (m) =>
      m.fit(ids(8, 2), y(8), {
        epochs: 2,
        initialEpoch: 1,
        validationSplit: 0.5,
        keepBestEpoch: 'valLoss',
        initialHistory: [{ epoch: 0, loss: 0.7, valLoss: 0.7, seconds: 1, samplesPerSecond: 1, lr: 1 }],
      }),
  ],
  [
    'fit initialBestWeights of the wrong size',
    'ValueError',
    /initialBestWeights must be a Float32Array of the model's \d+ parameters/,
    (m) =>
      m.fit(ids(4, 2), y(4), {
        epochs: 2,
        initialEpoch: 1,
        initialHistory: [{ epoch: 0, loss: 0.7, seconds: 1, samplesPerSecond: 1, lr: 1 }],
        initialBestWeights: new Float32Array(2),
      }),
  ],
  [
    'fit initialTotals with a negative count',
    'ValueError',
    /initialTotals must be the totals a checkpoint reported/,
    (m) =>
      m.fit(ids(8, 2), y(8), { epochs: 1, batchSize: 4, initialBatch: 1, initialTotals: { lossSum: 1, correct: 0, counted: -1, seen: 4 } }),
  ],
  [
    'fit initialTotals at the start of an epoch',
    'ValueError',
    /initialTotals belongs to a checkpoint inside an epoch/,
    (m) => m.fit(ids(8, 2), y(8), { epochs: 1, batchSize: 4, initialTotals: { lossSum: 1, correct: 0, counted: 4, seen: 4 } }),
  ],
  ['fit shuffle "yes"', 'ValueError', /shuffle must be a boolean/, (m) => m.fit(ids(4, 2), y(4), { shuffle: 'yes' as never })],
  [
    'fit a bad id in the last batch',
    'ValueError',
    /x, samples 8\.\.9: token id 50/,
    (m) => {
      const x = ids(10, 2);
      x.data[19] = 50;
      return m.fit(x, y(10), { batchSize: 4 });
    },
  ],
  [
    'fit a bad label in the last batch',
    'ValueError',
    /x, samples 8\.\.9: label 7/,
    (m) => {
      const t = y(10, 0);
      t[9] = 7;
      return m.fit(ids(10, 2), t, { batchSize: 4 });
    },
  ],
  [
    'fit a bad length in the second batch',
    'ValueError',
    /x, samples 4\.\.7: lengths\[1\] = 0 is out of range/,
    (m) => {
      const lengths = new Array(10).fill(2);
      lengths[5] = 0;
      return m.fit({ ...ids(10, 2), lengths }, y(10), { batchSize: 4 });
    },
  ],
  [
    'fit bad validation data',
    'ValueError',
    /validationData, samples 0\.\.1: token id 30/,
    (m) => m.fit(ids(4, 2), y(4), { validationData: [ids(2, 2, 30), y(2)] }),
  ],
  ['fit targets of the wrong count', 'ShapeError', /targets have 3 values; expected 4/, (m) => m.fit(ids(4, 2), y(3))],
];
for (const [label, error, message, run] of [...calls, ...fitCalls]) add('api', `model.${label}`, error, message, ({ model }) => run(model));

const denseCalls: ModelCall[] = [
  [
    'x Int32Array for a feature model',
    'ShapeError',
    /x\.data must be a Float32Array of features/,
    (m) => m.predict({ data: new Int32Array(6), shape: [1, 2, 3] }),
  ],
  [
    'x wrong feature count',
    'ShapeError',
    /x must have shape \[batch, steps, 3\]; got \[1, 2, 2\]/,
    (m) => m.predict({ data: f32(4), shape: [1, 2, 2] }),
  ],
  ['x number[][] for a feature model', 'ShapeError', /float-feature models take/, (m) => m.predict([[1, 2, 3]])],
  [
    'x NaN',
    'ValueError',
    /input x holds a non-finite value \(NaN\) at flat index 2/,
    (m) => m.predict({ data: Float32Array.from([0, 0, NaN, 0, 0, 0]), shape: [1, 2, 3] }),
  ],
  [
    'x Infinity',
    'ValueError',
    /input x holds a non-finite value \(inf\)/,
    (m) => m.predict({ data: Float32Array.from([Infinity, 0, 0]), shape: [1, 1, 3] }),
  ],
  ['target NaN (mse)', 'ValueError', /target at index 0 is not finite/, (m) => m.trainBatch({ data: f32(3), shape: [1, 1, 3] }, y(1, NaN))],
  [
    'target Infinity (mse)',
    'ValueError',
    /target at index 0 is not finite/,
    (m) => m.trainBatch({ data: f32(3), shape: [1, 1, 3] }, y(1, Infinity)),
  ],
  [
    // predict and evaluate split such a batch into chunks the budget admits; one training step cannot be split.
    'a training batch needing > 4 GB (wasm)',
    'ValueError',
    /a batch call of batch 256 × steps 65536 would not fit: it needs about [\d.]+ GB/,
    (m) => m.trainBatch({ data: f32(256 * 65536 * 3), shape: [256, 65536, 3] }, y(256)),
  ],
];
for (const [label, error, message, run] of denseCalls) add('api', `feature model.${label}`, error, message, ({ dense }) => run(dense));

add('api', 'use after dispose', 'DisposedError', /SequenceModel was used after dispose\(\)/, ({ backend }) => {
  const m = new SequenceModel(BASE, { backend });
  m.dispose();
  return m.predict(ids(1, 2));
});
add('api', 'LSTM use after dispose', 'DisposedError', /LSTM was used after dispose\(\)/, ({ backend }) => {
  const l = new LSTM({ inputSize: 2, hiddenSize: 2, backend });
  l.dispose();
  return l.stateDict();
});

// ---- model files and bundles --------------------------------------------------------------------------------

/** A bundle with its header JSON edited. */
function editHeader(bundle: Uint8Array, edit: (h: Loose) => void): Uint8Array {
  const n = Number(new DataView(bundle.buffer, bundle.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bundle.subarray(8, 8 + n)));
  edit(header);
  const text = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + text.length + bundle.length - 8 - n);
  new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
  out.set(text, 8);
  out.set(bundle.subarray(8 + n), 8 + text.length);
  return out;
}
/** A bundle whose tensors and metadata are rebuilt by `edit`. */
function editBundle(
  bundle: Uint8Array,
  edit: (t: Record<string, { data: Float32Array; shape: number[] }>, meta: Record<string, string>) => void,
): Uint8Array {
  const st = decodeSafetensors(bundle);
  const tensors = st.tensors as Record<string, { data: Float32Array; shape: number[] }>;
  edit(tensors, st.metadata);
  return encodeSafetensors(tensors, st.metadata);
}
const optimizerKey = (t: Record<string, unknown>, which: 'm' | 'v') =>
  Object.keys(t).find((k) => k.startsWith(`optimizer.adam.${which}.`))!;
const bundles: [string, RegExp, (b: Uint8Array) => Uint8Array][] = [
  ['empty', /./, () => new Uint8Array(0)],
  ['7 bytes', /./, (b) => b.subarray(0, 7)],
  ['header length past the end', /./, (b) => b.subarray(0, 100)],
  ['truncated in the data', /./, (b) => b.subarray(0, b.length - 10)],
  [
    'header length 2^60',
    /./,
    (b) => {
      const c = b.slice();
      new DataView(c.buffer).setBigUint64(0, 2n ** 60n, true);
      return c;
    },
  ],
  [
    'header not JSON',
    /./,
    (b) => {
      const c = b.slice();
      c[9] = 0x7b;
      c[10] = 0x7b;
      return c;
    },
  ],
  [
    'header bytes not UTF-8',
    /./,
    (b) => {
      const c = b.slice();
      c[12] = 0xff;
      return c;
    },
  ],
  ['a dtype "F128"', /./, (b) => editHeader(b, (h) => (h['fc.bias'].dtype = 'F128'))],
  ['offsets past the data', /./, (b) => editHeader(b, (h) => (h['fc.bias'].data_offsets = [0, 1e9]))],
  ['offsets reversed', /./, (b) => editHeader(b, (h) => (h['fc.bias'].data_offsets = [8, 4]))],
  ['shape not matching offsets', /./, (b) => editHeader(b, (h) => (h['fc.bias'].shape = [7]))],
  ['shape with a negative size', /./, (b) => editHeader(b, (h) => (h['fc.bias'].shape = [-1]))],
  ['shape a string', /./, (b) => editHeader(b, (h) => (h['fc.bias'].shape = 'big'))],
  ['metadata a number', /./, (b) => editHeader(b, (h) => (h.__metadata__ = 3))],
  ['no config in the metadata', /config/, (b) => editHeader(b, (h) => delete h.__metadata__['cellstate.config'])],
  ['config not JSON', /config/, (b) => editHeader(b, (h) => (h.__metadata__['cellstate.config'] = '{oops'))],
  [
    'config of another format',
    /format/,
    (b) => editHeader(b, (h) => (h.__metadata__['cellstate.config'] = JSON.stringify({ format: 'keras', version: 1 }))),
  ],
  [
    'config with a vocabulary of 10^9',
    /would not fit/,
    (b) =>
      editHeader(b, (h) => {
        const c = JSON.parse(h.__metadata__['cellstate.config']);
        c.model.vocabSize = 1e9;
        h.__metadata__['cellstate.config'] = JSON.stringify(c);
      }),
  ],
  [
    'config with hiddenSize 0',
    /saved model config is invalid: lstm\.hiddenSize must be a positive integer, got 0/,
    (b) =>
      editHeader(b, (h) => {
        const c = JSON.parse(h.__metadata__['cellstate.config']);
        c.model.lstm.hiddenSize = 0;
        h.__metadata__['cellstate.config'] = JSON.stringify(c);
      }),
  ],
  [
    'optimizer state NaN in the second moment',
    /saved optimizer state is unusable: optimizer second moment holds a non-finite value \(NaN\)/,
    (b) => editBundle(b, (t) => (t[optimizerKey(t, 'v')].data[0] = NaN)),
  ],
  [
    'optimizer state Infinity in the first moment',
    /saved optimizer state is unusable: optimizer first moment holds a non-finite value/,
    (b) => editBundle(b, (t) => (t[optimizerKey(t, 'm')].data[0] = Infinity)),
  ],
  [
    'optimizer state a negative second moment',
    /second moment holds a negative value/,
    (b) => editBundle(b, (t) => (t[optimizerKey(t, 'v')].data[0] = -1)),
  ],
  [
    'optimizer step -1',
    /saved optimizer step -1 is not a step count/,
    (b) =>
      editBundle(b, (_, meta) => (meta['cellstate.optimizer'] = JSON.stringify({ ...JSON.parse(meta['cellstate.optimizer']), step: -1 }))),
  ],
  [
    'optimizer step "many"',
    /saved optimizer step "many"/,
    (b) =>
      editBundle(
        b,
        (_, meta) => (meta['cellstate.optimizer'] = JSON.stringify({ ...JSON.parse(meta['cellstate.optimizer']), step: 'many' })),
      ),
  ],
  [
    'optimizer lr -5',
    /saved optimizer settings are unusable/,
    (b) =>
      editBundle(b, (_, meta) => (meta['cellstate.optimizer'] = JSON.stringify({ ...JSON.parse(meta['cellstate.optimizer']), lr: -5 }))),
  ],
  [
    'optimizer clipNorm -1',
    /saved optimizer clipNorm -1/,
    (b) =>
      editBundle(
        b,
        (_, meta) => (meta['cellstate.optimizer'] = JSON.stringify({ ...JSON.parse(meta['cellstate.optimizer']), clipNorm: -1 })),
      ),
  ],
  [
    'optimizer metadata not JSON',
    /saved optimizer state is not valid JSON/,
    (b) => editBundle(b, (_, meta) => (meta['cellstate.optimizer'] = '{')),
  ],
  [
    'optimizer metadata an array',
    /saved optimizer state is not a JSON object/,
    (b) => editBundle(b, (_, meta) => (meta['cellstate.optimizer'] = '[1]')),
  ],
  ['optimizer moment missing', /saved optimizer state lacks/, (b) => editBundle(b, (t) => delete t[optimizerKey(t, 'm')])],
  ['rng state of 3 words', /saved random state/, (b) => editBundle(b, (_, meta) => (meta['cellstate.rng'] = '1,2,3'))],
  ['a weight NaN', /non-finite/, (b) => editBundle(b, (t) => (t['fc.bias'].data[0] = NaN))],
  ['a weight missing', /missing/, (b) => editBundle(b, (t) => delete t['fc.bias'])],
];
for (const [label, message, make] of bundles) {
  add(
    'file',
    `bundle ${label}`,
    /missing|shape|unexpected/.test(message.source) && label.startsWith('a weight')
      ? 'ShapeError'
      : label === 'a weight NaN'
        ? 'ValueError'
        : 'DataError',
    message,
    ({ backend, bundle }) => modelFromArrayBuffer(make(bundle), { backend }),
  );
}
// Which class a corrupt weight gives is the loader's: a missing weight is a ShapeError, a NaN weight a ValueError.
for (const c of cases) if (c.name === 'bundle a weight missing') c.error = 'ShapeError';

const paths: [string, RegExp, (dir: string) => string | { file: string } | { dir: string }][] = [
  ['a missing directory', /cannot read model at .*nope: ENOENT/, (d) => join(d, 'nope')],
  ['a missing .safetensors file', /is missing/, (d) => join(d, 'nope.safetensors')],
  [
    '/dev/zero as a file',
    /model file \/dev\/zero is a character device, not a regular file; refusing to read it/,
    () => ({ file: '/dev/zero' }),
  ],
  ['/dev/null as a file', /is a character device/, () => ({ file: '/dev/null' })],
  ['a link to /dev/zero', /is a character device, not a regular file/, (d) => ({ file: join(d, 'zero-link.safetensors') })],
  ['a FIFO', /is a FIFO \(named pipe\), not a regular file/, (d) => ({ file: join(d, 'fifo.safetensors') })],
  ['a directory without config.json', /config\.json" is missing/, (d) => ({ dir: join(d, 'empty') })],
  ['a directory whose config.json is a FIFO', /config\.json" is a FIFO/, (d) => ({ dir: join(d, 'fifo-config') })],
  ['a directory whose weights link to /dev/zero', /model\.safetensors" is a character device/, (d) => ({ dir: join(d, 'zero-weights') })],
  ['a file that is not a model', /./, (d) => ({ file: join(d, 'text.safetensors') })],
];
for (const [label, message, where] of paths)
  add('file', `loadModel ${label}`, 'DataError', message, ({ backend, dir }) => loadModel(where(dir), { backend }));
const saves: [string, RegExp, (dir: string) => string | { file: string }][] = [
  ['onto /dev/full', /"\/dev\/full" is a character device, not a regular file; refusing to replace it/, () => ({ file: '/dev/full' })],
  ['onto /dev/null', /"\/dev\/null" is a character device/, () => ({ file: '/dev/null' })],
  ['onto a FIFO', /is a FIFO \(named pipe\), not a regular file; refusing to replace it/, (d) => ({ file: join(d, 'fifo.safetensors') })],
  ['into a directory whose config.json is a FIFO', /config\.json" is a FIFO/, (d) => join(d, 'fifo-config')],
  ['under a regular file', /could not create the model directory/, (d) => join(d, 'text.safetensors', 'sub')],
];
for (const [label, message, where] of saves)
  add('file', `saveModel ${label}`, 'DataError', message, ({ model, dir }) => saveModel(model, where(dir)));

/** Files the path cases read: made once per scratch directory. */
export function makeFiles(dir: string): void {
  symlinkSync('/dev/zero', join(dir, 'zero-link.safetensors'));
  mkfifoSync(join(dir, 'fifo.safetensors'));
  mkdirSync(join(dir, 'empty'));
  mkdirSync(join(dir, 'fifo-config'));
  mkfifoSync(join(dir, 'fifo-config', 'config.json'));
  mkdirSync(join(dir, 'zero-weights'));
  writeFileSync(join(dir, 'zero-weights', 'config.json'), '{}');
  symlinkSync('/dev/zero', join(dir, 'zero-weights', 'model.safetensors'));
  writeFileSync(join(dir, 'text.safetensors'), 'hello, not a model');
}

// ---- data files: tar, gzip, npz, npy, pickle, word index ----------------------------------------------------

const review = (name: string, text = 'a fine film') => ({ name, data: text });
const goodTar = () => tar([review('aclImdb/train/pos/0_9.txt'), review('aclImdb/test/neg/0_2.txt', 'bad')]);
/** A tar header block with `size` (octal) and type, checksummed. */
function header(name: string, size: number | string, type = '0'): Uint8Array {
  const h = new Uint8Array(512);
  const put = (off: number, s: string) => h.set(new TextEncoder().encode(s), off);
  put(0, name);
  put(100, '0000644\0');
  put(124, typeof size === 'number' ? size.toString(8).padStart(11, '0') + '\0' : size);
  put(156, type);
  put(257, 'ustar\0');
  put(263, '00');
  let sum = 0;
  for (let k = 0; k < 512; k++) sum += k >= 148 && k < 156 ? 32 : h[k];
  put(148, sum.toString(8).padStart(6, '0') + '\0 ');
  return h;
}
const cat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};
const tars: [string, RegExp, () => Uint8Array][] = [
  ['empty', /./, () => new Uint8Array(0)],
  ['not gzip', /./, () => new TextEncoder().encode('hello world, not a tarball')],
  ['gzip of text', /./, () => gzipSync(new TextEncoder().encode('hello world'))],
  ['truncated gzip', /./, () => gzipSync(goodTar()).subarray(0, 100)],
  ['tar without end blocks', /truncated/, () => gzipSync(goodTar().subarray(0, 1536))],
  ['tar cut inside an entry', /truncated/, () => gzipSync(goodTar().subarray(0, 600))],
  [
    'a bad checksum',
    /checksum/,
    () => {
      const t = goodTar();
      t[0] ^= 1;
      return gzipSync(t);
    },
  ],
  [
    'a size that is not octal',
    /not an octal number/,
    () => gzipSync(cat(header('aclImdb/train/pos/1_9.txt', '00000000x99\0'), new Uint8Array(1024))),
  ],
  [
    'a GNU long name of 600 MB (the V8 abort)',
    /GNU long name at byte 0 claims 629145600 bytes \(at most 1048576 are read\)/,
    () => gzipSync(cat(header('././@LongLink', 600 << 20, 'L'), new Uint8Array(1024))),
  ],
  ['a pax header of 2 GB', /pax header at byte 0 claims/, () => gzipSync(cat(header('pax', 2 ** 31, 'x'), new Uint8Array(1024)))],
  [
    'a review of 8 GB (base-256 size)',
    /has \d+ bytes, more than the 67108864 this reader keeps/,
    () => {
      const h = header('aclImdb/train/pos/1_9.txt', 0);
      h.fill(0, 124, 136);
      h[124] = 0x80;
      h[130] = 2; // 2 << 32 bytes
      let sum = 0;
      for (let k = 0; k < 512; k++) sum += k >= 148 && k < 156 ? 32 : h[k];
      h.set(new TextEncoder().encode(sum.toString(8).padStart(6, '0') + '\0 '), 148);
      return gzipSync(cat(h, new Uint8Array(1024)));
    },
  ],
  [
    'a review id of 2^41 (another split)',
    /review aclImdb\/train\/neg\/2199023255552_1\.txt has an id above 2\^40/,
    () => gzipSync(tar([review('aclImdb/train/neg/2199023255552_1.txt'), review('aclImdb/test/pos/0_9.txt')])),
  ],
  [
    'a review that is not UTF-8',
    /is not valid UTF-8/,
    () => gzipSync(tar([{ name: 'aclImdb/train/pos/0_9.txt', data: new Uint8Array([0xff, 0xfe]) }])),
  ],
  ['the same review twice', /twice/, () => gzipSync(tar([review('aclImdb/train/pos/0_9.txt'), review('aclImdb/train/pos/0_9.txt')]))],
  ['no training review', /holds no training review/, () => gzipSync(tar([review('aclImdb/README')]))],
];
for (const [label, message, make] of tars) add('file', `IMDB tarball ${label}`, 'DataError', message, () => loadImdb({ source: make() }));

const npy = (descr: string, shape: string, body: Uint8Array, major = 1) => {
  const text = new TextEncoder().encode(`{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape}), }\n`);
  const head = new Uint8Array(major === 1 ? 10 : 12);
  head.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]);
  if (major === 1) new DataView(head.buffer).setUint16(8, text.length, true);
  else new DataView(head.buffer).setUint32(8, text.length, true);
  return cat(head, text, body);
};
const npys: [string, RegExp, () => Uint8Array][] = [
  ['bad magic', /bad magic string/, () => new TextEncoder().encode('NUMPY not really')],
  ['version 9', /unsupported \.npy version 9/, () => npy('<i8', '1,', new Uint8Array(8), 9)],
  ['truncated header', /truncated inside its header/, () => npy('<i8', '1,', new Uint8Array(8)).subarray(0, 20)],
  [
    'header of 4 GB claimed',
    /\.npy header of \d+ bytes is longer than/,
    () => {
      const b = npy('<i8', '1,', new Uint8Array(8), 2);
      new DataView(b.buffer).setUint32(8, 0xffffffff, true);
      return b;
    },
  ],
  [
    'no shape',
    /unreadable \.npy header/,
    () => {
      const text = new TextEncoder().encode("{'descr': '<i8'}\n");
      return cat(Uint8Array.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, text.length, 0]), text);
    },
  ],
  ['2-d shape', /expected a 1-d array/, () => npy('<i8', '1, 1', new Uint8Array(8))],
  ['negative shape', /expected a 1-d array, got shape \(-5,\)/, () => npy('<i8', '-5,', new Uint8Array(8))],
  ['shape 1e300', /expected a 1-d array/, () => npy('<i8', '1e300,', new Uint8Array(8))],
  ['dtype complex', /unsupported dtype '<c16'/, () => npy('<c16', '1,', new Uint8Array(16))],
  ['dtype <i3', /unsupported dtype '<i3'/, () => npy('<i3', '1,', new Uint8Array(3))],
  ['body shorter than the shape', /is truncated: 100 × 8 bytes expected, 8 present/, () => npy('<i8', '100,', new Uint8Array(8))],
  ['object array with a bad pickle', /pickle/, () => npy('|O', '1,', new Uint8Array([0x80, 0x02, 0xff]))],
];
for (const [label, message, make] of npys) add('file', `npy ${label}`, 'DataError', message, () => readNpy(make(), 'x.npy'));

const enc = (s: string) => new TextEncoder().encode(s);
const pickles: [string, RegExp, number[] | Uint8Array][] = [
  ['empty', /truncated at byte 0/, []],
  ['protocol 6', /pickle protocol 6 is not supported/, [0x80, 6]],
  [
    'os.system',
    /refers to os\.system, which is not one of numpy's array reconstructors; refusing it/,
    cat(Uint8Array.from([0x63]), enc('os\nsystem\n')),
  ],
  [
    'builtins.eval via STACK_GLOBAL',
    /refers to builtins\.eval/,
    cat(Uint8Array.from([0x8c, 8]), enc('builtins'), Uint8Array.from([0x8c, 4]), enc('eval'), Uint8Array.from([0x93])),
  ],
  [
    'a GLOBAL line of 1 MB',
    /pickle text line at byte 1 is longer than 4096 bytes/,
    cat(Uint8Array.from([0x63]), enc('a'.repeat(1 << 20)), enc('\nx\n')),
  ],
  ['opcode INST', /unsupported pickle opcode 0x69 \(INST\)/, [0x69]],
  ['opcode PERSID', /unsupported pickle opcode 0x50 \(PERSID\)/, [0x50]],
  ['opcode EXT1', /unsupported pickle opcode 0x82 \(EXT1\)/, [0x82, 1]],
  ['opcode 0xff', /unsupported pickle opcode 0xff \(unknown\)/, [0xff]],
  ['stack underflow', /stack underflow/, [0x61]],
  ['APPENDS without MARK', /no MARK/, [0x5d, 0x65]],
  ['APPEND to an int', /APPEND to a non-list/, [0x4b, 1, 0x4b, 2, 0x61]],
  ['BINGET of an unset memo', /memo 7 unset/, [0x68, 7]],
  ['LONG1 of 9 bytes', /pickle integer of 9 bytes is too large/, [0x8a, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9]],
  ['BINUNICODE past the end', /truncated/, [0x58, 0xff, 0xff, 0xff, 0x7f, 0x61]],
  ['BINUNICODE not UTF-8', /pickle string at byte 0 is not UTF-8/, [0x8c, 2, 0xff, 0xfe]],
  ['STOP with two items', /stack holds 2 items at STOP/, [0x4b, 1, 0x4b, 2, 0x2e]],
  ['REDUCE on a list', /malformed REDUCE/, [0x5d, 0x5d, 0x52]],
  ['BUILD on a list', /BUILD on something other than a numpy object/, [0x5d, 0x5d, 0x62]],
  ['no STOP', /truncated/, [0x80, 2, 0x5d]],
];
for (const [label, message, bytes] of pickles)
  add('file', `pickle ${label}`, 'DataError', message, () => unpickle(Uint8Array.from(bytes), 'x.npy'));

const npzs: [string, RegExp, () => Uint8Array][] = [
  ['not a zip', /not a valid \.npz \(zip\)/, () => enc('PK not really')],
  ['a member missing', /the \.npz has no array "x_train"/, () => zipSync({ 'y_train.npy': npy('<i8', '0,', new Uint8Array(0)) })],
  [
    'a member that claims 4 GB unpacked',
    /claims \d+ bytes unpacked, more than the 1073741824 read/,
    () => {
      const z = zipSync({ 'x_train.npy': enc('small') }, { level: 0 });
      // Patch the uncompressed size in the local header (offset 22) and the central directory entry.
      const dv = new DataView(z.buffer);
      dv.setUint32(22, 0xfffffff0, true);
      let cd = z.length - 4;
      while (dv.getUint32(cd, true) !== 0x02014b50) cd--; // the central directory entry
      dv.setUint32(cd + 24, 0xfffffff0, true);
      return z;
    },
  ],
];
for (const [label, message, make] of npzs) add('file', `npz ${label}`, 'DataError', message, () => readNpz(make(), ['x_train']));
add(
  'file',
  'npz of 100 KB naming one list 2^15 times (2^29 tokens: the npz that never finished)',
  'DataError',
  /x_train holds 536870912 tokens in all, more than the 268435456 read/,
  () => {
    const inner = [0x5d, 0x71, 0x00, 0x28, ...Array.from({ length: 1 << 14 }, () => [0x4b, 1]).flat(), 0x65];
    const refs = Array.from({ length: (1 << 15) - 1 }, () => [0x68, 0x00]).flat();
    const pickle = Uint8Array.from([0x80, 0x02, 0x5d, 0x28, ...inner, ...refs, 0x65, 0x2e]);
    const labels = npy('<i8', `${1 << 15},`, new Uint8Array(8 << 15));
    const z = zipSync({
      'x_train.npy': npy('|O', `${1 << 15},`, pickle),
      'y_train.npy': labels,
      'x_test.npy': npy('|O', `${1 << 15},`, pickle),
      'y_test.npy': labels,
    });
    return readKerasNpz(z);
  },
);

const wordIndexes: [string, RegExp, unknown][] = [
  ['not JSON', /the word index is not valid UTF-8 JSON/, enc('{oops')],
  ['an array', /the word index must be a JSON object of word → rank/, enc('[1, 2]')],
  ['rank 0', /rank of "the" must be a positive integer, got 0/, enc('{"the": 0}')],
  ['rank -3', /rank of "a" must be a positive integer, got -3/, enc('{"a": -3}')],
  ['rank 1.5', /rank of "a" must be a positive integer, got 1\.5/, enc('{"a": 1.5}')],
  ['rank a string', /rank of "a" must be a positive integer, got 1/, enc('{"a": "1"}')],
  ['bytes not UTF-8', /not valid UTF-8 JSON/, Uint8Array.from([0x7b, 0xff, 0x7d])],
  ['null', /the word index must be a JSON object/, enc('null')],
];
for (const [label, message, source] of wordIndexes) {
  add('file', `word index ${label}`, 'DataError', message, () =>
    loadImdb({ source: gzipSync(goodTar()), wordIndex: source as Uint8Array }),
  );
}
add('api', 'WordIndex of an array', 'DataError', /word/, () => new WordIndex([1, 2] as never));
add('file', 'TarReader a second header after a zero block', 'DataError', /a header follows a zero block/, () => {
  const r = new TarReader(
    () => true,
    () => undefined,
  );
  r.push(cat(new Uint8Array(512), goodTar()));
});

// ---- the command line ----------------------------------------------------------------------------------------

/** The CLI in-process, with its output discarded. */
export function io(): Io {
  const sink = { write: () => true } as unknown as Io['out'];
  return { out: sink, err: sink, stdin: process.stdin, signal: new AbortController().signal, version: '0' };
}
const cli: [string, RegExp, string[], 'train' | 'evaluate' | 'predict'][] = [
  ['--lr -1', /--lr must be a number in \(0, 10\], got '-1'/, ['--sample', '--lr', '-1'], 'train'],
  ['--lr=-0.5', /--lr must be a number in \(0, 10\], got '-0\.5'/, ['--sample', '--lr=-0.5'], 'train'],
  ['--lr 0', /--lr must be a number in \(0, 10\]/, ['--sample', '--lr', '0'], 'train'],
  ['--lr abc', /--lr must be a number/, ['--sample', '--lr', 'abc'], 'train'],
  ['--epochs ten', /--epochs must be an integer/, ['--sample', '--epochs', 'ten'], 'train'],
  ['--epochs -2', /--epochs must be an integer/, ['--sample', '--epochs', '-2'], 'train'],
  ['--batch-size 0', /--batch-size must be an integer/, ['--sample', '--batch-size', '0'], 'train'],
  ['--batch-size 1.5', /--batch-size must be an integer/, ['--sample', '--batch-size', '1.5'], 'train'],
  ['--maxlen -10', /--maxlen must be an integer/, ['--sample', '--maxlen', '-10'], 'train'],
  ['--threads 0', /--threads must be an integer/, ['--sample', '--threads', '0'], 'train'],
  ['--backend gpu', /--backend must be one of/, ['--sample', '--backend', 'gpu'], 'train'],
  ['--preset huge', /unknown preset 'huge'/, ['--sample', '--preset', 'huge'], 'train'],
  ['an unknown flag', /Unknown option '--frobnicate'/, ['--frobnicate'], 'train'],
  ['--lr without a value', /argument missing|--lr/, ['--sample', '--lr'], 'train'],
  ['evaluate without --model', /--model/, [], 'evaluate'],
  ['predict without --model', /--model/, ['some text'], 'predict'],
  ['an unknown flag', /Unknown option '--nope'/, ['--nope'], 'evaluate'],
];
for (const [label, message, argv, command] of cli) {
  add('cli', `imdb ${command} ${label}`, 'UsageError', message, () =>
    (command === 'train' ? cliTrain : command === 'evaluate' ? cliEvaluate : cliPredict)(argv, io()),
  );
}

add('cli', 'imdb evaluate --model of a missing directory', 'DataError', /cannot read model at \/nonexistent\/cellstate-model: ENOENT/, () =>
  cliEvaluate(['--model', '/nonexistent/cellstate-model'], io()),
);
add('cli', 'imdb predict --model of a file that is not a model', 'DataError', /./, ({ dir }) =>
  cliPredict(['--model', join(dir, 'text.safetensors'), 'hi'], io()),
);

// Inputs that are large by design: the copy of the input (and a model the case builds) may grow wasm memory.
for (const c of cases) {
  if (c.name === 'LSTM.forward a batch needing > 4 GB (more than wasm can address)') c.grows = 100e6; // 16 MB input + 67 MB LSTM
  if (c.name === 'feature model.a training batch needing > 4 GB (wasm)') c.grows = 210e6; // the 201 MB input
}

export { cases };
