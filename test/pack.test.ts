/**
 * The package as users get it: `npm pack` the repo, install the tarball into an empty folder (no Rust, no
 * build step, only the registry's fflate), then use it from ESM, from CommonJS and from strict TypeScript.
 * Needs `bash scripts/build` (dist/) first, as the test command does.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectClose, repoRoot } from './helpers';

let work: string;
let consumer: string;
let packed: string[];
let manifest: Record<string, unknown>;

function run(cmd: string, args: string[], cwd: string): string {
  try {
    return execFileSync(cmd, args, { cwd, encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed in ${cwd}:\n${err.stdout ?? ''}\n${err.stderr ?? err.message}`, { cause: e });
  }
}

beforeAll(() => {
  work = realpathSync(mkdtempSync(join(tmpdir(), 'cellstate-pack-')));
  // No prepack/prepare script exists, so this packs dist/ as built, without invoking cargo.
  const [info] = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', work], repoRoot)) as {
    filename: string;
    files: { path: string }[];
  }[];
  packed = info.files.map((f) => f.path);
  consumer = join(work, 'consumer');
  run('mkdir', [consumer], work);
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
  run('npm', ['install', join(work, info.filename), '--no-audit', '--no-fund'], consumer);
  manifest = JSON.parse(readFileSync(join(consumer, 'node_modules/cellstate/package.json'), 'utf8'));
}, 90_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Every file path named by an `exports` condition, at any depth. */
function exportTargets(node: unknown): string[] {
  if (typeof node === 'string') return [node];
  if (node && typeof node === 'object') return Object.values(node).flatMap(exportTargets);
  return [];
}

/** Runs the repo's tsc over `files` in the consumer folder, strict, nodenext, with the shipped .d.ts checked too. */
function typecheck(lib: string[], files: string[]): void {
  writeFileSync(
    join(consumer, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        module: 'nodenext',
        moduleResolution: 'nodenext',
        target: 'es2022',
        lib,
        // Off, so errors inside the shipped declarations count too.
        skipLibCheck: false,
        noEmit: true,
        // @types/node from the repo's devDependencies, so nothing more is downloaded.
        typeRoots: [join(repoRoot, 'node_modules/@types')],
        types: ['node'],
      },
      files,
    }),
  );
  run(join(repoRoot, 'node_modules/.bin/tsc'), ['-p', consumer], consumer);
}

