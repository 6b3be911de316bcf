/**
 * Fuzz targets: every parser and decoder, and the binding surface. Each target draws inputs from a
 * fast-check arbitrary (mutations of valid seeds: the fixtures, the shipped sample tarball, files written
 * by the package; or random structures for the handles) and runs one. The contract for every input: it
 * returns, or it throws a CellstateError. Anything else (another error class, a hang, an abort, a wasm
 * trap) is a finding. scripts/fuzz drives these with a watchdog; test/fuzz/fuzz.test.ts runs a short budget.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { gunzipSync, gzipSync, zipSync } from 'fflate';
import {
  type Backend,
  CellstateError,
  SequenceModel,
  decodeSafetensors,
  exportOnnx,
  importOnnx,
  loadBackend,
  loadImdb,
  modelFromArrayBuffer,
} from '../../ts/index';
import { parseConfig } from '../../ts/io/bundle';
import { modelConfigOf } from '../../ts/model/format';
import { readNpy, readNpz, unpickle } from '../../ts/data/npz';
import { TarReader } from '../../ts/data/tar';
import { parseVocab } from '../../ts/cli/modeldir';

const here = dirname(fileURLToPath(import.meta.url));
/** The repository root: test/fuzz from source, or where the driver says when bundled. */
const root = process.env.CELLSTATE_ROOT ?? resolve(here, '../..');

/** What a target gets besides its input: both backends. */
export interface Env {
  backends: Backend[];
}

export interface Target<T = unknown> {
  name: string;
  /** Inputs, mutated from valid seeds (or random structures). */
  arbitrary(env: Env): fc.Arbitrary<T>;
  /** Runs one input: returns, or throws a CellstateError. */
  run(input: T, env: Env): unknown;
  /** The input as text for a reproducer file, and back. */
  encode(input: T): string;
  decode(text: string): T;
}

// ---- mutation of byte strings ------------------------------------------------------------------------------

/** Integers a size field is most likely to mishandle. */
const BOUNDARY = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff, 2 ** 24, 2 ** 29];

type Mutation = (b: Uint8Array) => Uint8Array;
const at = (b: Uint8Array, f: number) => Math.min(b.length, Math.floor(f * b.length));
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 1, max: 255 })).map(([f, x]): Mutation => (b) => {
    const c = b.slice();
    const i = at(c, f);
    if (i < c.length) c[i] ^= x;
    return c;
  }),
  fc.double({ min: 0, max: 1, noNaN: true }).map(
    (f): Mutation =>
      (b) =>
        b.slice(0, at(b, f)),
  ),
  fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.uint8Array({ maxLength: 64 })).map(([f, ins]): Mutation => (b) => {
    const i = at(b, f);
    const c = new Uint8Array(b.length + ins.length);
    c.set(b.subarray(0, i));
    c.set(ins, i);
    c.set(b.subarray(i), i + ins.length);
    return c;
  }),
  fc
    .tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(...BOUNDARY), fc.constantFrom(1, 2, 4, 8), fc.boolean())
    .map(([f, v, width, little]): Mutation => (b) => {
      const c = b.slice();
      const i = at(c, f);
      for (let k = 0; k < width && i + k < c.length; k++) c[i + (little ? k : width - 1 - k)] = Math.floor(v / 256 ** k) & 0xff;
      return c;
    }),
  fc
    .tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 1, max: 600 }))
    .map(([f, g, n]): Mutation => (b) => {
      // Copies a chunk over another place (repeats headers, records, opcodes).
      const c = b.slice();
      const from = at(c, f);
      const to = at(c, g);
      c.copyWithin(to, from, Math.min(c.length, from + n));
      return c;
    }),
  fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.string({ maxLength: 24 })).map(([f, text]): Mutation => (b) => {
    // Writes ASCII (digits, keys, names) over the bytes: textual fields (octal sizes, JSON) change meaning.
    const c = b.slice();
    c.set(new TextEncoder().encode(text).subarray(0, Math.max(0, c.length - at(c, f))), at(c, f));
    return c;
  }),
);

/** Valid seeds, each mutated 0–6 times (a few pass through unchanged, as a sanity check of the target). */
function mutated(seeds: Uint8Array[]): fc.Arbitrary<Uint8Array> {
  return fc.tuple(fc.constantFrom(...seeds), fc.array(mutation, { maxLength: 6 })).map(([seed, ms]) => ms.reduce((b, m) => m(b), seed));
}

