// brain.js 1.6.1, recurrent.LSTMTimeStep: plain JS, one sequence at a time, RMSProp (its only optimiser).
// Train: net.train([sequence], { iterations: 1 }) per sequence, brain.js's own documented task for vectors:
// predict the next step (outputSize = F, loss on every step). brain.js 1.6.1 accepts vector sequences only
// in that form (its { input, output } form needs inputSize 1), so its head differs from the others' Dense(1)
// on h_T, and the FLOP count (the LSTM's, as for everyone) leaves its per-step output layer out. Its
// weights are its own random ones (no API loads PyTorch-layout weights).
// Infer: net.run(T steps) -> the output after the last step.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export async function prepare({ job, cfg, data }) {
  const brain = require('brain.js');
  const { T, F, H } = cfg;
  // Sequences per timed step: brain.js has no batch, so a step is a few sequences, reported per sample.
  const n = Math.min(cfg.B, job.quick ? 2 : 4);
  const seqs = [];
  for (let s = 0; s < n; s++) {
    const steps = [];
    for (let t = 0; t < T; t++) steps.push(Array.from(data.x.subarray((s * T + t) * F, (s * T + t + 1) * F)));
    seqs.push(steps);
  }
  const net = new brain.recurrent.LSTMTimeStep({ inputSize: F, hiddenLayers: [H], outputSize: F });
  const pairs = seqs.map((seq) => [seq]);
  // The first train call sizes and builds the model.
  net.train(pairs[0], { iterations: 1, errorThresh: 0, log: false });
  const step =
    job.mode === 'train'
      ? () => {
          for (const p of pairs) net.train(p, { iterations: 1, errorThresh: 0, log: false });
        }
      : () => {
          for (const s of seqs) net.run(s);
        };
  return {
    info: {
      engine: 'brain.js',
      backend: 'LSTMTimeStep',
      kernels: 'plain JS',
      threads: 1,
      label:
        job.mode === 'train'
          ? 'train one sequence at a time, RMSProp, next-step prediction with loss on every step (no batching, no Adam)'
          : 'forward, one sequence at a time',
      input: cfg.oneHot ? 'dense one-hot steps (number[][])' : 'number[][] steps',
      runtime: `node ${process.versions.node}, brain.js ${require('brain.js/package.json').version}`,
    },
    noCheckReason: 'brain.js cannot load PyTorch-layout weights through its API; not compared',
    samplesPerStep: n,
    step,
  };
}
