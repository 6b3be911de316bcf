// `bench/run --pairs`: the goal ratios measured side by side. A full run times each engine once,
// minutes apart, and on a shared host the machine's speed drifts by ±15-20% over that time, so a ratio of
// two rows carries the drift of both. Here every round times each job of a config and mode once, in an
// order reversed every other round, and each ratio is taken within one round: the drift that reaches both
// jobs of a round cancels. The median of the per-round ratios is reported with their range.

/** The jobs of one config and mode, by key: what `main.mjs` runs (engine, variant, threads). */
export function pairJobs(mode, cores) {
  const n = cores;
  const jobs = {
    native1: { engine: 'cellstate', variant: 'native', threads: 1 },
    wasm1: { engine: 'cellstate', variant: 'wasm', threads: 1 },
    relaxed1: { engine: 'cellstate', variant: 'wasm-relaxed', threads: 1 },
  };
  if (n > 1) {
    jobs.nativeN = { engine: 'cellstate', variant: 'native', threads: n };
    jobs.relaxedW = { engine: 'cellstate-parallel', variant: `wasm-relaxed-${n}w`, threads: n };
    jobs.threadsN = { engine: 'cellstate', variant: 'wasm-threads', threads: n };
  }
  if (mode === 'infer') {
    jobs.ortNode1 = { engine: 'onnxruntime', variant: 'node', threads: 1 };
    jobs.ortWeb1 = { engine: 'onnxruntime', variant: 'web', threads: 1 };
    if (n > 1) {
      jobs.ortNodeN = { engine: 'onnxruntime', variant: 'node', threads: n };
      jobs.ortWebN = { engine: 'onnxruntime', variant: 'web', threads: n };
    }
  } else {
    jobs.torch1 = { engine: 'pytorch', variant: 'cpu', threads: 1 };
    if (n > 1) jobs.torchN = { engine: 'pytorch', variant: 'cpu', threads: n };
  }
  return jobs;
}

// The goals of issue 10, per config (absent: no goal there, the ratio is shown for information).
const INFER_VS_ORT_NODE = { seed: 1.2, medium: 1.2, large: 1.0 };
const WASM_VS_ORT_WEB = { seed: 1.5, medium: 1.5, large: 1.5 };
const TRAIN_VS_TORCH = { medium: 1.5, large: 1.25 };
const NATIVE_SCALING = { medium: 1.8, large: 1.8 };
const WORKER_SCALING = { medium: 1.6, large: 1.6 };
const RELAXED_OVER_SIMD128 = { large: 1.3 };

/** The ratios `a ÷ b` of one mode on `cores` cores: job keys of `pairJobs`, and the goal per config. */
export function pairList(mode, cores) {
  const n = cores;
  const both = [
    { a: 'nativeN', b: 'native1', what: `native ${n}t ÷ 1t`, goal: NATIVE_SCALING },
    { a: 'relaxedW', b: 'relaxed1', what: 'wasm relaxed workers ÷ relaxed 1t', goal: WORKER_SCALING },
    { a: 'threadsN', b: 'relaxed1', what: 'wasm threads build ÷ relaxed 1t', goal: {} },
    { a: 'relaxed1', b: 'wasm1', what: 'wasm relaxed ÷ SIMD128', goal: RELAXED_OVER_SIMD128 },
  ];
  if (mode === 'infer')
    return [
      { a: 'native1', b: 'ortNode1', what: 'native 1t ÷ ORT-node 1t', goal: INFER_VS_ORT_NODE },
      { a: 'nativeN', b: 'ortNodeN', what: `native ${n}t ÷ ORT-node ${n}t`, goal: INFER_VS_ORT_NODE },
      { a: 'relaxed1', b: 'ortWeb1', what: 'wasm relaxed 1t ÷ ORT-web 1t', goal: WASM_VS_ORT_WEB },
      { a: 'relaxedW', b: 'ortWebN', what: `wasm relaxed workers ÷ ORT-web ${n}t`, goal: WASM_VS_ORT_WEB },
      { a: 'threadsN', b: 'ortWebN', what: `wasm threads build ÷ ORT-web ${n}t`, goal: WASM_VS_ORT_WEB },
      ...both,
    ];
  return [
    { a: 'native1', b: 'torch1', what: 'native 1t ÷ PyTorch 1t', goal: TRAIN_VS_TORCH },
    { a: 'nativeN', b: 'torchN', what: `native ${n}t ÷ PyTorch ${n}t`, goal: TRAIN_VS_TORCH },
    ...both,
  ];
}

/** The job keys of a round in the order they run: forward in even rounds, reversed in odd ones. */
export function roundOrder(keys, round) {
  return round % 2 === 0 ? [...keys] : [...keys].reverse();
}

const median = (xs) => {
  const s = [...xs].sort((x, y) => x - y);
  const n = s.length;
  return n === 0 ? null : n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};

/**
 * One pair over the rounds: `rates[round][key]` is a job's samples/s in that round (absent when it failed
 * or was skipped). Ratios are taken only within a round where both jobs measured.
 */
export function pairStats(rates, pair, config) {
  const ratios = [];
  for (const round of rates) {
    const a = round[pair.a];
    const b = round[pair.b];
    if (a > 0 && b > 0) ratios.push(a / b);
  }
  const goal = pair.goal[config] ?? null;
  const med = median(ratios);
  return {
    config,
    a: pair.a,
    b: pair.b,
    what: pair.what,
    goal,
    rounds: ratios.length,
    ratios,
    median: med,
    min: ratios.length ? Math.min(...ratios) : null,
    max: ratios.length ? Math.max(...ratios) : null,
    met: goal == null || med == null ? null : med >= goal,
    aMedian: median(rates.map((r) => r[pair.a]).filter((v) => v > 0)),
    bMedian: median(rates.map((r) => r[pair.b]).filter((v) => v > 0)),
  };
}

const x = (v) => (v == null ? '-' : `${v.toFixed(2)}×`);
const rate = (v) => (v == null ? '-' : v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(1));

/** The pairs as a markdown table. */
export function pairsMarkdown(doc) {
  const m = doc.machine;
  const out = [
    `Measured ${doc.startedAt.slice(0, 16).replace('T', ' ')} UTC with \`${doc.command}\` on ${m.cpuModel} (${m.cores} cores), Node ${m.node}: ${doc.rounds} rounds, each job in its own process with a ${doc.budgetSeconds} s budget, the order reversed every other round. A ratio is the median of the per-round ratios (range in brackets); the rates are each job's median over the rounds.`,
    '',
    '| config | mode | ratio | median [min, max] | rounds | goal | a samples/s | b samples/s |',
    '| --- | --- | --- | ---: | ---: | --- | ---: | ---: |',
  ];
  for (const p of doc.pairs) {
    const goal = p.goal == null ? '' : `≥ ${p.goal}×: ${p.met == null ? 'not measured' : p.met ? 'met' : 'missed'}`;
    out.push(
      `| ${p.config} | ${p.mode} | ${p.what} | ${x(p.median)} [${x(p.min)}, ${x(p.max)}] | ${p.rounds} | ${goal} | ${rate(p.aMedian)} | ${rate(p.bMedian)} |`,
    );
  }
  const skipped = [
    ...new Set(
      doc.results.filter((r) => r.status !== 'ok').map((r) => `${r.engine} ${r.variant} ${r.config} ${r.mode}: ${r.why ?? r.error}`),
    ),
  ];
  if (skipped.length) out.push('', `Not measured: ${skipped.join('; ')}.`);
  return out.join('\n');
}
