// The terminal table and the README's markdown table, both with the ratio of cellstate to each peer.

const fmt = (v, d = 1) =>
  v == null || !Number.isFinite(v) ? '-' : v >= 1000 ? Math.round(v).toLocaleString('en-US') : v.toFixed(v < 10 ? 2 : d);
const mb = (b) => (b == null ? '-' : `${Math.round(b / 2 ** 20)} MB`);

function who(r) {
  const threads = r.threads ? ` ${r.threads}t` : '';
  if (r.engine === 'cellstate' && r.backend === 'wasm') {
    // Which build, and whether it ran over workers (variant wasm[-relaxed]-<N>w) or on the threads build.
    const workers = /-(\d+)w$/.exec(r.variant ?? '');
    const build = `${r.kernels === 'relaxed_simd' ? 'relaxed' : (r.kernels ?? 'simd128')}${r.variant === 'wasm-threads' ? ' threads' : ''}`;
    return `cellstate wasm ${build}${workers ? ` ${workers[1]} workers` : threads}`;
  }
  return `${r.engine} ${r.backend ?? r.variant}${threads}`;
}

/** cellstate's samples/s on the same config and mode, per backend. */
function cellstateRates(doc, config, mode) {
  const out = {};
  for (const r of doc.results) {
    if (r.engine === 'cellstate' && r.config === config && r.mode === mode && r.status === 'ok' && (r.threads ?? 1) === 1)
      out[r.variant] = r.samplesPerSecond;
  }
  return out;
}

/**
 * The measured ceiling a result's GFLOP/s is compared with, times its threads (the ceilings are one
 * thread each): cellstate's own kernel set; for a peer, the best native FMA ceiling for native CPU code,
 * SIMD128 for wasm builds; none for plain JavaScript (tfjs cpu, brain.js) or cellstate's scalar set.
 */
export function ceilingOf(doc, r) {
  const ok = Object.fromEntries(doc.ceilings.filter((c) => c.status === 'ok').map((c) => [c.kind, c.gflops]));
  const bestNative = ok['avx512-fma'] ?? ok['avx2-fma'];
  const byKernels = {
    avx512: ok['avx512-fma'],
    avx2_fma: ok['avx2-fma'],
    simd128: ok.simd128,
    relaxed_simd: ok.relaxed,
  };
  let one;
  if (r.engine === 'cellstate') one = byKernels[r.kernels];
  else if (r.engine === 'onnxruntime') one = r.variant === 'web' ? ok.simd128 : bestNative;
  else if (r.engine === 'pytorch') one = bestNative;
  else if (r.engine === 'tfjs' && r.variant !== 'cpu') one = ok.simd128;
  return one ? one * (r.threads ?? 1) : undefined;
}

/** GFLOP/s as a percentage of the result's ceiling (`ceilingOf`), or '-'. */
function pctOfCeiling(doc, r) {
  const c = ceilingOf(doc, r);
  return c && r.gflops ? `${Math.round((100 * r.gflops) / c)}%` : '-';
}

function ratio(a, b) {
  return a && b ? `${a / b >= 10 ? (a / b).toFixed(0) : (a / b).toFixed(2)}x` : '-';
}

function rowsOf(doc) {
  const groups = [];
  for (const config of [...new Set(doc.results.map((r) => r.config))]) {
    for (const mode of ['train', 'infer']) {
      const rows = doc.results.filter((r) => r.config === config && r.mode === mode);
      if (rows.length) groups.push({ config, mode, rows, cs: cellstateRates(doc, config, mode) });
    }
  }
  return groups;
}

