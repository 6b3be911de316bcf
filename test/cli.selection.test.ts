/**
 * `cellstate imdb train` with a validation split and length-bucketed batches, as a user runs it (`node
 * dist/cli.js`, needs `bash scripts/build`), on the shipped sample: the epoch kept is the best on the
 * held-out training reviews, the test set is evaluated once, on it, and the cut test pass gives what the
 * saved model gives on the padded test reviews.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { holdOut, loadImdb } from '../ts/data/node';
import { firstReviews } from '../ts/data/pad';
import { kerasNpz } from './data/helpers';
import { repoRoot } from './helpers';

const cliPath = join(repoRoot, 'dist/cli.js');
let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'cellstate-cli-selection-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs the CLI on the shipped sample; resolves with the status, stdout and stderr. */
async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, CELLSTATE_DATA_DIR: join(tmp, 'empty-cache') };
  delete env.CELLSTATE_IMDB;
  try {
    const r = await promisify(execFile)(process.execPath, [cliPath, ...args], { env, encoding: 'utf8' });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, stdout: x.stdout, stderr: x.stderr };
  }
}

interface Run {
  config: { valBy: string };
  data: { train: number; validation: number; validationBy: string | null; test: number };
  epochs: { epoch: number; valAccuracy: number | null; testAccuracy: number | null }[];
  selectedEpoch: number | null;
  selection: string;
  valAccuracy: number | null;
  testAccuracy: number | null;
}
const lastJson = (stdout: string) => JSON.parse(stdout.trim().split('\n').at(-1)!) as Run;

// A small masked model that learns something on 800 sample reviews within a few epochs.
const small = ['--sample', '--train-size', '800', '--test-size', '400', '--embedding', '16', '--hidden', '16', '--mask', '--lr', '0.01'];

