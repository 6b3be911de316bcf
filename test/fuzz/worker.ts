/**
 * The fuzz worker (bundled by scripts/fuzz): runs inputs seed + k, k = from, from + 1, ... of one target,
 * publishing k in shared memory before each so the driver's watchdog sees a hang, and posting every input
 * that broke the contract. The driver regenerates a reproducer from (seed + k).
 */
import { parentPort, workerData } from 'node:worker_threads';
import fc from 'fast-check';
import { fuzzEnv, runOne, targets } from './targets';

const { target, seed, from, to, deadline, progress } = workerData as {
  target: string;
  seed: number;
  from: number;
  to: number;
  deadline: number;
  progress: SharedArrayBuffer;
};
const slot = new Int32Array(progress);
const t = targets.find((x) => x.name === target)!;
const env = await fuzzEnv();
const arb = t.arbitrary(env);
for (let k = from; k < to && Date.now() < deadline; k++) {
  Atomics.store(slot, 0, k);
  const input = fc.sample(arb, { seed: seed + k, numRuns: 1 })[0];
  const r = await runOne(t, input, env);
  if (!r.ok) parentPort!.postMessage({ kind: 'finding', k, error: String((r.error as Error)?.stack ?? r.error) });
  Atomics.store(slot, 2, k + 1);
}
Atomics.store(slot, 1, 1);
parentPort!.postMessage({ kind: 'done' });
