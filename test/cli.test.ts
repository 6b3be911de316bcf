/**
 * The `cellstate` command as a user runs it: `node dist/cli.js` in a child process (needs `bash scripts/build`).
 * Data is always named (--sample, --data, or --offline), so nothing here touches the network.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot, sharedDir } from './helpers';

const cliPath = join(repoRoot, 'dist/cli.js');
const tarball = join(sharedDir, 'data/aclImdb_v1-labeled.tar.gz');
let tmp: string;

interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI; `onStdout` sees stdout as it grows (for SIGINT). */
function cli(
  args: string[],
  { input, onStdout }: { input?: string; onStdout?: (text: string, child: ReturnType<typeof spawn>) => void } = {},
): Promise<Result> {
  const env: NodeJS.ProcessEnv = { ...process.env, CELLSTATE_DATA_DIR: join(tmp, 'empty-cache') };
  delete env.CELLSTATE_IMDB;
  delete env.CELLSTATE_DEBUG;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
      onStdout?.(stdout, child);
    });
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

const lastJson = (stdout: string) => JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;

/** A clear one-line message: `error: ...`, no stack frames. */
function expectCleanError(r: Result, code: number, pattern: RegExp) {
  expect(r.code, r.stderr).toBe(code);
  expect(r.stderr).toMatch(/^error: /m);
  expect(r.stderr).toMatch(pattern);
  expect(r.stderr).not.toMatch(/^\s+at /m);
}

const tiny = ['--train-size', '400', '--test-size', '300', '--epochs', '1'];

