/**
 * Progress of a long loop. Hand-rolled rather than a dependency (cli-progress 3.12 was considered): the
 * two modes needed here are ~40 lines, and it adds nothing to the package's one runtime dependency.
 * On a TTY: one line redrawn in place at most 10 times a second. Otherwise (logs, pipes): a plain line
 * every `everySeconds`, so a log never goes quiet for long and never fills with carriage returns.
 */

export interface Out {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** `1,234`. */
export const fmtInt = (n: number) => Math.round(n).toLocaleString('en-US');

/** `1m 05s`, `42s`, `3.1s`. */
export function fmtSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 10) return `${s.toFixed(1)}s`;
  if (s < 60) return `${Math.round(s)}s`;
  const m = Math.floor(s / 60);
  return `${m}m ${String(Math.round(s - m * 60)).padStart(2, '0')}s`;
}

export class Progress {
  #out: Out;
  #label: string;
  #total: number;
  #every: number;
  #start = performance.now();
  #last = 0;
  #drawn = false;

  constructor(out: Out, label: string, total: number, { everySeconds = 3 }: { everySeconds?: number } = {}) {
    this.#out = out;
    this.#label = label;
    this.#total = total;
    this.#every = everySeconds * 1000;
    // In logs the first line comes after `everySeconds` too: short loops then print only their summary.
    if (!out.isTTY) this.#last = performance.now();
  }

  /** Reports `done` of `total` steps; `info` is appended (e.g. `loss 0.69 acc 0.51 17,000 samples/s`). */
  update(done: number, info: string): void {
    const now = performance.now();
    const tty = this.#out.isTTY === true;
    const final = done >= this.#total;
    // In logs the final line would repeat the summary that follows it.
    if (!tty && final) return;
    if (!final && now - this.#last < (tty ? 100 : this.#every)) return;
    this.#last = now;
    const elapsed = (now - this.#start) / 1000;
    const eta = done > 0 ? (elapsed * (this.#total - done)) / done : Infinity;
    const pct = this.#total > 0 ? done / this.#total : 1;
    const count = `${String(done).padStart(String(this.#total).length)}/${this.#total}`;
    const time = final ? fmtSeconds(elapsed) : `ETA ${fmtSeconds(eta)}`;
    if (tty) {
      const width = 24;
      const fill = Math.round(pct * width);
      let line = `${this.#label} [${'='.repeat(fill)}${fill < width ? '>' : ''}${' '.repeat(Math.max(0, width - fill - 1))}] ${count} ${info} ${time}`;
      const cols = this.#out.columns ?? 120;
      if (line.length > cols - 1) line = line.slice(0, cols - 1);
      this.#out.write(`\r\x1b[2K${line}`);
      this.#drawn = true;
    } else {
      this.#out.write(`${this.#label} ${count} (${Math.floor(pct * 100)}%) ${info} ${time}\n`);
    }
  }

  /** Removes a TTY bar so the next line starts clean. */
  clear(): void {
    if (this.#drawn) this.#out.write('\r\x1b[2K');
    this.#drawn = false;
  }
}
