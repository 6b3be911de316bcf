// The chart: samples/s per config, one horizontal bar per engine, log scale (rates span five orders of
// magnitude). Written as plain SVG text: a few dozen rectangles need no chart library, and this keeps the
// benchmark free of a DOM or canvas dependency and the output byte-for-byte reproducible.

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const COLORS = { cellstate: '#d9480f', tfjs: '#1c7ed6', onnxruntime: '#2b8a3e', brain: '#7048e8', pytorch: '#e64980' };

export function chartSvg(doc) {
  const groups = [];
  for (const config of [...new Set(doc.results.map((r) => r.config))]) {
    for (const mode of ['train', 'infer']) {
      const rows = doc.results.filter((r) => r.config === config && r.mode === mode && r.status === 'ok');
      if (rows.length) groups.push({ title: `${config} ${mode}`, rows: rows.sort((a, b) => b.samplesPerSecond - a.samplesPerSecond) });
    }
  }
  const all = groups.flatMap((g) => g.rows.map((r) => r.samplesPerSecond));
  const lo = 10 ** Math.floor(Math.log10(Math.min(...all, 1)));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...all, 10)));
  const W = 900;
  const left = 300;
  const right = 90;
  const barH = 16;
  const x = (v) => left + ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * (W - left - right);
  const parts = [];
  let y = 50;
  for (const g of groups) {
    parts.push(`<text x="10" y="${y + 12}" font-weight="bold">${esc(g.title)}</text>`);
    y += 22;
    for (const r of g.rows) {
      const label = `${r.engine} ${r.backend ?? r.variant}${r.threads ? ` ${r.threads}t` : ''}`;
      parts.push(`<text x="${left - 6}" y="${y + 12}" text-anchor="end">${esc(label)}</text>`);
      parts.push(
        `<rect x="${left}" y="${y}" width="${Math.max(1, x(r.samplesPerSecond) - left).toFixed(1)}" height="${barH}" fill="${COLORS[r.engine] ?? '#868e96'}"/>`,
      );
      parts.push(
        `<text x="${(x(r.samplesPerSecond) + 4).toFixed(1)}" y="${y + 12}">${esc(r.samplesPerSecond >= 100 ? Math.round(r.samplesPerSecond) : r.samplesPerSecond.toPrecision(3))}</text>`,
      );
      y += barH + 4;
    }
    y += 12;
  }
  const axis = [];
  for (let v = lo; v <= hi; v *= 10) {
    axis.push(`<line x1="${x(v).toFixed(1)}" y1="40" x2="${x(v).toFixed(1)}" y2="${y}" stroke="#dee2e6"/>`);
    axis.push(`<text x="${x(v).toFixed(1)}" y="36" text-anchor="middle" fill="#495057">${v >= 1 ? v.toLocaleString('en-US') : v}</text>`);
  }
  const m = doc.machine;
  const title = `cellstate vs peers, samples/s (log scale), ${doc.startedAt.slice(0, 10)}, ${m.cpuModel}, ${m.cores} cores, node ${m.node}`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${y + 10}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="10" y="18" font-size="13">${esc(title)}</text>
${axis.join('\n')}
${parts.join('\n')}
</svg>
`;
}