beforeAll(() => {
  if (!existsSync(cliPath)) throw new Error(`${cliPath} is missing: run \`bash scripts/build\` first`);
  tmp = mkdtempSync(join(tmpdir(), 'cellstate-cli-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('cellstate', () => {
  it('prints its version and help', async () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
    const v = await cli(['--version']);
    expect(v.code).toBe(0);
    expect(v.stdout.trim()).toBe(`cellstate ${pkg.version}`);
    const h = await cli(['imdb', 'train', '--help']);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/--preset seed\|fast\|strong/);
  });

  it("is the package's `cellstate` bin, runnable as a script", () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { bin?: Record<string, string> };
    expect(pkg.bin?.cellstate?.replace(/^\.\//, '')).toBe('dist/cli.js');
    expect(readFileSync(cliPath, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
  });

  it('trains on the shipped sample, saves, then predicts and evaluates with the saved model', async () => {
    const dir = join(tmp, 'model');
    const r = await cli(['imdb', 'train', '--sample', ...tiny, '--epochs', '2', '--log-every', '0.1', '--save', dir, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^data: the sample shipped in the package .*\(2,000 train \+ 2,000 test reviews; using 400 \+ 300\)$/m);
    expect(r.stdout).toMatch(/^backend: (native|wasm) /m);
    expect(r.stdout).toMatch(/^epoch 2\/2: train loss [\d.]+, .*test accuracy [\d.]+%/m);
    const j = lastJson(r.stdout);
    expect(j.testAccuracy).toBeGreaterThanOrEqual(0);
    expect(j.testAccuracy).toBeLessThanOrEqual(1);
    expect(j.epochs).toHaveLength(2);
    expect((j.config as { numWords: number }).numWords).toBe(300); // the seed preset
    expect((j.backend as { name: string }).name).toMatch(/^(native|wasm)$/);
    for (const f of ['config.json', 'model.safetensors', 'vocab.json', 'metrics.json']) expect(existsSync(join(dir, f)), f).toBe(true);
    expect(JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8')).epochsCompleted).toBe(2);

    const p = await cli(['imdb', 'predict', '--model', dir, 'a wonderful, moving film', 'a dull, awful mess']);
    expect(p.code, p.stderr).toBe(0);
    const lines = p.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^0\.\d{4}\ta wonderful, moving film$/);

    const s = await cli(['imdb', 'predict', '--model', dir, '--json'], { input: 'a wonderful, moving film\n\na dull, awful mess\n' });
    expect(s.code, s.stderr).toBe(0);
    const preds = lastJson(s.stdout).predictions as { text: string; probability: number }[];
    expect(preds.map((q) => q.text)).toEqual(['a wonderful, moving film', 'a dull, awful mess']);
    // Same model, same text, same probability as the argument form (printed to 4 digits there).
    expect(preds[0].probability.toFixed(4)).toBe(lines[0].split('\t')[0]);

    const e = await cli(['imdb', 'evaluate', '--model', dir, '--sample', '--test-size', '300', '--json']);
    expect(e.code, e.stderr).toBe(0);
    // The same 300 test reviews the training run tested on: the same accuracy.
    expect(lastJson(e.stdout).testAccuracy).toBeCloseTo(j.testAccuracy as number, 6);
  });

  it('prints progress lines while training when stdout is a log', async () => {
    const r = await cli([
      'imdb',
      'train',
      '--sample',
      '--train-size',
      '2000',
      '--test-size',
      '2000',
      '--epochs',
      '2',
      '--log-every',
      '0.05',
      '--embedding',
      '32',
      '--maxlen',
      '200',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^epoch 1\/2 +\d+\/32 \(\d+%\) loss [\d.]+ acc [\d.]+ [\d,]+ samples\/s ETA /m);
    expect(r.stdout).toMatch(/^time: .*backend: (native|wasm) \(\w+\), threads: 1$/m);
  });

  it('trains on the real tarball', async () => {
    expect(existsSync(tarball), `${tarball} (shared data) is missing`).toBe(true);
    const r = await cli(['imdb', 'train', '--data', tarball, ...tiny, '--backend', 'native', '--threads', '2', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^backend: native \(\w+ kernels\), threads: 2$/m);
    expect(r.stdout).toContain(`data: ${tarball} (25,000 train + 25,000 test reviews; using 400 + 300)`);
    const j = lastJson(r.stdout);
    expect(j.testAccuracy).toBeGreaterThanOrEqual(0);
    expect(j.testAccuracy).toBeLessThanOrEqual(1);
    expect(j.threads).toBe(2);
  });

  it('Ctrl-C stops between batches with status 130 and keeps the last finished epoch', async () => {
    const dir = join(tmp, 'interrupted');
    let sent = false;
    const r = await cli(['imdb', 'train', '--sample', '--train-size', '2000', '--test-size', '200', '--epochs', '10000', '--save', dir], {
      onStdout: (text, child) => {
        if (!sent && /^saved: |^epoch 2\/10000:/m.test(text)) {
          sent = true;
          child.kill('SIGINT');
        }
      },
    });
    expect(sent).toBe(true);
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).not.toMatch(/^\s+at /m);
    const finished = Number(/interrupted after (\d+) finished epoch/.exec(r.stdout)?.[1]);
    expect(finished).toBeGreaterThanOrEqual(2);
    expect(r.stdout).toContain(`${dir} holds epoch ${finished}`);
    const metrics = JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8')) as { epochsCompleted: number };
    expect(metrics.epochsCompleted).toBe(finished);
    const e = await cli(['imdb', 'evaluate', '--model', dir, '--sample', '--test-size', '200']);
    expect(e.code, e.stderr).toBe(0);
    expect(e.stdout).toContain(`${finished} epochs trained`);
  });

  describe('bad input: a clear message, a non-zero status, no stack trace', () => {
    it('unknown flag, preset, command or bad value', async () => {
      expectCleanError(await cli(['imdb', 'train', '--sample', '--bogus']), 2, /Unknown option '--bogus'/);
      expectCleanError(
        await cli(['imdb', 'train', '--sample', '--preset', 'huge']),
        2,
        /unknown preset 'huge'; presets: seed, fast, strong/,
      );
      expectCleanError(await cli(['imdb', 'fly']), 2, /unknown imdb command 'fly'/);
      expectCleanError(await cli(['imdb', 'train', '--sample', '--epochs', 'ten']), 2, /--epochs must be an integer/);
      expectCleanError(await cli(['imdb', 'train', '--sample', '--backend', 'gpu']), 2, /--backend must be one of auto, native, wasm/);
      expectCleanError(
        await cli(['imdb', 'train', '--sample', '--backend', 'wasm', '--threads', '2']),
        2,
        /wasm backend runs on one thread/,
      );
    });

    it('missing or corrupt data file', async () => {
      expectCleanError(await cli(['imdb', 'train', '--data', join(tmp, 'nope.tar.gz'), ...tiny]), 1, /cannot read .*nope\.tar\.gz/);
      const garbage = join(tmp, 'garbage.tar.gz');
      writeFileSync(garbage, Buffer.from('this is not a tarball, just some text '.repeat(100)));
      const r = await cli(['imdb', 'train', '--data', garbage, ...tiny]);
      expectCleanError(r, 1, /garbage\.tar\.gz/);
    });

    it('a model directory from an incompatible version, or no model', async () => {
      const dir = join(tmp, 'old-model');
      expect((await cli(['imdb', 'train', '--sample', ...tiny, '--save', dir])).code).toBe(0);
      const configPath = join(dir, 'config.json');
      const config = JSON.parse(readFileSync(configPath, 'utf8')) as { version: number };
      writeFileSync(configPath, JSON.stringify({ ...config, version: 99 }));
      expectCleanError(await cli(['imdb', 'predict', '--model', dir, 'fine']), 1, /version/);
      expectCleanError(await cli(['imdb', 'evaluate', '--model', dir, '--sample']), 1, /version/);
      expectCleanError(await cli(['imdb', 'predict', '--model', join(tmp, 'no-such-model'), 'fine']), 1, /no-such-model/);
      expectCleanError(await cli(['imdb', 'predict', 'fine']), 2, /--model DIR is required/);
    });

    it('an empty text to predict', async () => {
      const dir = join(tmp, 'model-empty');
      expect((await cli(['imdb', 'train', '--sample', ...tiny, '--save', dir])).code).toBe(0);
      expectCleanError(await cli(['imdb', 'predict', '--model', dir, '  ']), 2, /empty text/);
      expectCleanError(await cli(['imdb', 'predict', '--model', dir], { input: '\n \n' }), 2, /no text to predict/);
    });
  });
});
