// bench/lib/pairs.mjs: which jobs a `bench/run --pairs` round runs and how its ratios are formed.
import { describe, expect, it } from 'vitest';
import { pairJobs, pairList, pairStats, roundOrder } from '../bench/lib/pairs.mjs';

describe('bench --pairs', () => {
  it('names only jobs that exist for the mode, and drops the multi-core ones on one core', () => {
    for (const mode of ['infer', 'train'] as const) {
      for (const cores of [1, 2, 4]) {
        const jobs = pairJobs(mode, cores);
        const usable = pairList(mode, cores).filter((p) => jobs[p.a] && jobs[p.b]);
        expect(usable.length).toBeGreaterThan(0);
        for (const job of Object.values(jobs)) expect([1, cores]).toContain(job.threads);
        if (cores === 1) expect(Object.values(jobs).every((j) => j.threads === 1)).toBe(true);
      }
    }
    expect(pairJobs('infer', 2).torch1).toBeUndefined();
    expect(pairJobs('train', 2).ortNode1).toBeUndefined();
    expect(pairList('infer', 4).map((p) => p.what)).toContain('native 4t ÷ ORT-node 4t');
  });

  it('reverses the order every other round', () => {
    expect(roundOrder(['a', 'b', 'c'], 0)).toEqual(['a', 'b', 'c']);
    expect(roundOrder(['a', 'b', 'c'], 1)).toEqual(['c', 'b', 'a']);
    expect(roundOrder(['a', 'b', 'c'], 2)).toEqual(['a', 'b', 'c']);
  });

  it('takes each ratio within one round and reports their median, range and the goal', () => {
    const pair = { a: 'x', b: 'y', what: 'x ÷ y', goal: { large: 1.0 } };
    // The host halves its speed in round 1: both jobs slow down, the ratio does not.
    const rates: Record<string, number>[] = [
      { x: 120, y: 100 },
      { x: 60, y: 50 },
      { x: 130, y: 100 },
      { x: 90 }, // y failed: no ratio from this round
    ];
    const s = pairStats(rates, pair, 'large');
    expect(s.rounds).toBe(3);
    expect(s.ratios).toEqual([1.2, 1.2, 1.3]);
    expect(s.median).toBeCloseTo(1.2, 12);
    expect(s.min).toBeCloseTo(1.2, 12);
    expect(s.max).toBeCloseTo(1.3, 12);
    expect(s.goal).toBe(1.0);
    expect(s.met).toBe(true);
    expect(s.aMedian).toBe(105);
    expect(s.bMedian).toBe(100);
    expect(pairStats(rates, pair, 'seed')).toMatchObject({ goal: null, met: null });
    expect(pairStats([{ x: 1 }], pair, 'large')).toMatchObject({ rounds: 0, median: null, met: null });
    expect(pairStats([{ x: 80, y: 100 }], pair, 'large').met).toBe(false);
  });
});
