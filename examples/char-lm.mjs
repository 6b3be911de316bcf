// A character-level language model: an LSTM reads 48 characters and predicts each next one (a softmax
// per step), trained on a few public-domain Shakespeare passages, then writes new text.
//
//   node examples/char-lm.mjs [epochs]
import { readFileSync } from 'node:fs';
import { init, sequenceTagger } from 'cellstate';

const backend = await init();
const text = readFileSync(new URL('./shakespeare.txt', import.meta.url), 'utf8');
const chars = [...new Set(text)].sort();
const id = new Map(chars.map((c, i) => [c, i]));
const T = 48;
const stride = 3;
const n = Math.floor((text.length - T - 1) / stride);
const x = new Int32Array(n * T);
const y = new Float32Array(n * T);
for (let i = 0; i < n; i++) {
  for (let s = 0; s < T; s++) {
    x[i * T + s] = id.get(text[i * stride + s]);
    y[i * T + s] = id.get(text[i * stride + s + 1]);
  }
}
console.log(`${text.length} characters, ${chars.length} distinct, ${n} windows of ${T}; backend ${backend.name} (${backend.kernels})`);

const model = sequenceTagger({
  input: { embedding: 24, paddingIdx: null },
  vocabSize: chars.length,
  lstm: { hiddenSize: 128 },
  output: { units: chars.length, activation: 'softmax' },
  seed: 1,
});
const epochs = Number(process.argv[2] ?? 30);
const history = await model.fit({ data: x, shape: [n, T] }, y, {
  epochs,
  batchSize: 32,
  optimizer: { type: 'adam', lr: 5e-3 },
  clipNorm: 1,
  callbacks: {
    onEpochEnd: (e) => {
      if ((e.epoch + 1) % 5 === 0)
        console.log(`epoch ${e.epoch + 1}: loss ${e.loss.toFixed(3)}, next-char accuracy ${(100 * e.accuracy).toFixed(1)}%`);
    },
  },
});

// Generation: feed the last T characters, sample the next from the softmax at the last step.
let seed = 42;
const random = () => (seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32;
let out = 'Shall I compare thee';
for (let k = 0; k < 200; k++) {
  const ctx = [...out.slice(-T)].map((c) => id.get(c));
  const p = model.predict({ data: Int32Array.from(ctx), shape: [1, ctx.length] }).data;
  const last = p.subarray((ctx.length - 1) * chars.length, ctx.length * chars.length);
  // Temperature 0.5: sharpen the distribution before sampling.
  const w = Array.from(last, (v) => v ** 2);
  const total = w.reduce((a, b) => a + b, 0);
  let r = random() * total;
  let next = 0;
  while (next < w.length - 1 && (r -= w[next]) > 0) next++;
  out += chars[next];
}
console.log(`final loss ${history.epochs.at(-1).loss.toFixed(3)}\n---\n${out}\n---`);
