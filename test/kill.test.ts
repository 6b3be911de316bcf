/**
 * `cellstate imdb train --save DIR --checkpoint-every N`, killed with SIGKILL at seeded random moments and
 * continued with `--resume DIR` each time, ends with the weights of an uninterrupted run, bit for bit (same
 * backend, one thread): the checkpoint holds the optimiser, the dropout stream and the batch position, and
 * the data order is rebuilt from the seeds.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DataError, decodeSafetensors } from '../ts/index';
import { train } from '../ts/cli/imdb';
import { io } from './catalogue/cases';
import { mulberry32 } from '../ts/data/rng';
import { repoRoot } from './helpers';

const cliPath = join(repoRoot, 'dist/cli.js');
const tmp = mkdtempSync(join(tmpdir(), 'cellstate-kill-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// A small model on the shipped sample: 13 batches of 16 per epoch, 6 epochs, dropout on: about 30 checkpoints,
// so three kills after 1-3 checkpoints plus up to 60 ms each still land before the run ends on a quiet machine.
const FLAGS = [
  '--sample',
  '--backend',
  'wasm',
  '--threads',
  '1',
  '--train-size',
  '200',
  '--test-size',
  '40',
  '--maxlen',
  '40',
  '--num-words',
  '400',
];
const BASE = ['--hidden', '8', '--embedding', '8', '--epochs', '6', '--batch-size', '16', '--dropout', '0.2', '--checkpoint-every', '3'];

/**
 * Runs the CLI; with `kill`, sends SIGKILL `jitterMs` after the run has written `checkpoints` new checkpoints
 * (seen as config.json, written last, changing): the kill lands at a random point after real progress,
 * inside a batch, between batches or in the middle of the next save.
 */
function run(
  args: string[],
  dir: string,
  kill?: { checkpoints: number; jitterMs: number },
): Promise<{ code: number | null; signal: string | null; ms: number }> {
  const env = { ...process.env, CELLSTATE_DATA_DIR: join(tmp, 'cache') };
  const stamp = () => (existsSync(join(dir, 'config.json')) ? statSync(join(dir, 'config.json')).mtimeMs : 0);
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, [cliPath, 'imdb', 'train', ...args], { env, stdio: 'ignore' });
    let last = stamp();
    let seen = 0;
    const poll = kill
      ? setInterval(() => {
          const now = stamp();
          if (now !== last) {
            last = now;
            if (++seen === kill.checkpoints) setTimeout(() => child.kill('SIGKILL'), kill.jitterMs);
          }
        }, 5)
      : null;
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (poll) clearInterval(poll);
      resolve({ code, signal, ms: Date.now() - t0 });
    });
  });
}

/** The weights (every tensor, optimiser moments included) of a saved run, as raw bytes. */
function saved(dir: string): Record<string, number[]> {
  const st = decodeSafetensors(readFileSync(join(dir, 'model.safetensors')));
  return Object.fromEntries(
    Object.entries(st.tensors).map(([k, t]) => [k, Array.from(new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length))]),
  );
}

/** metrics.json without its timings: what a resumed run must report as the uninterrupted one did. */
function metrics(dir: string): unknown {
  const m = JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8')) as Record<string, unknown> & { epochs: Record<string, unknown>[] };
  return { ...m, seconds: null, epochs: m.epochs.map((e) => ({ ...e, seconds: null, samplesPerSecond: null })) };
}

describe.each([
  ['the test set every epoch, the last kept', []],
  // A validation split: the kept epoch is the best on it over the whole run, across the kills.
  ['a validation split, the best epoch kept', ['--val-split', '0.25']],
])('imdb train killed with SIGKILL and resumed (%s)', (label, extra) => {
  it('ends bitwise identical to the uninterrupted run, with the same metrics', { timeout: 300_000 }, async () => {
    const name = extra.length ? 'val' : 'test';
    const whole = join(tmp, `whole-${name}`);
    const MODEL = [...BASE, ...extra];
    const ref = await run([...FLAGS, ...MODEL, '--save', whole], whole);
    expect(ref.code).toBe(0);
    const dir = join(tmp, `killed-${name}`);
    const r = mulberry32(21);
    let kills = 0;
    let resumes = 0;
    for (let attempt = 0; attempt < 10; attempt++) {
      // config.json is written last (after the weights): it marks a complete first checkpoint.
      const resuming = existsSync(join(dir, 'config.json'));
      const args = [...FLAGS, ...MODEL, ...(resuming ? ['--resume', dir] : ['--save', dir])];
      // Killed 3 times, each after 1-3 new checkpoints plus 0-60 ms, then left to finish.
      const kill = kills < 3 ? { checkpoints: 1 + Math.floor(r() * 3), jitterMs: Math.floor(r() * 60) } : undefined;
      const res = await run(args, dir, kill);
      if (resuming) resumes++;
      if (res.signal === 'SIGKILL') {
        kills++;
        continue;
      }
      expect(res.code, `attempt ${attempt} (${resuming ? 'resuming' : 'fresh'}) after ${kills} kills`).toBe(0);
      if (kills === 3) break;
    }
    expect(kills).toBe(3);
    expect(resumes).toBeGreaterThanOrEqual(1);
    expect(saved(dir)).toEqual(saved(whole));
    expect(metrics(dir), label).toEqual(metrics(whole));
  });
});

describe('imdb train --resume with a validation split', () => {
  it("is refused with a DataError naming the file when the best epoch's weights are gone, and changes nothing", async () => {
    const dir = join(tmp, 'no-best');
    const small = [...FLAGS, '--hidden', '4', '--embedding', '4', '--batch-size', '16', '--val-split', '0.25'];
    expect(await train([...small, '--epochs', '1', '--save', dir], io())).toBe(0);
    rmSync(join(dir, 'best-epoch-1.safetensors'));
    const before = saved(dir);
    const resumed = train([...small, '--epochs', '2', '--resume', dir], io());
    await expect(resumed).rejects.toThrow(DataError);
    await expect(resumed).rejects.toThrow(
      /best-epoch-1\.safetensors \(the weights of epoch 1, the best on validation so far\) cannot be read/,
    );
    expect(saved(dir)).toEqual(before);
  });
});