function pad(cells, widths) {
  return cells.map((c, i) => (i < 2 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ');
}

export function report(doc) {
  const m = doc.machine;
  const lines = [
    '',
    `cellstate bench ${doc.quick ? '(quick) ' : ''}${doc.startedAt.slice(0, 16).replace('T', ' ')} UTC`,
    `machine: ${m.cpuModel}, ${m.cores} cores [${m.cpuFeatures.join(' ')}], ${Math.round(m.memoryBytes / 2 ** 30)} GiB, ${m.os}; node ${m.node}`,
    `ceilings (1 thread): ${doc.ceilings.map((c) => `${c.kind} ${c.status === 'ok' ? `${fmt(c.gflops)} GFLOP/s` : c.status}`).join(', ')}`,
    `FLOPs: forward ${doc.flops.forward}; train ${doc.flops.train}`,
  ];
  const head = [
    'engine / backend / threads',
    'kernels',
    'batch',
    'samples/s',
    'spread',
    'GFLOP/s',
    '% ceiling',
    'peak RSS',
    'check',
    'native/this',
    'wasm/this',
  ];
  for (const g of rowsOf(doc)) {
    lines.push(
      '',
      `== ${g.config} ${g.mode}${g.config !== 'imdb' ? ` (${JSON.stringify(doc.configs[g.config] ?? {}).replace(/"/g, '')})` : ''}`,
    );
    const table = [head];
    const notes = [];
    for (const r of g.rows) {
      if (r.status === 'ok') {
        const isCs = r.engine === 'cellstate';
        table.push([
          who(r),
          r.kernels ?? '-',
          r.batch ?? '-',
          fmt(r.samplesPerSecond),
          r.secondsPerStep?.spread != null ? `${Math.round(r.secondsPerStep.spread * 100)}%` : r.cold ? 'cold' : '-',
          fmt(r.gflops),
          pctOfCeiling(doc, r),
          mb(r.peakRssBytes),
          r.check?.status ?? '-',
          isCs ? '' : ratio(g.cs.native, r.samplesPerSecond),
          isCs ? '' : ratio(g.cs.wasm, r.samplesPerSecond),
        ]);
        if (r.label) notes.push(`${who(r)}: ${r.label}${r.notes ? `; ${r.notes.join('; ')}` : ''}${r.source ? `; ${r.source}` : ''}`);
      } else if (r.status !== 'reference') {
        notes.push(`${who(r)}: ${r.status.toUpperCase()}: ${r.why ?? r.error}`);
      }
    }
    const widths = head.map((_, i) => Math.max(...table.map((row) => String(row[i]).length)));
    for (const row of table) lines.push(pad(row, widths));
    for (const n of [...new Set(notes)]) lines.push(`  - ${n}`);
  }
  lines.push(
    '',
    'native/this, wasm/this: cellstate (native addon, wasm) samples/s at 1 thread divided by the row\'s. Every "train" row is',
    "a full step (forward, Dense(1) head, loss, backward, Adam); cellstate's is one core call per batch (model.trainBatch).",
    '',
  );
  return `${lines.join('\n')}\n`;
}

/** The latest results as markdown for the READMEs. */
export function markdownTable(doc, chartPath) {
  const m = doc.machine;
  const out = [
    `Measured ${doc.startedAt.slice(0, 10)} with \`${doc.command}\` on ${m.cpuModel} (${m.cores} cores, ${m.cpuFeatures.filter((f) => /avx2|avx512f$|fma|neon/.test(f)).join(', ')}), ${m.os}, Node ${m.node}, one shared, busy machine: medians of noisy timings.`,
    `Samples per second (higher is better); **cs native ÷** and **cs wasm ÷** are cellstate's rate over the peer's. The ratios use cellstate at 1 thread; its rows at all cores are listed too. Every *train* row is a full step (forward, Dense(1) head, loss, backward, Adam); cellstate's is one core call per batch (\`model.trainBatch\`, one-hot input as a row gather). *infer* is the LSTM forward on the same dense input for every engine. **% ceiling** is GFLOP/s over the measured FMA ceiling of the row's kernel set times its threads (cellstate: its own set; ONNX Runtime node and PyTorch: the best native one; wasm peers: SIMD128; none for plain JS); seed *train* is nominal (one-hot counted as dense, cellstate gathers). Ceilings (1 thread): ${doc.ceilings.map((c) => `${c.kind} ${c.status === 'ok' ? `${fmt(c.gflops)} GFLOP/s` : c.status}`).join(', ')}.`,
    '',
    '| config | mode | engine (backend, threads) | samples/s | GFLOP/s | % ceiling | cs native ÷ | cs wasm ÷ | note |',
    '| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |',
  ];
  for (const g of rowsOf(doc)) {
    for (const r of g.rows) {
      if (r.status === 'ok') {
        const isCs = r.engine === 'cellstate';
        const note = [
          r.engine === 'brain' ? 'one sequence at a time, RMSProp' : '',
          r.cold ? 'single cold step' : '',
          ...(r.notes ?? []),
          r.config === 'imdb' ? `${r.reviews} reviews in ${fmt(r.seconds)} s; ${r.source?.split(' (')[0] ?? ''}` : '',
        ]
          .filter(Boolean)
          .join('; ');
        out.push(
          `| ${g.config} | ${g.mode} | ${who(r)} | ${fmt(r.samplesPerSecond)} | ${fmt(r.gflops)} | ${pctOfCeiling(doc, r)} | ${isCs ? '' : ratio(g.cs.native, r.samplesPerSecond)} | ${isCs ? '' : ratio(g.cs.wasm, r.samplesPerSecond)} | ${note} |`,
        );
      } else if (r.status === 'failed') {
        out.push(`| ${g.config} | ${g.mode} | ${who(r)} | failed | | | | | ${String(r.error).slice(0, 90).replace(/\|/g, '/')} |`);
      }
    }
  }
  const skipped = [...new Set(doc.results.filter((r) => r.status === 'skipped').map((r) => `${r.engine} ${r.variant}: ${r.why}`))];
  if (skipped.length) out.push('', `Not measured: ${skipped.join('; ')}.`);
  if (chartPath) out.push('', `![samples/s per config](${chartPath})`);
  return out.join('\n');
}
