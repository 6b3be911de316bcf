// Chart.js, registered with only the pieces these pages draw (line and bar charts, linear, logarithmic and
// category axes, legend, tooltip), so the bundle carries no more of it than that.
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LineController,
  LineElement,
  LinearScale,
  LogarithmicScale,
  PointElement,
  type Scale,
  Tooltip,
} from 'chart.js';

Chart.register(
  LineController,
  LineElement,
  PointElement,
  BarController,
  BarElement,
  LinearScale,
  LogarithmicScale,
  CategoryScale,
  Legend,
  Tooltip,
);
Chart.defaults.font.family = getComputedStyle(document.documentElement).fontFamily;
Chart.defaults.animation = false;

export { Chart };

/** Redraws at most once per frame, however often data arrives (per-batch logs come faster than frames). */
export function frameUpdater(chart: Chart): () => void {
  let queued = false;
  return () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      chart.update('none');
    });
  };
}

/** Log-axis labels at powers of ten only (the default labels crowd at the top of each decade). */
export function decades(v: number | string): string {
  const n = Number(v);
  return Math.abs(Math.log10(n) - Math.round(Math.log10(n))) < 1e-9 ? n.toLocaleString('en') : '';
}

/** Characters per line of a side axis's labels: Chart.js gives that axis at most half the chart and cuts the rest. */
export function labelChars(chartWidth: number): number {
  return chartWidth < 560 ? 18 : 44;
}

/** `label` (a string, or lines) in lines of at most `max` characters, broken at spaces (a longer word keeps its line). */
export function wrapLabel(label: string | string[], max: number): string[] {
  const out: string[] = [];
  for (const line of Array.isArray(label) ? label : [label]) {
    let cur = '';
    for (const word of line.split(' ')) {
      if (cur && cur.length + 1 + word.length > max) {
        out.push(cur);
        cur = word;
      } else cur = cur ? `${cur} ${word}` : word;
    }
    out.push(cur);
  }
  return out;
}

/** A category axis's tick callback: its labels wrapped to the chart's width (two or three lines on a phone). */
export function wrappedTicks(this: Scale, value: number | string): string[] {
  // A category scale's label may be lines (string[]); Chart.js types it as a string.
  const label = (this.chart.data.labels ?? [])[Number(value)] as string | string[] | undefined;
  return wrapLabel(label ?? '', labelChars(this.chart.width));
}

/**
 * The height (px) a horizontal bar chart needs so that no wrapped label overlaps the next: each category gets
 * `barPx` or the most lines a label has at 15 px (11 px type) and a gap, whichever is more, plus the value
 * axis's ticks and title (about 110 px).
 */
export function barChartHeight(labels: (string | string[])[], barPx: number, width: number): number {
  // Chart.js gives every category the same band, so the label with the most lines sets them all.
  const chars = labelChars(width);
  const lines = Math.max(1, ...labels.map((l) => wrapLabel(l, chars).length));
  return Math.max(320, 110 + labels.length * Math.max(barPx, lines * 15 + 8));
}
