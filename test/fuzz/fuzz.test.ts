/**
 * The short form of scripts/fuzz, in the suite: every target for a fixed number of inputs from a fixed
 * seed (so a failure reproduces), then every saved reproducer in test/fuzz/corpus/<target>/ (each a
 * finding of a long run, kept as a regression test). Each input must return or throw a CellstateError.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Env, fuzzEnv, runOne, targets } from './targets';

const corpus = join(dirname(fileURLToPath(import.meta.url)), 'corpus');
/** Inputs per target here: about 20 s for all targets on one core (scripts/fuzz runs the long form). */
const INPUTS = Number(process.env.CELLSTATE_FUZZ_INPUTS ?? 60);

let env: Env;
beforeAll(async () => {
  env = await fuzzEnv();
});

describe.each(targets.map((t) => [t.name, t] as const))('fuzz target %s', (_, t) => {
  it(`survives ${INPUTS} mutated inputs with only typed errors`, { timeout: 120_000 }, async () => {
    const inputs = fc.sample(t.arbitrary(env), { seed: 12, numRuns: INPUTS });
    for (const [i, input] of inputs.entries()) {
      const r = await runOne(t, input, env);
      if (!r.ok) expect.fail(`input ${i} (${t.encode(input).slice(0, 200)}) threw ${String((r.error as Error)?.stack ?? r.error)}`);
    }
  });

  const dir = join(corpus, t.name);
  const saved = existsSync(dir) ? readdirSync(dir).sort() : [];
  it.skipIf(saved.length === 0)(`replays its ${saved.length} saved reproducers (skipped when none was ever found)`, async () => {
    for (const f of saved) {
      const r = await runOne(t, t.decode(readFileSync(join(dir, f), 'utf8')), env);
      expect(r.ok ? 'ok' : String(r.error), f).toBe('ok');
    }
  });
});
