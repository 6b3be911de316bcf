/**
 * The FinalizationRegistry safety net: a model or LSTM dropped without `dispose()` is freed after garbage
 * collection, and a handle whose `free` throws (as one of a trapped wasm instance would) cannot end the
 * process from the registry's callback, where no user code could catch it. Runs in a child process with
 * --expose-gc, on each backend.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { type TestBackend, backendNames, loadOptions, repoRoot } from './helpers';

const script = (backend: TestBackend, throwing: boolean) => `
const cs = await import(${JSON.stringify(pathToFileURL(join(repoRoot, 'dist/index.js')).href)});
const b = await cs.loadBackend(${JSON.stringify(loadOptions[backend])});
const freed = [];
if (${throwing}) {
  // Every handle's free fails, as after a trap: the registry must swallow it.
  for (const cls of [b.raw.LstmHandle, b.raw.ModelHandle]) {
    const free = cls.prototype.free;
    cls.prototype.free = function () { freed.push(cls.name); free.call(this); throw new Error('simulated trap in free'); };
  }
}
const config = { input: { embedding: 4 }, vocabSize: 30, lstm: { hiddenSize: 6 }, output: { units: 1, activation: 'sigmoid' }, seed: 1 };
const before = [cs.liveModelHandles(), cs.liveHandles()];
(() => {
  for (let i = 0; i < 40; i++) {
    new cs.SequenceModel(config, { backend: b });
    new cs.LSTM({ inputSize: 3, hiddenSize: 4, backend: b });
  }
})();
const created = [cs.liveModelHandles(), cs.liveHandles()];
for (let i = 0; i < 20 && (cs.liveModelHandles() > before[0] || cs.liveHandles() > before[1]); i++) {
  globalThis.gc();
  await new Promise((r) => setTimeout(r, 10));
}
process.stdout.write(JSON.stringify({ before, created, after: [cs.liveModelHandles(), cs.liveHandles()], freed: freed.length }));
`;

describe.each(backendNames)('handles dropped without dispose() on %s', (name) => {
  for (const throwing of [false, true]) {
    it(`are freed after GC${throwing ? ', and a free that throws does not end the process' : ''}`, () => {
      const out = execFileSync(
        process.execPath,
        ['--expose-gc', '--experimental-wasm-relaxed-simd', '--input-type=module', '-e', script(name, throwing)],
        {
          encoding: 'utf8',
          timeout: 60_000,
        },
      );
      const r = JSON.parse(out) as { before: number[]; created: number[]; after: number[]; freed: number };
      expect(r.created).toEqual([r.before[0] + 40, r.before[1] + 40]);
      expect(r.after).toEqual(r.before);
      // With the throwing free, every one of the 80 handles went through it (and the process lived to say so).
      if (throwing) expect(r.freed).toBe(80);
    });
  }
});
