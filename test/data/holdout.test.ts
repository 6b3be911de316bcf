/** holdOut: validation splits by review and by movie, over small hand-made splits and the shipped sample. */
import { expect, test } from 'vitest';
import { ValueError } from '../../ts/errors';
import { holdOut, loadImdb, takeReviews, type Split } from '../../ts/data/node';

/** n one-token reviews: review i is [i + 1], label i % 2, movie movies[i]. */
function split(movies: number[] | null, n = movies?.length ?? 10): Split {
  const s: Split = {
    ids: Int32Array.from({ length: n }, (_, i) => i + 1),
    offsets: Int32Array.from({ length: n + 1 }, (_, i) => i),
    labels: Uint8Array.from({ length: n }, (_, i) => i % 2),
  };
  if (movies) s.movies = Int32Array.from(movies);
  return s;
}
const tokens = (s: Split) => Array.from(s.ids);

test("by review: the last ⌊n · fraction⌋ reviews, as fit's validationSplit takes them", () => {
  const s = split(null, 10);
  const { train, validation } = holdOut(s, 0.25);
  expect(tokens(train)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  expect(tokens(validation)).toEqual([9, 10]);
  expect(Array.from(validation.labels)).toEqual([0, 1]);
  expect(validation.movies).toBeUndefined();
});

/** Checks what holding out by movie promises, and returns the validation's reviews (tokens). */
function checkByMovie(s: Split, fraction: number, seed?: number): number[] {
  const before = structuredClone(s);
  const { train, validation } = holdOut(s, fraction, { by: 'movie', seed });
  const n = s.labels.length;
  const want = Math.floor(n * fraction);
  const size = (m: number) => (m < 0 ? 1 : Array.from(s.movies!).filter((x) => x === m).length);
  const v = tokens(validation);
  // Every review lands in exactly one part, each part in the input's order.
  expect([...tokens(train), ...v].sort((a, b) => a - b)).toEqual(tokens(s));
  for (const part of [tokens(train), v]) expect(part).toEqual([...part].sort((a, b) => a - b));
  // Whole movies: no movie on both sides; the share reached, and overshot by less than the last movie taken.
  const held = new Set(Array.from(validation.movies!).filter((m) => m >= 0));
  expect(Array.from(train.movies!).some((m) => held.has(m))).toBe(false);
  expect(v.length).toBeGreaterThanOrEqual(want);
  expect(v.length - want).toBeLessThan(Math.max(...Array.from(validation.movies!, size)));
  expect(s).toEqual(before);
  return v;
}

test('by movie: whole movies, the share reached, order kept, input unchanged; repeatable per seed', () => {
  //            reviews: 1  2  3  4  5  6  7  8  9  10
  const s = split([0, 1, 0, 2, 1, 3, 3, 0, 2, 4]);
  for (const f of [0.1, 0.3, 0.45, 0.5]) for (const seed of [0, 1, 2, 3]) checkByMovie(s, f, seed);
  expect(checkByMovie(s, 0.3)).toEqual(checkByMovie(s, 0.3, 0));
  const draws = new Set([0, 1, 2, 3, 4, 5, 6, 7].map((seed) => checkByMovie(s, 0.3, seed).join()));
  expect(draws.size).toBeGreaterThan(1); // the seed chooses the movies
  // A larger random split: 400 reviews over 60 movies of 1-12 reviews, a few unknown.
  let x = 12345;
  const rand = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const movies: number[] = [];
  for (let m = 0; movies.length < 400; m++) for (let k = 1 + Math.floor(rand() * 12); k > 0; k--) movies.push(rand() < 0.03 ? -1 : m);
  const big = split(movies.slice(0, 400));
  for (const seed of [0, 7, 113]) checkByMovie(big, 0.1, seed);
});

test('by movie: a review of unknown movie (−1) is a movie of its own', () => {
  // All unknown: each review alone, so exactly the share is held.
  expect(checkByMovie(split([-1, -1, -1, -1, -1]), 0.4)).toHaveLength(2);
  // One movie of 3 beside 2 unknown: either the movie whole or unknown reviews one by one.
  for (const seed of [0, 1, 2, 3, 4]) {
    const v = checkByMovie(split([5, -1, 5, 5, -1]), 0.2, seed);
    expect([[2], [5], [1, 3, 4]]).toContainEqual(v);
  }
});

test('takeReviews carries movies with their reviews', () => {
  const t = takeReviews(split([7, 8, 9]), [2, 0]);
  expect(Array.from(t.movies!)).toEqual([9, 7]);
  expect(tokens(t)).toEqual([3, 1]);
});

test('errors say what was wrong and change nothing', () => {
  const s = split([0, 0, 0, 0]);
  expect(() => holdOut(split(null), 0.1, { by: 'movie' })).toThrow(/needs each review's movie/);
  expect(() => holdOut(s, 0, { by: 'review' })).toThrow(ValueError);
  expect(() => holdOut(s, 1)).toThrow(/fraction must be a number in \(0, 1\), got 1/);
  expect(() => holdOut(s, Number.NaN)).toThrow(ValueError);
  expect(() => holdOut(s, 0.5, { by: 'film' as 'movie' })).toThrow(/by must be 'review' or 'movie', got film/);
  expect(() => holdOut(s, 0.5, { by: 'movie', seed: -1 })).toThrow(/seed must be an integer/);
  // One movie: holding out any of it holds out all of it.
  expect(() => holdOut(s, 0.25, { by: 'movie' })).toThrow(/leaves no training review/);
  expect(() => holdOut(split(null, 3), 0.2)).toThrow(/leaves no validation review/);
});

test('the shipped sample names every review’s movie; its splits share none', async () => {
  const d = await loadImdb({ sample: true });
  expect(d.train.movies!.length).toBe(2000);
  expect(Array.from(d.test.movies!).every((m) => m >= 0)).toBe(true);
  const train = new Set(d.train.movies);
  expect(Array.from(d.test.movies!).filter((m) => train.has(m))).toEqual([]);
  const { train: t, validation: v } = holdOut(d.train, 0.1, { by: 'movie' });
  expect(v.labels.length).toBeGreaterThanOrEqual(200);
  const held = new Set(v.movies);
  expect(Array.from(t.movies!).some((m) => held.has(m))).toBe(false);
});
