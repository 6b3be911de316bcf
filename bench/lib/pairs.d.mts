// Types of pairs.mjs for the tests (test/bench.pairs.test.ts), which tsc checks.
export interface PairJob {
  engine: string;
  variant: string;
  threads: number;
}
export interface Pair {
  a: string;
  b: string;
  what: string;
  goal: Record<string, number>;
}
export interface PairResult {
  config: string;
  a: string;
  b: string;
  what: string;
  goal: number | null;
  rounds: number;
  ratios: number[];
  median: number | null;
  min: number | null;
  max: number | null;
  met: boolean | null;
  aMedian: number | null;
  bMedian: number | null;
}
export function pairJobs(mode: 'infer' | 'train', cores: number): Record<string, PairJob>;
export function pairList(mode: 'infer' | 'train', cores: number): Pair[];
export function roundOrder<T>(keys: T[], round: number): T[];
export function pairStats(rates: Record<string, number>[], pair: Pair, config: string): PairResult;
export function pairsMarkdown(doc: unknown): string;