const b64 = {
  encode: (b: Uint8Array) => Buffer.from(b).toString('base64'),
  decode: (s: string) => new Uint8Array(Buffer.from(s.trim(), 'base64')),
};
function bytesTarget(name: string, seeds: () => Uint8Array[], run: (b: Uint8Array, env: Env) => unknown): Target<Uint8Array> {
  let cached: Uint8Array[] | null = null;
  return {
    name,
    arbitrary: () => mutated((cached ??= seeds())),
    run,
    ...b64,
  };
}

// ---- seeds ---------------------------------------------------------------------------------------------------

const enc = new TextEncoder();
const file = (p: string) => new Uint8Array(readFileSync(join(root, p)));

/** The shipped sample tarball, cut to its first reviews (whole archive mutations stay fast). */
function sampleTar(): Uint8Array {
  const tar = gunzipSync(file('data/imdb-sample.tar.gz'));
  const cut: Uint8Array[] = [];
  let off = 0;
  let reviews = 0;
  // Header blocks and bodies of the first entries, then the end marker.
  while (off + 512 <= tar.length && reviews < 6) {
    const size = parseInt(
      new TextDecoder('latin1')
        .decode(tar.subarray(off + 124, off + 135))
        .replace(/\0.*$/, '')
        .trim() || '0',
      8,
    );
    const span = 512 + Math.ceil(size / 512) * 512;
    cut.push(tar.subarray(off, off + span));
    const name = new TextDecoder('latin1').decode(tar.subarray(off, off + 100));
    if (/\d+_\d+\.txt/.test(name)) reviews++;
    off += span;
  }
  cut.push(new Uint8Array(1024));
  return concat(cut);
}
/** A tar of two reviews with GNU long-name and pax records in front (types 'L' and 'x'). */
function metaTar(): Uint8Array {
  const h = (name: string, size: number, type: string) => {
    const b = new Uint8Array(512);
    b.set(enc.encode(name), 0);
    b.set(enc.encode('0000644\0'), 100);
    b.set(enc.encode(size.toString(8).padStart(11, '0') + '\0'), 124);
    b.set(enc.encode(type), 156);
    b.set(enc.encode('ustar\0'), 257);
    let sum = 0;
    for (let k = 0; k < 512; k++) sum += k >= 148 && k < 156 ? 32 : b[k];
    b.set(enc.encode(sum.toString(8).padStart(6, '0') + '\0 '), 148);
    return b;
  };
  const body = (s: Uint8Array) => concat([s, new Uint8Array((512 - (s.length % 512)) % 512)]);
  const long = enc.encode('aclImdb/train/pos/1_7.txt\0');
  const pax = enc.encode('30 path=aclImdb/test/neg/4_1.txt\n');
  const r1 = enc.encode('a long named review, fine');
  const r2 = enc.encode('a pax named review, awful');
  return concat([
    h('././@LongLink', long.length, 'L'),
    body(long),
    h('x', r1.length, '0'),
    body(r1),
    h('pax', pax.length, 'x'),
    body(pax),
    h('y', r2.length, '0'),
    body(r2),
    new Uint8Array(1024),
  ]);
}
function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
/** A numpy .npy of version `major`. */
function npy(descr: string, shape: string, body: Uint8Array, major = 1): Uint8Array {
  const text = enc.encode(`{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape}), }\n`);
  const head = new Uint8Array(major === 1 ? 10 : 12);
  head.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]);
  if (major === 1) new DataView(head.buffer).setUint16(8, text.length, true);
  else new DataView(head.buffer).setUint32(8, text.length, true);
  return concat([head, text, body]);
}
/** The pickle numpy writes for an object array of two lists of ints (protocol 2, as Keras' imdb.npz). */
function objectPickle(): Uint8Array {
  const g = (m: string, n: string) => enc.encode(`c${m}\n${n}\n`);
  const list = (xs: number[]) =>
    concat([Uint8Array.from([0x5d, 0x28]), ...xs.map((x) => Uint8Array.from([0x4b, x])), Uint8Array.from([0x65])]);
  return concat([
    Uint8Array.from([0x80, 0x02]),
    g('numpy.core.multiarray', '_reconstruct'),
    g('numpy', 'ndarray'),
    Uint8Array.from([0x4b, 0x00, 0x85]),
    Uint8Array.from([0x43, 0x01, 0x62, 0x87, 0x52]),
    Uint8Array.from([0x28, 0x4b, 0x01, 0x4b, 0x02, 0x85]),
    g('numpy', 'dtype'),
    Uint8Array.from([0x8c, 0x02]),
    enc.encode('O8'),
    Uint8Array.from([0x89, 0x88, 0x87, 0x52]),
    Uint8Array.from([0x28, 0x4b, 0x03, 0x8c, 0x01]),
    enc.encode('|'),
    Uint8Array.from([0x4e, 0x4e, 0x4e, 0x4a, 0xff, 0xff, 0xff, 0xff, 0x4a, 0xff, 0xff, 0xff, 0xff, 0x4b, 0x3f, 0x74, 0x62, 0x89]),
    Uint8Array.from([0x5d, 0x28]),
    list([1, 14, 22]),
    list([1, 5]),
    Uint8Array.from([0x65, 0x74, 0x62, 0x2e]),
  ]);
}
function npzSeed(): Uint8Array {
  const ints = new Uint8Array(16);
  new DataView(ints.buffer).setBigInt64(0, 1n, true);
  return zipSync(
    {
      'x_train.npy': npy('|O', '2,', objectPickle()),
      'y_train.npy': npy('<i8', '2,', ints),
      'x_test.npy': npy('|O', '2,', objectPickle(), 2),
      'y_test.npy': npy('|u1', '2,', Uint8Array.from([0, 1])),
    },
    { level: 1 },
  );
}

