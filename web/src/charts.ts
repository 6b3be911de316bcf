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
