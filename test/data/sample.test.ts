/** The sample shipped in data/ (written by scripts/make-imdb-sample from the shared labeled tarball). */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import { ValueError } from '../../ts/errors';
import { loadImdb } from '../../ts/data/node';

const SAMPLE = fileURLToPath(new URL('../../data/imdb-sample.tar.gz', import.meta.url));

test('sample: true reads data/imdb-sample.tar.gz: 2,000 + 2,000 reviews, 1,000 of each label per split', async () => {
  const d = await loadImdb({ sample: true });
  for (const s of [d.train, d.test]) {
    expect(s.labels.length).toBe(2000);
    expect(s.labels.reduce((n, l) => n + l, 0)).toBe(1000);
  }
  expect(d.wordIndex!.word(1)).toBe('the');
  expect(d).toEqual(await loadImdb({ source: SAMPLE }));
  await expect(loadImdb({ sample: true, source: SAMPLE })).rejects.toThrow(ValueError);
});

test('the sample is the one the script writes (deterministic output)', () => {
  // sha256 of the committed file, printed by `sha256sum data/imdb-sample.tar.gz` after
  // `scripts/make-imdb-sample` (rerunning the script gives the same bytes).
  expect(createHash('sha256').update(readFileSync(SAMPLE)).digest('hex')).toBe(
    '1da4348dd24f2e13be8bb7ed90f7f0d5e93ebd867827ec484568616525f638b3',
  );
});
