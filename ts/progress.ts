/**
 * Progress of a long loop, the one progress bar of cellstate (training and test passes in the CLI, the
 * IMDB download). Hand-rolled rather than a dependency (cli-progress 3.12 was considered): the two modes
 * needed are ~60 lines, and it adds nothing to the package's one runtime dependency.
 * On a TTY: one line redrawn in place at most 10 times a second. Otherwise (logs, pipes): a plain line when
 * one is due (every `everySeconds`, or whenever `logStep` moves on), so a log never goes quiet for long and
 * never fills with carriage returns. What a line says is the caller's.
 */

/** Where progress and messages are written (a stream, or anything with `write`). */
export interface Out {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/**
 * `1,234`.
 * @throws never.
 */
export const fmtInt = (n: number) => Math.round(n).toLocaleString('en-US');

/**
 * `1m 05s`, `42s`, `3.1s`.
 * @throws never.
 */
export function fmtSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 9.95) return `${s.toFixed(1)}s`;
  // Rounded once, then split: 719.6 s is 12m 00s, never 11m 60s.
  const r = Math.round(s);
  if (r < 60) return `${r}s`;
  return `${Math.floor(r / 60)}m ${String(r % 60).padStart(2, '0')}s`;
}

/**
 * A bar `[#####.....]` of `width` cells, `fraction` (0..1) of them filled.
 * @throws never.
 */
export function bar(fraction: number, width: number): string {
  const fill = Math.max(0, Math.min(width, Math.floor(fraction * width)));
  return `[${'#'.repeat(fill).padEnd(width, '.')}]`;
}

/** Options of {@link Progress}. */
export interface ProgressOptions {
  /** In logs: a line at most this often, the first one after this long too (default 3 s); the final one is left to the caller's summary. */
  everySeconds?: number;
  /** In logs instead: a line whenever this key of `done` changes (e.g. the tenth reached), the first report and the final one included. */
  logStep?: (done: number) => number;
}

/**
 * A progress line over `total` steps on `out` (see the module comment for the two modes).
 * @throws never (writes go to the caller's stream).
 */
export class Progress {
  readonly #out: Out;
  readonly #total: number | null;
  readonly #every: number;
  readonly #logStep: ((done: number) => number) | null;
  readonly #start = performance.now();
  #last = 0;
  #lastStep: number | null = null;
  #drawn = false;

  /** @param total the number of steps, or null when unknown (no final step then). */
  constructor(out: Out, total: number | null, { everySeconds = 3, logStep }: ProgressOptions = {}) {
    this.#out = out;
    this.#total = total;
    this.#every = everySeconds * 1000;
    this.#logStep = logStep ?? null;
    // In logs the first timed line comes after `everySeconds` too: short loops then print only their summary.
    if (!this.isTTY) this.#last = performance.now();
  }

  /** Whether lines are redrawn in place. */
  get isTTY(): boolean {
    return this.#out.isTTY === true;
  }

  /** Seconds since the start. */
  elapsed(): number {
    return (performance.now() - this.#start) / 1000;
  }

  /** Seconds left at the rate so far (Infinity before the first step or without a total). */
  eta(done: number): number {
    if (this.#total === null || done <= 0) return Infinity;
    return (this.elapsed() * (this.#total - done)) / done;
  }

  /** Reports `done` steps; `line(tty)` makes the text when a line is due. */
  update(done: number, line: (tty: boolean) => string): void {
    const now = performance.now();
    const final = this.#total !== null && done >= this.#total;
    if (this.isTTY) {
      if (!final && now - this.#last < 100) return; // at most 10 redraws a second
      this.#last = now;
      this.#draw(line(true));
    } else if (this.#logStep) {
      const step = this.#logStep(done);
      if (step === this.#lastStep) return;
      this.#lastStep = step;
      this.#out.write(`${line(false)}\n`);
    } else {
      // The final line would repeat the summary that follows it.
      if (final || now - this.#last < this.#every) return;
      this.#last = now;
      this.#out.write(`${line(false)}\n`);
    }
  }

  /** Writes the last line and ends it: kept on a TTY, printed in logs. */
  finish(text: string): void {
    if (this.isTTY) {
      this.#draw(text);
      this.#out.write('\n');
      this.#drawn = false;
    } else {
      this.#out.write(`${text}\n`);
    }
  }

  /** Removes a TTY line so the next one starts clean. */
  clear(): void {
    if (this.#drawn) this.#out.write('\r\x1b[2K');
    this.#drawn = false;
  }

  #draw(text: string): void {
    const cols = this.#out.columns ?? 120;
    this.#out.write(`\x1b[2K\r${text.length > cols - 1 ? text.slice(0, cols - 1) : text}`);
    this.#drawn = true;
  }
}