describe('the npm tarball', () => {
  it('ships dist/ with the .wasm and the addon, and no sources', () => {
    expect(packed).toContain('dist/cellstate_wasm_bg.wasm');
    expect(packed).toContain('dist/cellstate_wasm_relaxed_bg.wasm');
    const addons = readdirSync(join(repoRoot, 'dist/native')).filter((f) => f.endsWith('.node'));
    expect(addons.length).toBeGreaterThan(0);
    for (const a of addons) expect(packed).toContain(`dist/native/${a}`);
    expect(packed.filter((p) => /^(crates|ts|test|scripts|target|native)\//.test(p) || p.endsWith('.rs'))).toEqual([]);
  });

  it('has every file its exports, main, module and types name', () => {
    const targets = [...exportTargets(manifest.exports), manifest.main as string, manifest.module as string, manifest.types as string].map(
      (t) => t.replace(/^\.\//, ''),
    );
    expect(targets.length).toBeGreaterThan(6);
    for (const t of targets) {
      // A pattern (`./*.wasm`) must match at least one packed file.
      if (t.includes('*'))
        expect(
          packed.some((p) => new RegExp(`^${t.replace(/\./g, '\\.').replace('*', '[^/]+')}$`).test(p)),
          t,
        ).toBe(true);
      else expect(packed, `${t} is named by package.json`).toContain(t);
    }
  });

  it('installs without running any script (nothing to compile on the user side)', () => {
    const scripts = (manifest.scripts ?? {}) as Record<string, string>;
    for (const hook of ['preinstall', 'install', 'postinstall', 'prepare']) expect(scripts[hook], hook).toBeUndefined();
    // npm would add binding.gyp-driven `node-gyp rebuild` for an install script or a binding.gyp.
    expect(packed).not.toContain('binding.gyp');
  });
});

// The same small stacked bidirectional LSTM, fixed seed and input, from ESM and from CommonJS; each prints
// the backend chosen by init() ('auto') and then by init({ backend: 'wasm' }), with the forward results.
const program = (load: string, resolveExpr: string): string => `${load}
const x = { data: Float32Array.from({ length: 2 * 5 * 3 }, (_, i) => Math.sin(0.7 * i)), shape: [2, 5, 3] };
async function forward(backend) {
  const b = await init({ backend });
  const lstm = new LSTM({ inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true, seed: 11 });
  const r = lstm.forward(x);
  const out = { backend: b.name, kernels: b.kernels, output: { data: Array.from(r.output.data), shape: r.output.shape },
    hN: Array.from(r.hN.data), cN: Array.from(r.cN.data) };
  lstm.dispose();
  return out;
}
(async () => {
  const auto = await forward('auto');
  const wasm = await forward('wasm');
  console.log(JSON.stringify({ resolved: ${resolveExpr}, auto, wasm }));
})().catch((e) => { console.error(e); process.exit(1); });
`;

interface RunResult {
  resolved: string;
  auto: { backend: string; kernels: string; output: { data: number[]; shape: number[] }; hN: number[]; cN: number[] };
  wasm: RunResult['auto'];
}

describe('the installed package', () => {
  let esm: RunResult;
  let cjs: RunResult;

  it('runs from ESM import: native for auto, wasm when asked', () => {
    writeFileSync(join(consumer, 'esm.mjs'), program("import { init, LSTM } from 'cellstate';", "import.meta.resolve('cellstate')"));
    esm = JSON.parse(run('node', ['esm.mjs'], consumer)) as RunResult;
    // The import condition, from the installed copy (not the repo).
    expect(esm.resolved).toBe(`file://${consumer}/node_modules/cellstate/dist/index.js`);
    expect(esm.auto.backend).toBe('native');
    expect(esm.wasm.backend).toBe('wasm');
    // (B, T, D·H) = (2, 5, 2·4), batchFirst by default.
    expect(esm.auto.output.shape).toEqual([2, 5, 8]);
    expect(esm.auto.hN).toHaveLength(2 * 2 * 2 * 4);
    expect(esm.auto.output.data.every(Number.isFinite)).toBe(true);
    expect(esm.auto.output.data.some((v) => Math.abs(v) > 1e-3)).toBe(true);
    // Same seed, same weights on both backends; kernel sets may round differently (STYLE 12: backends agree).
    expectClose('native vs wasm output', esm.auto.output.data, esm.wasm.output.data, { rtol: 1e-5, atol: 1e-6 });
    expectClose('native vs wasm cN', esm.auto.cN, esm.wasm.cN, { rtol: 1e-5, atol: 1e-6 });
  });

  // Mirrors the ESM case line for line on purpose: the same program through the other module system.
  it('runs from CommonJS require with the same numbers as ESM', () => {
    writeFileSync(
      join(consumer, 'cjs.cjs'),
      program("const { init, LSTM } = require('cellstate');", "require('node:url').pathToFileURL(require.resolve('cellstate')).href"),
    );
    cjs = JSON.parse(run('node', ['cjs.cjs'], consumer)) as RunResult;
    // The require condition.
    expect(cjs.resolved).toBe(`file://${consumer}/node_modules/cellstate/dist/index.cjs`);
    expect(cjs.auto.backend).toBe('native');
    expect(cjs.wasm.backend).toBe('wasm');
    expect(esm, 'ESM ran first').toBeDefined();
    // Same binary, same input: the two module formats must give identical bits on each backend.
    expect(cjs.auto).toEqual(esm.auto);
    expect(cjs.wasm).toEqual(esm.wasm);
  });

  it('type-checks strict TypeScript (nodenext, ESM and CJS), and the types reject misuse', () => {
    // Both module kinds: .mts resolves the import condition (index.d.ts), .cts the require one (index.d.cts).
    const body = `
const backend: Backend = await init({ backend: 'auto' });
const name: BackendName = backend.name;
const options: LSTMOptions = { inputSize: 3, hiddenSize: 4, numLayers: 1, bidirectional: false, seed: 1 };
const lstm = new LSTM(options);
const x: TensorLike = new Tensor(new Float32Array(6), [1, 2, 3]);
const result: ForwardResult = lstm.forward(x, { lengths: [2] });
const h: Float32Array = result.hN.data;
const shape: number[] = result.output.shape;
const states: StateResult = lstm.forward(x, { grad: false, output: false });
// @ts-expect-error output: false returns the states only
const none: Tensor = lstm.forward(x, { output: false }).output;
lstm.dispose();
const err: CellstateError = new BackendError('x');
// @ts-expect-error hiddenSize is a number, not a string
new LSTM({ inputSize: 3, hiddenSize: '16' });
// @ts-expect-error backend is 'auto' | 'wasm' | 'native'
await init({ backend: 'webgpu' });
// @ts-expect-error forward returns tensors, not arrays
const wrong: number[] = lstm.forward(x).output;
console.log(name, h, shape, err, wrong, states, none);
`;
    const names =
      'init, LSTM, Tensor, BackendError, type Backend, type BackendName, type LSTMOptions, type TensorLike, type ForwardResult, type StateResult, type CellstateError';
    writeFileSync(join(consumer, 'types-esm.mts'), `import { ${names} } from 'cellstate';\n${body}export {};\n`);
    // Top-level await is ESM only: the CommonJS variant wraps the same body in an async function.
    writeFileSync(
      join(consumer, 'types-cjs.cts'),
      `import { ${names} } from 'cellstate';\nexport async function main(): Promise<void> {${body}}\n`,
    );
    typecheck(['es2022', 'dom'], ['types-esm.mts', 'types-cjs.cts']);
  });

  it('has declarations that compile without the DOM lib (a Node project with skipLibCheck off)', () => {
    // The public types must not name DOM-only globals (BufferSource, WebAssembly.Module in @types/node 20):
    // a Node user whose lib has no DOM would get errors inside node_modules/cellstate/dist/index.d.ts.
    writeFileSync(
      join(consumer, 'node-only.mts'),
      "import { init, type InitOptions } from 'cellstate';\nconst o: InitOptions = { backend: 'wasm' };\nawait init(o);\n",
    );
    typecheck(['es2022'], ['node-only.mts']);
  });
});
