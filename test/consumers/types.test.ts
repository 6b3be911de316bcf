/**
 * The published declarations in every reasonable consumer setup: the packed tarball installed into temp
 * projects that have only `typescript` (and `@types/node` where a cell says so), then `tsc --noEmit`,
 * strict, skipLibCheck off (so errors inside node_modules/cellstate count), on a small program using the
 * API. Each cell also says which declaration file the resolution must pick. Needs `bash scripts/build`
 * and the npm registry (installs are cached by npm; about a minute when warm).
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeProject, packRepo, run } from './pack';

/** TypeScript versions: the repository's own and the registry's latest. */
const typescripts = ['typescript@~5.9.3', 'typescript@latest'];
/** Extra packages per project kind. */
const projects = { plain: [], node20: ['@types/node@^20'], nodeLatest: ['@types/node@latest'] } as const;
type Project = keyof typeof projects;

interface Cell {
  name: string;
  project: Project;
  options: Record<string, unknown>;
  /** Program files: core (no globals beyond ES), web (DOM or webworker), node (@types/node), dispose (`using`), cjs. */
  files: ('core.mts' | 'core.ts' | 'web.ts' | 'node.mts' | 'dispose.mts' | 'cjs.cts')[];
  /** The declaration file that must be the one read. */
  declarations: 'index.d.ts' | 'browser.d.ts' | 'index.d.cts';
}

const nodenext = { module: 'nodenext', moduleResolution: 'nodenext' };
const bundler = { module: 'esnext', moduleResolution: 'bundler' };
const cells: Cell[] = [
  {
    name: 'nodenext, default lib (es2022 + DOM)',
    project: 'plain',
    options: { ...nodenext, target: 'es2022' },
    files: ['core.mts'],
    declarations: 'index.d.ts',
  },
  {
    name: 'nodenext, lib es2020 only',
    project: 'plain',
    options: { ...nodenext, target: 'es2020', lib: ['es2020'] },
    files: ['core.mts'],
    declarations: 'index.d.ts',
  },
  {
    name: 'nodenext, lib es2022 only',
    project: 'plain',
    options: { ...nodenext, target: 'es2022', lib: ['es2022'] },
    files: ['core.mts'],
    declarations: 'index.d.ts',
  },
  {
    name: 'nodenext, lib es2022 + DOM',
    project: 'plain',
    options: { ...nodenext, target: 'es2022', lib: ['es2022', 'dom'] },
    files: ['core.mts', 'web.ts'],
    declarations: 'index.d.ts',
  },
  {
    name: 'nodenext, lib esnext (disposable, no DOM)',
    project: 'plain',
    options: { ...nodenext, target: 'esnext', lib: ['esnext'] },
    files: ['core.mts', 'dispose.mts'],
    declarations: 'index.d.ts',
  },
  {
    name: 'nodenext, lib es2022 + @types/node 20',
    project: 'node20',
    options: { ...nodenext, target: 'es2022', lib: ['es2022'], types: ['node'] },
    files: ['core.mts', 'node.mts', 'dispose.mts'],
    declarations: 'index.d.ts',
  },
  {
    name: 'nodenext, lib es2023 + DOM + @types/node latest',
    project: 'nodeLatest',
    options: { ...nodenext, target: 'es2023', lib: ['es2023', 'dom'], types: ['node'] },
    files: ['core.mts', 'node.mts', 'web.ts', 'dispose.mts'],
    declarations: 'index.d.ts',
  },
  {
    name: 'nodenext CommonJS (.cts) + @types/node 20',
    project: 'node20',
    options: { ...nodenext, target: 'es2022', lib: ['es2022'], types: ['node'] },
    files: ['cjs.cts'],
    declarations: 'index.d.cts',
  },
  {
    name: 'bundler, lib es2022 + DOM',
    project: 'plain',
    options: { ...bundler, target: 'es2022', lib: ['es2022', 'dom'] },
    files: ['core.ts', 'web.ts'],
    declarations: 'index.d.ts',
  },
  {
    name: 'bundler + browser condition, lib es2022 + DOM',
    project: 'plain',
    options: { ...bundler, target: 'es2022', lib: ['es2022', 'dom', 'dom.iterable'], customConditions: ['browser'] },
    files: ['core.ts', 'web.ts'],
    declarations: 'browser.d.ts',
  },
  {
    name: 'bundler + browser condition, lib es2020 + DOM',
    project: 'plain',
    options: { ...bundler, target: 'es2020', lib: ['es2020', 'dom'], customConditions: ['browser'] },
    files: ['core.ts'],
    declarations: 'browser.d.ts',
  },
  {
    name: 'bundler + browser condition, lib es2022 + webworker',
    project: 'plain',
    options: { ...bundler, target: 'es2022', lib: ['es2022', 'webworker'], customConditions: ['browser'] },
    files: ['core.ts', 'web.ts'],
    declarations: 'browser.d.ts',
  },
  {
    name: 'bundler, lib esnext + DOM + @types/node latest',
    project: 'nodeLatest',
    options: { ...bundler, target: 'esnext', lib: ['esnext', 'dom'], types: ['node'] },
    files: ['core.ts', 'web.ts', 'dispose.mts'],
    declarations: 'index.d.ts',
  },
];

