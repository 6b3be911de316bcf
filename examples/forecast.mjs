// A time-series forecaster: an LSTM reads the last 30 values of a noisy seasonal series (a stand-in
// for a price) and predicts the next one; compared with the naive forecast "same as the last value".
//
//   node examples/forecast.mjs [epochs]
import { init, sequenceRegressor } from 'cellstate';

const backend = await init();
let seed = 7;
const random = () => (seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32;
const N = 3000;
const series = Float32Array.from(
  { length: N },
  (_, t) => 0.001 * t + Math.sin((2 * Math.PI * t) / 50) + 0.5 * Math.sin((2 * Math.PI * t) / 12) + 0.1 * (random() - 0.5),
);

const T = 30;
function windows(from, to) {
  const n = to - from - T;
  const x = new Float32Array(n * T);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    x.set(series.subarray(from + i, from + i + T), i * T);
    y[i] = series[from + i + T];
  }
  return { x: { data: x, shape: [n, T, 1] }, y, n };
}
const train = windows(0, 2400);
const test = windows(2400, N);
console.log(`${train.n} training and ${test.n} test windows of ${T} steps; backend ${backend.name} (${backend.kernels})`);

const model = sequenceRegressor({ input: { features: 1 }, lstm: { hiddenSize: 32 }, head: [{ units: 16, activation: 'tanh' }], seed: 2 });
const epochs = Number(process.argv[2] ?? 20);
await model.fit(train.x, train.y, {
  epochs,
  batchSize: 32,
  optimizer: { type: 'adam', lr: 5e-3 },
  lrSchedule: { type: 'cosine' },
  validationData: [test.x, test.y],
  callbacks: {
    onEpochEnd: (e) =>
      (e.epoch + 1) % 5 === 0 && console.log(`epoch ${e.epoch + 1}: train MSE ${e.loss.toFixed(4)}, test MSE ${e.valLoss.toFixed(4)}`),
  },
});

const pred = model.predict(test.x).data;
let se = 0;
let naive = 0;
for (let i = 0; i < test.n; i++) {
  se += (pred[i] - test.y[i]) ** 2;
  naive += (test.x.data[i * T + T - 1] - test.y[i]) ** 2;
}
const rmse = Math.sqrt(se / test.n);
const naiveRmse = Math.sqrt(naive / test.n);
console.log(`test RMSE ${rmse.toFixed(4)} (naive last-value forecast ${naiveRmse.toFixed(4)})`);
