/**
 * How `cellstate imdb train` treats padding: the seed preset (the notebook) feeds padding through the LSTM,
 * `--mask` skips it. The first-epoch train loss of each must equal the same training done through the API with
 * and without the mask, so a CLI that passed padSequences' `lengths` to the model (every model skipping padding
 * as packed sequences do, whatever `--mask` said) fails here.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { init, loadImdb, padSequences, sequenceClassifier } from '../ts/index';
import { repoRoot } from './helpers';

const cliPath = join(repoRoot, 'dist/cli.js');

function cliLoss(mask: boolean): number {
  const out = execFileSync(
    process.execPath,
    [
      cliPath,
      'imdb',
      'train',
      '--preset',
      'seed',
      '--sample',
      '--epochs',
      '1',
      '--backend',
      'native',
      mask ? '--mask' : '--no-mask',
      '--json',
    ],
    { encoding: 'utf8', env: { ...process.env, CELLSTATE_IMDB: '' } },
  );
  const summary = JSON.parse(out.trim().split('\n').at(-1)!) as { epochs: { loss: number }[] };
  return summary.epochs[0].loss;
}

async function apiLoss(mask: boolean): Promise<number> {
  const backend = await init({ backend: 'native' });
  // The seed preset: 300 words, maxlen 100 'post'/'post', one-hot LSTM(16), last pooling, Adam 1e-3, batch 64.
  const d = await loadImdb({ sample: true, numWords: 300 });
  const x = padSequences(d.train, { maxlen: 100, padding: 'post', truncating: 'post' });
  const model = sequenceClassifier(
    { input: 'one-hot', vocabSize: 300, lstm: { hiddenSize: 16 }, pooling: 'last', mask, seed: 0 },
    { backend },
  );
  try {
    const h = await model.fit({ data: x.data, shape: x.shape }, d.train.labels, {
      epochs: 1,
      batchSize: 64,
      shuffle: true,
      optimizer: { type: 'adam', lr: 1e-3 },
    });
    return h.epochs[0].loss;
  } finally {
    model.dispose();
  }
}

describe('imdb train and padding', () => {
  it('feeds padding through without --mask and skips it with --mask, as the API does', async () => {
    const [unmasked, masked] = [cliLoss(false), cliLoss(true)];
    // 249 of the sample's 2,000 training reviews are shorter than maxlen 100, so the two must differ.
    expect(unmasked).not.toBe(masked);
    expect(unmasked).toBeCloseTo(await apiLoss(false), 10);
    expect(masked).toBeCloseTo(await apiLoss(true), 10);
  });
});