// Uses only ES globals, so it compiles with lib es2020 alone. `@ts-expect-error` lines prove the types are real (not any).
const core = `import {
  init, LSTM, sequenceClassifier, loadImdb, padSequences, saveModel, loadModel, exportOnnx, createTrainer,
  ShapeError, type Backend, type History, type TrainerFitOptions, type WorkerFitResult,
} from 'cellstate';

const backend: Backend = await init({ backend: 'auto' });
const lstm = new LSTM({ inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true });
const h: Float32Array = lstm.forward({ data: new Float32Array(6), shape: [1, 2, 3] }, { lengths: [2] }).hN.data;
lstm.dispose();
const imdb = await loadImdb({ sample: true, numWords: 100, trainSize: 64 });
const padded = padSequences(imdb.train, { maxlen: 20, padding: 'post' });
const model = sequenceClassifier({ input: 'one-hot', vocabSize: 100, lstm: { hiddenSize: 8 }, seed: 1 });
const history: History = await model.fit(padded, imdb.train.labels, {
  epochs: 1, batchSize: 16, callbacks: { onBatchEnd: (l) => void l.loss, onEpochEnd: (l) => (l.loss > 1 ? 'stop' : undefined) },
});
await saveModel(model, { indexedDB: 'sentiment' });
const again = await loadModel(model.toArrayBuffer());
const onnx: Uint8Array = exportOnnx(again, { lengths: true });
const trainer = await createTrainer({ workers: 1, backend: 'wasm' });
const options: TrainerFitOptions = { epochs: 1, onBatchEnd: (l) => void l.samplesPerSecond, earlyStopping: { patience: 1 } };
const result: WorkerFitResult = await trainer.fit(model.config, padded, imdb.train.labels, options);
const bytes: ArrayBuffer = result.model;
const probs = (await trainer.predict(bytes, padded)).data;
trainer.terminate();
const e = new ShapeError('x');
// @ts-expect-error hiddenSize is a number
new LSTM({ inputSize: 3, hiddenSize: '4' });
// @ts-expect-error the worker's model comes back as bytes, not a model
const wrong: string = result.model;
// @ts-expect-error workers is a number
await createTrainer({ workers: 'all' });
export const used = [backend, h, history, onnx, probs, e.code, wrong];
`;