describe('imdb train --val-split --bucket', () => {
  it.each(['pre', 'post'])(
    "keeps the best epoch on validation, tests once on it, and the cut test pass equals the saved model's ('%s' padding)",
    async (padding) => {
      const dir = join(tmp, `model-${padding}`);
      const r = await cli([
        'imdb',
        'train',
        ...small,
        '--padding',
        padding,
        '--maxlen',
        '300',
        '--epochs',
        '4',
        '--val-split',
        '0.25',
        '--bucket',
        '--save',
        dir,
        '--json',
      ]);
      expect(r.code, r.stderr).toBe(0);
      const j = lastJson(r.stdout);
      expect(j.data).toMatchObject({ train: 600, validation: 200, test: 400 });
      expect(j.epochs).toHaveLength(4);
      // Validation every epoch, the test set never during training.
      for (const e of j.epochs) {
        expect(e.valAccuracy).not.toBeNull();
        expect(e.testAccuracy).toBeNull();
      }
      const accs = j.epochs.map((e) => e.valAccuracy!);
      expect(j.selectedEpoch).toBe(accs.indexOf(Math.max(...accs)) + 1);
      expect(j.selection).toBe('best valAccuracy');
      expect(j.valAccuracy).toBe(Math.max(...accs));
      expect(r.stdout).toMatch(new RegExp(`^kept epoch ${j.selectedEpoch} of 4 \\(best valAccuracy: `, 'm'));
      expect(r.stdout).toMatch(/^epoch 4\/4: .*val accuracy [\d.]+%/m);
      // The saved model is the kept epoch: evaluating it on the padded (uncut) test reviews gives the
      // accuracy the cut, length-sorted test pass of training reported.
      const e = await cli(['imdb', 'evaluate', '--model', dir, '--sample', '--test-size', '400', '--json']);
      expect(e.code, e.stderr).toBe(0);
      expect(lastJson(e.stdout).testAccuracy).toBeCloseTo(j.testAccuracy!, 10);
    },
  );

  it('--val-by movie holds out whole movies: the split the library gives, reported as such', async () => {
    const r = await cli(['imdb', 'train', ...small, '--epochs', '1', '--val-split', '0.25', '--val-by', 'movie', '--bucket', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = lastJson(r.stdout);
    // The library's split of the same 800 reviews (the CLI seeds it with the data seed, 113).
    const d = await loadImdb({ sample: true, numWords: 300 }); // the seed preset's, which `small` keeps
    const { train, validation } = holdOut(firstReviews(d.train, 800), 0.25, { by: 'movie', seed: 113 });
    expect(validation.labels.length).toBeGreaterThanOrEqual(200);
    const held = new Set(validation.movies);
    expect(Array.from(train.movies!).some((m) => held.has(m))).toBe(false);
    expect(j.data).toMatchObject({ train: train.labels.length, validation: validation.labels.length, validationBy: 'movie', test: 400 });
    expect(j.config.valBy).toBe('movie');
    expect(r.stdout).toMatch(/^selection: 0\.25 of the training reviews held out \(whole movies\)/m);
    expect(r.stdout).toMatch(/^kept epoch 1 of 1 \(best valAccuracy: [\d.]+% on [\d,]+ held-out training reviews, whole movies\)/m);
    // By review it is the last 200, as before.
    const b = await cli(['imdb', 'train', ...small, '--epochs', '1', '--val-split', '0.25', '--val-by', 'review', '--json']);
    expect(b.code, b.stderr).toBe(0);
    expect(lastJson(b.stdout).data).toMatchObject({ train: 600, validation: 200, validationBy: 'review' });
  });

  it('refuses --val-by movie on data that names no movies, and an unknown --val-by', async () => {
    const file = join(tmp, 'imdb.npz');
    const x = Array.from({ length: 20 }, (_, i) => [1, 4 + (i % 5), 5 + (i % 3)]);
    const y = Array.from({ length: 20 }, (_, i) => i % 2);
    writeFileSync(file, kerasNpz({ x, y }, { x, y }));
    const a = await cli(['imdb', 'train', '--data', file, '--num-words', '10', '--epochs', '1', '--val-split', '0.2', '--val-by', 'movie']);
    expect(a.code, a.stderr).toBe(2);
    expect(a.stderr).toMatch(/^error: --val-by movie needs each review's movie, which .* does not give .*use --val-by review/m);
    const b = await cli([
      'imdb',
      'train',
      '--data',
      file,
      '--num-words',
      '10',
      '--epochs',
      '1',
      '--val-split',
      '0.2',
      '--val-by',
      'review',
      '--json',
    ]);
    expect(b.code, b.stderr).toBe(0);
    expect(lastJson(b.stdout).data).toMatchObject({ train: 16, validation: 4 });
    const c = await cli(['imdb', 'train', '--sample', '--val-by', 'film']);
    expect(c.code).toBe(2);
    expect(c.stderr).toMatch(/movie, review|movie\|review/);
  });

  it('refuses bucketing where padding is fed through, and patience without a validation split', async () => {
    const a = await cli(['imdb', 'train', '--sample', '--padding', 'pre', '--no-mask', '--bucket']);
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/^error: --bucket needs --mask/m);
    const b = await cli(['imdb', 'train', '--sample', '--patience', '2']);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/^error: --patience needs --val-split/m);
    const c = await cli(['imdb', 'train', '--sample', '--embedding-dropout', '0.2']);
    expect(c.code).toBe(2);
    expect(c.stderr).toMatch(/^error: --embedding-dropout needs --embedding/m);
    const d = await cli(['imdb', 'train', '--sample', '--pooling', 'sum']);
    expect(d.code).toBe(2);
    expect(d.stderr).toMatch(/last, mean, max, max-mean|last\|mean\|max\|max-mean/);
  });

  it('trains with embedding dropout and max-mean pooling, and saves both in the model', async () => {
    const dir = join(tmp, 'model-regularised');
    const r = await cli(
      ['imdb', 'train', ...small, '--epochs', '2', '--val-split', '0.2', '--bucket'].concat([
        '--embedding-dropout',
        '0.25',
        '--pooling',
        'max-mean',
        '--save',
        dir,
        '--json',
      ]),
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/max-mean pooling, .*embedding dropout 0\.25/);
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { model: { input: unknown; pooling: string } };
    expect(config.model.input).toEqual({ embedding: 16, dropout: 0.25 });
    expect(config.model.pooling).toBe('max-mean');
    const e = await cli(['imdb', 'evaluate', '--model', dir, '--sample', '--test-size', '400', '--json']);
    expect(e.code, e.stderr).toBe(0);
    expect(lastJson(e.stdout).testAccuracy).toBeCloseTo(lastJson(r.stdout).testAccuracy!, 10);
  });
});
