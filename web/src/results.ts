// The results viewer: several cellstate-bench documents (Node and browser) as columns of one table and
// series of one chart. Rows are (config, mode, engine, variant, threads); a cell is samples/s, or why not.
import { Chart, barChartHeight, decades, frameUpdater, wrappedTicks } from './charts';
import { type BenchDocument, validateBenchDocument } from './schema';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const base = new URL('./', document.baseURI);
interface Loaded {
  name: string;
  doc: BenchDocument;
}
const loaded: Loaded[] = [];
const palette = ['#2f5bd3', '#e8912d', '#1a8f4c', '#8a5cd1', '#c8372d', '#2aa3b8', '#7d6b4f'];

function label(l: Loaded): string {
  const d = l.doc;
  const who = d.runtime.name === 'browser' ? String(d.runtime.version) : `node ${d.runtime.version}`;
  const cpu = (d.machine.cpuModel as string | null) ?? `${d.machine.cores ?? '?'} cores`;
  return `${who} · ${cpu.replace(/\(R\)|\(TM\)|Processor|CPU/g, '').trim()} · ${d.startedAt.slice(0, 10)}${d.quick ? ' (quick)' : ''}`;
}

const rowKey = (r: Record<string, unknown>) => `${r.config}|${r.mode}|${r.engine}|${r.variant}|${r.threads ?? ''}`;

const chart = new Chart<'bar', (number | null)[], string>($<HTMLCanvasElement>('chart'), {
  type: 'bar',
  data: { labels: [], datasets: [] },
  options: {
    indexAxis: 'y',
    maintainAspectRatio: false,
    scales: {
      x: { type: 'logarithmic', title: { display: true, text: 'samples/s' }, ticks: { callback: decades } },
      y: { ticks: { autoSkip: false, font: { size: 11 }, callback: wrappedTicks } },
    },
    plugins: { legend: { position: 'top', labels: { boxWidth: 12 } } },
  },
});
const redraw = frameUpdater(chart);

function render(): void {
  const mode = document.querySelector<HTMLInputElement>('input[name=mode]:checked')!.value;
  const keys: string[] = [];
  const cells = loaded.map((l) => {
    const m = new Map<string, Record<string, unknown>>();
    for (const r of l.doc.results) {
      if (mode !== 'all' && r.mode !== mode) continue;
      const k = rowKey(r);
      // A job repeated at another batch (tfjs wasm on large) keeps its measured entry.
      if (!m.has(k) || r.status === 'ok') m.set(k, r);
      if (!keys.includes(k)) keys.push(k);
    }
    return m;
  });
  const table = $('table');
  const head = document.createElement('tr');
  for (const h of ['config', 'mode', 'engine (variant, threads)', ...loaded.map(label)])
    head.append(Object.assign(document.createElement('th'), { textContent: h }));
  const thead = document.createElement('thead');
  thead.append(head);
  const tbody = document.createElement('tbody');
  for (const k of keys) {
    const [config, m, engine, variant, threads] = k.split('|');
    const tr = tbody.insertRow();
    for (const v of [config, m, `${engine} ${variant}${threads ? ` ${threads}t` : ''}`]) tr.insertCell().textContent = v;
    tr.cells[2].className = 'name';
    for (const c of cells) {
      const r = c.get(k);
      const td = tr.insertCell();
      if (!r) td.textContent = '';
      else if (r.status === 'ok') {
        const v = r.samplesPerSecond as number;
        td.textContent = v >= 100 ? Math.round(v).toLocaleString('en') : v >= 10 ? v.toFixed(1) : v.toFixed(2);
      } else {
        td.textContent = String(r.status);
        td.title = String(r.why ?? r.error ?? '');
        td.className = 'hint';
      }
    }
  }
  table.replaceChildren(thead, tbody);
  const measured = keys.filter((k) => cells.some((c) => c.get(k)?.status === 'ok'));
  chart.data.labels = measured.map((k) =>
    k
      .split('|')
      .filter(Boolean)
      .join(' ')
      .replace(/ (\d+)$/, ' $1t'),
  );
  chart.data.datasets = loaded.map((l, i) => ({
    label: label(l),
    data: measured.map((k) => {
      const r = cells[i].get(k);
      return r?.status === 'ok' ? (r.samplesPerSecond as number) : null;
    }),
    backgroundColor: palette[i % palette.length],
  }));
  fitChart();
  chart.resize();
  redraw();
}

function add(name: string, text: string): string | null {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    return `${name}: not JSON (${(e as Error).message})`;
  }
  const errors = validateBenchDocument(doc);
  if (errors.length) return `${name}: not a valid cellstate-bench v1 file: ${errors.slice(0, 3).join('; ')}`;
  loaded.push({ name, doc: doc as BenchDocument });
  render();
  return null;
}

function status(text: string, error = false): void {
  $('status').textContent = text;
  $('status').className = `status${error ? ' error' : ''}`;
}

async function repoFile(name: string, on: boolean): Promise<void> {
  const i = loaded.findIndex((l) => l.name === name);
  if (!on) {
    if (i >= 0) loaded.splice(i, 1);
    render();
    return;
  }
  const problem = add(name, await (await fetch(new URL(`results/${name}`, base))).text());
  status(problem ?? `${loaded.length} file${loaded.length === 1 ? '' : 's'} loaded.`, problem !== null);
}

$<HTMLInputElement>('files').addEventListener('change', async (e) => {
  const input = e.target as HTMLInputElement;
  const problems: string[] = [];
  for (const f of input.files ?? []) {
    const p = add(f.name, await f.text());
    if (p) problems.push(p);
  }
  input.value = '';
  status(problems.length ? problems.join(' | ') : `${loaded.length} file${loaded.length === 1 ? '' : 's'} loaded.`, problems.length > 0);
});
$('clear').addEventListener('click', () => {
  loaded.length = 0;
  for (const c of $('repo-files').querySelectorAll('input')) c.checked = false;
  render();
  status(' ');
});
for (const r of document.querySelectorAll<HTMLInputElement>('input[name=mode]')) r.addEventListener('change', render);

async function start(): Promise<void> {
  const names = (await (await fetch(new URL('results/index.json', base))).json()) as string[];
  $('repo-files').replaceChildren(
    ...names.map((n) => {
      const l = document.createElement('label');
      const c = Object.assign(document.createElement('input'), { type: 'checkbox', value: n });
      c.addEventListener('change', () => void repoFile(n, c.checked));
      l.append(c, ` ${n}`);
      return l;
    }),
  );
  // The newest full Node run is shown from the start, so the page is never empty: the latest date's plain file
  // (names start with the date; its `_repeat` or `_cellstate-rerun` companions are longer and sort before it).
  const shown = [...names].sort((a, b) => a.slice(0, 10).localeCompare(b.slice(0, 10)) || b.length - a.length).at(-1);
  const newest = [...$('repo-files').querySelectorAll<HTMLInputElement>('input')].find((c) => c.value === shown);
  if (newest) {
    newest.checked = true;
    await repoFile(newest.value, true);
  }
  render();
  document.documentElement.dataset.ready = 'true';
}
void start();

/** The chart's height for its rows, bars per row and this width (labels wrap on a phone and need the room). */
function fitChart(): void {
  const box = $('chart').parentElement!;
  box.style.height = `${barChartHeight(chart.data.labels ?? [], Math.max(1, chart.data.datasets.length) * 9, box.clientWidth)}px`;
}
addEventListener('resize', fitChart);
