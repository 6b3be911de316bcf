/**
 * Seeded random streams. MT19937 seeded the way numpy's legacy `RandomState(seed)` seeds it (`init_genrand`),
 * and the Fisher–Yates walk of `RandomState.shuffle` with numpy's `random_interval` (masked rejection on
 * 32-bit draws), so `shuffleOrder(n, rng)` lists the permutation that `rng.shuffle(np.arange(n))` makes.
 * Reference: numpy/random/src/mt19937/mt19937.c, numpy/random/src/distributions/distributions.c.
 */

import { ValueError } from '../errors';

const N = 624;
const M = 397;

/** The Mersenne Twister MT19937 (Matsumoto & Nishimura 1998), 32-bit outputs. */
export class MT19937 {
  private readonly mt = new Uint32Array(N);
  private index = N;

  /**
   * @param seed an integer in [0, 2^32); seeded with `init_genrand`, as numpy's `RandomState(seed)` does.
   * @throws {ValueError} when `seed` is not such an integer.
   */
  constructor(seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new ValueError(`seed must be an integer in [0, 2^32), got ${seed}`);
    }
    const mt = this.mt;
    mt[0] = seed >>> 0;
    for (let i = 1; i < N; i++) {
      const prev = mt[i - 1];
      mt[i] = (Math.imul(1812433253, prev ^ (prev >>> 30)) + i) >>> 0;
    }
  }

  /** The next 32-bit output, as an unsigned integer. */
  nextUint32(): number {
    const mt = this.mt;
    if (this.index >= N) {
      for (let k = 0; k < N; k++) {
        const y = (mt[k] & 0x80000000) | (mt[(k + 1) % N] & 0x7fffffff);
        mt[k] = mt[(k + M) % N] ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
      }
      this.index = 0;
    }
    let y = mt[this.index++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** A uniform integer in [0, max] by masked rejection, as numpy's `random_interval` (max < 2^32). */
  interval(max: number): number {
    if (max === 0) return 0;
    let mask = max;
    mask |= mask >>> 1;
    mask |= mask >>> 2;
    mask |= mask >>> 4;
    mask |= mask >>> 8;
    mask |= mask >>> 16;
    let value: number;
    do value = (this.nextUint32() & mask) >>> 0;
    while (value > max);
    return value;
  }
}

/**
 * The order in which `rng` shuffles `n` items: element k of the result is the index of the item that
 * lands at position k. Equals numpy's `rng.shuffle(np.arange(n))` for the same generator state.
 * Advances `rng` (one generator is shared by the train and the test split, as in Keras).
 * @throws never.
 */
export function shuffleOrder(n: number, rng: MT19937): Int32Array {
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = rng.interval(i);
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}

/**
 * mulberry32 (Tommy Ettinger's 32-bit generator): uniform floats in [0, 1), deterministic across runtimes.
 * Used where numpy's stream is not needed: the model's batch shuffling and the tests' inputs.
 * bench/lib/data.mjs keeps a copy (it runs without the TypeScript build).
 * @throws never.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