// DOM or webworker globals: Response, URL, AbortController, Blob.
const web = `import { init, loadImdb, createTrainer, sequenceClassifier } from 'cellstate';
await init({ wasm: new URL('https://example.com/cellstate_wasm_bg.wasm') });
await init({ wasm: await fetch('/cellstate_wasm_bg.wasm') });
const imdb = await loadImdb({ source: new Blob([]), sample: undefined });
const controller = new AbortController();
const m = sequenceClassifier({ input: 'one-hot', vocabSize: 10, lstm: { hiddenSize: 2 } });
await m.fit([[1, 2]], [1], { signal: controller.signal });
const t = await createTrainer({ wasm: new URL('https://example.com/x.wasm') });
await t.fit(m, [[1, 2]], [1], { signal: controller.signal });
const own = await createTrainer({ worker: () => new Worker('/worker.js', { type: 'module' }) });
own.terminate();
export const usedWeb = [imdb];
`;

const node = `import { init, loadImdb, saveModel, loadModel, sequenceClassifier, createTrainer, nativeFileName } from 'cellstate';
import { Worker } from 'node:worker_threads';
await init({ wasm: new URL('file:///tmp/cellstate_wasm_bg.wasm') });
const imdb = await loadImdb({ source: '/tmp/aclImdb_v1.tar.gz', progress: false });
const m = sequenceClassifier({ input: 'one-hot', vocabSize: 10, lstm: { hiddenSize: 2 } });
await saveModel(m, 'runs/model');
const again = await loadModel({ dir: 'runs/model' });
await again.fit([[1, 2]], [1], { signal: AbortSignal.timeout(1000) });
const t = await createTrainer({ worker: () => new Worker(new URL('./w.js', import.meta.url)) });
export const usedNode = [imdb, nativeFileName(), t];
`;

const dispose = `import { LSTM, sequenceClassifier, createTrainer } from 'cellstate';
export async function scoped(): Promise<number> {
  using lstm = new LSTM({ inputSize: 1, hiddenSize: 1 });
  using model = sequenceClassifier({ input: 'one-hot', vocabSize: 4, lstm: { hiddenSize: 2 } });
  using trainer = await createTrainer();
  return lstm.hiddenSize + model.numParameters + trainer.workers;
}
`;

const cjs = `import { init, LSTM, createTrainer, type Trainer } from 'cellstate';
export async function main(): Promise<Trainer> {
  await init();
  new LSTM({ inputSize: 1, hiddenSize: 1 }).dispose();
  return createTrainer();
}
`;

const sources: Record<Cell['files'][number], string> = {
  'core.mts': core,
  'core.ts': core,
  'web.ts': web,
  'node.mts': node,
  'dispose.mts': dispose,
  'cjs.cts': cjs,
};

let work = '';
let tarball = '';
const ready = new Map<string, string>();

beforeAll(() => {
  ({ work, tarball } = packRepo('cellstate-types-'));
}, 120_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/** The project folder for (TypeScript version, kind), installed on first use. */
function project(ts: string, kind: Project): string {
  const key = `${ts} ${kind}`;
  if (!ready.has(key)) {
    const dir = join(work, `${ts.replace(/[^a-z0-9.]+/gi, '-')}-${kind}`);
    makeProject(dir, [tarball, ts, ...projects[kind]]);
    for (const [file, text] of Object.entries(sources)) writeFileSync(join(dir, file), text);
    ready.set(key, dir);
  }
  return ready.get(key)!;
}

describe.each(typescripts)('the declarations with %s', (ts) => {
  it.each(cells.map((c) => [c.name, c] as const))('%s', (_, cell) => {
    const dir = project(ts, cell.project);
    const config = `tsconfig.${cells.indexOf(cell)}.json`;
    const compilerOptions = { strict: true, skipLibCheck: false, noEmit: true, types: [], ...cell.options };
    writeFileSync(join(dir, config), JSON.stringify({ compilerOptions, files: cell.files }, null, 2));
    const listed = run(join(dir, 'node_modules/.bin/tsc'), ['-p', config, '--listFiles'], dir, 120_000);
    const read = listed.split('\n').filter((l) => l.includes('node_modules/cellstate/dist/'));
    expect(read.map((l) => l.slice(l.indexOf('dist/') + 5).trim())).toEqual([cell.declarations]);
  });
});
