/** The three example programs run as a user runs them (against the built package) and do what they claim. */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './helpers';

function run(file: string, args: string[] = [], env: Record<string, string> = {}): string {
  const { CELLSTATE_IMDB: _, ...rest } = process.env;
  return execFileSync(process.execPath, [join(repoRoot, 'examples', file), ...args], {
    cwd: repoRoot,
    env: { ...rest, ...env },
    encoding: 'utf8',
    timeout: 120_000,
  });
}

describe('examples', () => {
  it('forecast.mjs beats the naive last-value forecast', () => {
    const out = run('forecast.mjs');
    const m = /test RMSE ([\d.]+) \(naive last-value forecast ([\d.]+)\)/.exec(out);
    expect(m, out).not.toBeNull();
    expect(Number(m![1])).toBeLessThan(0.75 * Number(m![2]));
  });

  it('char-lm.mjs learns the text and generates from it', () => {
    const out = run('char-lm.mjs');
    const loss = Number(/final loss ([\d.]+)/.exec(out)![1]);
    // Chance over ~50 characters is ln(50) ≈ 3.9.
    expect(loss).toBeLessThan(1);
    const generated = out.split('---')[1];
    expect(generated.trim().startsWith('Shall I compare thee')).toBe(true);
    expect(generated.trim().length).toBeGreaterThan(200);
  });

  it('imdb-sentiment.mjs trains the notebook model on the shipped sample and scores two reviews', () => {
    const out = run('imdb-sentiment.mjs', [], { EPOCHS: '3' });
    expect(out).toMatch(/data: 2000 train \/ 2000 test reviews/);
    expect(out).toMatch(/epoch 3\/3: loss [\d.]+, test loss [\d.]+, test accuracy [\d.]+%/);
    const probs = [...out.matchAll(/^(0\.\d{3}|1\.000) {2}/gm)].map((m) => Number(m[1]));
    expect(probs).toHaveLength(2);
  });
});