let bundleCache: Uint8Array | null = null;
/** A bundle written by the package: an embedding BiLSTM after one Adam step (so every section is present). */
function bundleSeed(env: Env): Uint8Array {
  if (bundleCache) return bundleCache;
  const m = new SequenceModel(
    {
      input: { embedding: 3 },
      vocabSize: 7,
      lstm: { hiddenSize: 2, bidirectional: true },
      head: [{ units: 2 }],
      output: { units: 1, activation: 'sigmoid' },
      seed: 1,
    },
    { backend: env.backends[0] },
  );
  m.trainBatch({ data: Int32Array.from([1, 2, 3, 4]), shape: [2, 2] }, Float32Array.from([0, 1]));
  bundleCache = new Uint8Array(m.toArrayBuffer());
  m.dispose();
  return bundleCache;
}

// ---- targets ---------------------------------------------------------------------------------------------------

/** Every model a target built is disposed: the binding surface must not leak across inputs. */
function disposing(m: { dispose(): void } | null | undefined): void {
  m?.dispose();
}

/** Numbers a size, a length or an id may arrive as at a handle. */
const wild = fc.oneof(
  fc.integer({ min: -2, max: 9 }),
  fc.constantFrom(0, 1, 2 ** 16, 2 ** 24, 2 ** 24 + 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 1e9, -1, NaN, Infinity, 0.5),
);
const smallFloat = fc.oneof(fc.float({ noDefaultInfinity: false }), fc.constantFrom(NaN, Infinity, -Infinity, 0));

