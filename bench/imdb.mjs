// One epoch of the IMDB seed job end to end, in its own process: load (the full dataset when it is in
// cellstate's cache, else the 2,000-review sample shipped in data/, cycled to the wanted count), keep 300
// words, pad to 100 steps, one-hot, batches of 64 through cellstate's train adapter. Timed from the load
// to the last batch. With CELLSTATE_IMDB naming the tarball, that is the full dataset (loadImdb reads it).
// Usage: node bench/imdb.mjs '{"variant":"native"|"wasm"|"wasm-relaxed"|"wasm-2w"|"wasm-relaxed-2w","threads":1,"reviews":15000}'
// (wasm-<N>w: N wasm workers, createParallelModel; wasm-relaxed* needs --experimental-wasm-relaxed-simd in Node 20)
import { CONFIGS } from './lib/configs.mjs';
import { makeWeights } from './lib/data.mjs';
import { TRAIN_LABEL, imdbTrainer } from './engines/cellstate.mjs';

const job = JSON.parse(process.argv[2]);
const cfg = CONFIGS.seed;
const dist = new URL('../dist/index.js', import.meta.url);

async function main() {
  const t0 = performance.now();
  const cs = await import(dist.href);
  let imdb;
  let source;
  try {
    imdb = await cs.loadImdb({ numWords: cfg.F, download: false, progress: false });
    source = process.env.CELLSTATE_IMDB ? `IMDB full tarball (CELLSTATE_IMDB=${process.env.CELLSTATE_IMDB})` : 'IMDB (cached full dataset)';
  } catch (e) {
    imdb = await cs.loadImdb({ numWords: cfg.F, sample: true, progress: false });
    source = `IMDB sample shipped in data/ (${imdb.train.labels.length} training reviews, cycled; the full dataset is not in cellstate's cache: ${String(e.message).split(';')[0]})`;
  }
  const tLoad = performance.now();
  const padded = cs.padSequences(imdb.train, { maxlen: cfg.T, padding: 'post', truncating: 'post' });
  const n = imdb.train.labels.length;
  const reviews = job.reviews;
  const trainer = await imdbTrainer(cs, job.variant, cfg, makeWeights(cfg), job.threads ?? 1);
  const ids = new Int32Array(cfg.B * cfg.T);
  const y = new Float32Array(cfg.B);
  let done = 0;
  let batches = 0;
  while (done < reviews) {
    const b = Math.min(cfg.B, reviews - done);
    for (let r = 0; r < b; r++) {
      const src = (done + r) % n; // cycles when the source has fewer reviews than wanted
      ids.set(padded.data.subarray(src * cfg.T, (src + 1) * cfg.T), r * cfg.T);
      y[r] = imdb.train.labels[src];
    }
    await trainer.step(ids.subarray(0, b * cfg.T), y.subarray(0, b), b);
    done += b;
    batches++;
  }
  const t1 = performance.now();
  await trainer.dispose();
  process.stdout.write(
    `@@RESULT ${JSON.stringify({
      engine: 'cellstate',
      config: 'imdb',
      mode: 'train',
      variant: job.variant,
      backend: trainer.backend,
      kernels: trainer.kernels,
      threads: trainer.threads,
      label: `one epoch end to end: load, words, pad, ${TRAIN_LABEL}`,
      source,
      reviews,
      batches,
      batch: cfg.B,
      status: 'ok',
      check: { status: 'none', why: 'the seed config checks the same step against the scalar reference' },
      seconds: (t1 - t0) / 1000,
      loadSeconds: (tLoad - t0) / 1000,
      samplesPerSecond: reviews / ((t1 - t0) / 1000),
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
    })}\n`,
  );
}

main().catch((e) => {
  process.stdout.write(
    `@@RESULT ${JSON.stringify({ engine: 'cellstate', config: 'imdb', variant: job.variant, status: 'failed', error: String(e) })}\n`,
  );
  process.exitCode = 1;
});
