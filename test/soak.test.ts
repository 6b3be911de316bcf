/**
 * The short form of scripts/soak (the long form runs 10,000 steps per backend and holds ±5%): a few hundred
 * training steps, predict batches and model create/dispose and drop-without-dispose cycles per backend, in a
 * child process with --expose-gc. The bound is looser here (±25%): short phases leave less room to warm up.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './helpers';

describe('memory over repeated calls (scripts/soak, short)', () => {
  it('keeps RSS, the wasm heap and live handles flat on both backends', { timeout: 240_000 }, () => {
    let text: string;
    try {
      text = execFileSync(process.execPath, ['--expose-gc', join(repoRoot, 'scripts/soak.mjs'), '--steps', '400', '--models', '300'], {
        encoding: 'utf8',
      });
    } catch (e) {
      // Exit status 1 only says the long run's ±5% was missed; the bound asserted here is the looser one.
      text = (e as { stdout: string }).stdout;
    }
    const report = JSON.parse(text) as {
      backend: string;
      phase: string;
      rssDriftPercent: number;
      wasmDriftPercent: number | null;
      liveHandlesAtEnd: number;
    }[];
    expect(report.length).toBe(8);
    for (const r of report) {
      const what = `${r.backend} ${r.phase}`;
      expect(Math.abs(r.rssDriftPercent), what).toBeLessThanOrEqual(25);
      if (r.wasmDriftPercent !== null) expect(Math.abs(r.wasmDriftPercent), what).toBeLessThanOrEqual(25);
      expect(r.liveHandlesAtEnd, what).toBeLessThanOrEqual(1);
    }
  });
});