export const targets: Target[] = [
  bytesTarget(
    'tar',
    () => [sampleTar(), metaTar()],
    (b) => {
      // Through the whole loader (gzip stream, tar reader, review names, UTF-8, tokens, word index).
      return loadImdb({ source: gzipSync(b, { level: 1 }), seed: null });
    },
  ) as Target,
  bytesTarget(
    'gzip',
    () => [gzipSync(sampleTar(), { level: 6 })],
    (b) => loadImdb({ source: b, seed: null }),
  ) as Target,
  bytesTarget(
    'tar-reader',
    () => [sampleTar(), metaTar()],
    (b) => {
      const r = new TarReader(
        () => true,
        () => undefined,
      );
      // Fed in uneven chunks, as a stream delivers it.
      for (let i = 0; i < b.length; i += 700) r.push(b.subarray(i, i + 700));
      r.end();
    },
  ) as Target,
  bytesTarget(
    'npz',
    () => [npzSeed()],
    (b) => readNpz(b, ['x_train', 'y_train', 'x_test', 'y_test']),
  ) as Target,
  bytesTarget(
    'npy',
    () => [npy('|O', '2,', objectPickle()), npy('<i8', '3,', new Uint8Array(24)), npy('>f4', '2,', new Uint8Array(8), 3)],
    (b) => readNpy(b, 'x.npy'),
  ) as Target,
  bytesTarget(
    'pickle',
    () => [objectPickle()],
    (b) => unpickle(b, 'x.npy'),
  ) as Target,
  bytesTarget(
    'safetensors',
    () => [file('test/io/fixtures/numpy-f32.safetensors'), file('test/io/fixtures/numpy-mixed.safetensors')],
    (b) => decodeSafetensors(b),
  ) as Target,
  {
    name: 'bundle',
    arbitrary: (env) => mutated([bundleSeed(env)]),
    run: (b, env) => {
      for (const backend of env.backends) disposing(modelFromArrayBuffer(b as Uint8Array, { backend }));
    },
    ...b64,
  } as Target,
  {
    name: 'config-json',
    arbitrary: (env) => {
      const st = decodeSafetensors(bundleSeed(env));
      return mutated([enc.encode(st.metadata['cellstate.config'])]);
    },
    run: (b, env) => {
      const config = parseConfig(new TextDecoder().decode(b as Uint8Array), 'config.json');
      const c = modelConfigOf(config);
      for (const backend of env.backends) disposing(new SequenceModel(c, { backend }));
    },
    ...b64,
  } as Target,
  bytesTarget(
    'vocab-json',
    () => [
      enc.encode(
        JSON.stringify({
          format: 'cellstate-imdb-vocab',
          version: 1,
          words: { the: 1, a: 2, film: 3 },
          idOptions: { numWords: 10, startChar: 1, oovChar: 2, indexFrom: 3 },
          maxlen: 80,
        }),
      ),
    ],
    (b) => parseVocab(new TextDecoder().decode(b), 'vocab.json'),
  ) as Target,
  bytesTarget(
    'word-index-json',
    () => [enc.encode(JSON.stringify({ the: 1, and: 2, a: 3, of: 4, film: 20 }))],
    (b) => loadImdb({ source: gzipSync(metaTar(), { level: 1 }), wordIndex: b, seed: null }),
  ) as Target,
  {
    name: 'onnx-import',
    arbitrary: (env) => {
      const m = modelFromArrayBuffer(bundleSeed(env), { backend: env.backends[0] });
      const onnx = exportOnnx(m);
      m.dispose();
      return mutated([onnx]);
    },
    run: (b, env) => disposing(importOnnx(b as Uint8Array, { backend: env.backends[0] })),
    ...b64,
  } as Target,
  surfaceTarget(),
];

/** Random configs, shapes, lengths, ids and values straight to the raw handles of both backends. */
function surfaceTarget(): Target {
  type Input = {
    config: Record<string, unknown>;
    calls: {
      kind: string;
      batch: number;
      steps: number;
      tokens: number[] | null;
      x: number[] | null;
      lengths: number[] | null;
      targets: number[];
    }[];
    lstm: {
      f: number;
      h: number;
      l: number;
      bi: boolean;
      batch: number;
      steps: number;
      x: number[];
      lengths: number[] | null;
      grad: boolean;
    };
  };
  const arr = (a: fc.Arbitrary<number>) => fc.array(a, { maxLength: 40 });
  const input: fc.Arbitrary<Input> = fc.record({
    config: fc.record({
      input: fc.oneof(
        wild.map((v) => ({ kind: 'one-hot', vocabSize: v })),
        fc
          .tuple(wild, wild, fc.oneof(fc.constant(null), wild), fc.constantFrom(0, 0.3, 1, -1))
          .map(([v, d, p, dropout]) => ({ kind: 'embedding', vocabSize: v, dim: d, paddingIdx: p, dropout })),
        wild.map((f) => ({ kind: 'dense', features: f })),
      ),
      lstm: fc.record({ hiddenSize: wild, numLayers: wild, bidirectional: fc.boolean(), dropout: fc.constantFrom(0, 0.5, 1, -1) }),
      pooling: fc.constantFrom('last', 'mean', 'max', 'max-mean', 'sequence'),
      head: fc.array(fc.record({ units: wild, activation: fc.constantFrom('relu', 'tanh', 'linear') }), { maxLength: 2 }),
      units: wild,
      loss: fc.constantFrom('bce', 'cross-entropy', 'mse'),
      maskToken: fc.oneof(fc.constant(null), wild),
      seed: fc.nat(),
    }),
    calls: fc.array(
      fc.record({
        kind: fc.constantFrom('trainBatch', 'forwardBackward', 'evaluateBatch', 'predictBatch', 'checkBatch'),
        batch: wild,
        steps: wild,
        tokens: fc.oneof(fc.constant(null), arr(wild)),
        x: fc.oneof(fc.constant(null), arr(smallFloat)),
        lengths: fc.oneof(fc.constant(null), arr(wild)),
        targets: arr(fc.oneof(smallFloat, fc.constantFrom(0, 1, 2))),
      }),
      { maxLength: 3 },
    ),
    lstm: fc.record({
      f: wild,
      h: wild,
      l: wild,
      bi: fc.boolean(),
      batch: wild,
      steps: wild,
      x: arr(smallFloat),
      lengths: fc.oneof(fc.constant(null), arr(wild)),
      grad: fc.boolean(),
    }),
  });
  const u32 = (v: number) => (Number.isFinite(v) ? v >>> 0 : 0);
  return {
    name: 'surface',
    arbitrary: () => input as fc.Arbitrary<unknown>,
    run: (raw, env) => {
      const inp = raw as Input;
      for (const backend of env.backends) {
        const mod = backend.raw as unknown as Record<string, new (...a: unknown[]) => Record<string, (...a: unknown[]) => unknown>>;
        // What the TS layer would have refused never reaches a handle: the handles take u32 sizes.
        const guard = (fn: () => unknown) => {
          try {
            fn();
          } catch (e) {
            const m = e instanceof Error ? e.message : String(e);
            if (/^\[(shape|value|state)\] /.test(m)) return;
            if (e instanceof TypeError && /convert|expected|Failed|argument/i.test(m)) return; // the glue's own type checks
            throw e;
          }
        };
        let model: Record<string, (...a: unknown[]) => unknown> | null = null;
        guard(() => (model = new mod.ModelHandle(JSON.stringify(inp.config))));
        if (model) {
          const m = model as Record<string, (...a: unknown[]) => unknown>;
          for (const c of inp.calls) {
            const tokens = c.tokens && Int32Array.from(c.tokens, (v) => (Number.isFinite(v) ? v | 0 : 0));
            const x = c.x && Float32Array.from(c.x);
            const lengths = c.lengths && Uint32Array.from(c.lengths, u32);
            const args = [tokens, x, u32(c.batch), u32(c.steps), lengths];
            guard(() => (c.kind === 'predictBatch' ? m[c.kind](...args) : m[c.kind](...args, Float32Array.from(c.targets))));
          }
          m.free();
        }
        let lstm: Record<string, (...a: unknown[]) => unknown> | null = null;
        const l = inp.lstm;
        guard(() => (lstm = new mod.LstmHandle(u32(l.f), u32(l.h), u32(l.l), l.bi, 0)));
        if (lstm) {
          const h = lstm as Record<string, (...a: unknown[]) => unknown>;
          guard(() =>
            h.forward(
              Float32Array.from(l.x),
              u32(l.batch),
              u32(l.steps),
              true,
              null,
              null,
              l.lengths && Uint32Array.from(l.lengths, u32),
              l.grad,
            ),
          );
          guard(() => h.backward(null, null, null));
          h.free();
        }
      }
    },
    encode: (v) => JSON.stringify(v, (_, x) => (typeof x === 'number' && !Number.isFinite(x) ? { n: String(x) } : x)),
    decode: (s) => JSON.parse(s, (_, x) => (x && typeof x === 'object' && 'n' in x && Object.keys(x).length === 1 ? Number(x.n) : x)),
  };
}

/** Loads both backends (wasm first: the surface target needs a wasm that never trapped). */
export async function fuzzEnv(): Promise<Env> {
  return { backends: [await loadBackend({ backend: 'wasm' }), await loadBackend({ backend: 'native' })] };
}

/**
 * Runs one input and classifies it: `ok` when it returned or threw a CellstateError, else the error.
 * @throws never.
 */
export async function runOne(t: Target, input: unknown, env: Env): Promise<{ ok: true } | { ok: false; error: unknown }> {
  try {
    await t.run(input, env);
    return { ok: true };
  } catch (e) {
    if (e instanceof CellstateError) return { ok: true };
    return { ok: false, error: e };
  }
}
