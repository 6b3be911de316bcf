/** Median, min, max and relative spread ((max - min) / median) of a list of times. */
export function summarize(times) {
  const s = [...times].sort((a, b) => a - b);
  const n = s.length;
  const median = n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  return { median, min: s[0], max: s[n - 1], spread: n > 1 ? (s[n - 1] - s[0]) / median : null, n };
}

/** Largest |a - b| / (atol + rtol |b|) over two arrays, with the index where it happens. */
export function compare(a, b, atol, rtol) {
  if (a.length !== b.length) return { ok: false, why: `length ${a.length} vs ${b.length}` };
  let worst = 0;
  let at = -1;
  let maxAbs = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= atol + rtol * Math.abs(b[i])) && !(d / (atol + rtol * Math.abs(b[i])) <= worst)) {
      worst = Number.isFinite(d) ? d / (atol + rtol * Math.abs(b[i])) : Infinity;
      at = i;
    }
    if (d > maxAbs || Number.isNaN(d)) maxAbs = Number.isNaN(d) ? NaN : d;
  }
  return at < 0 ? { ok: true, maxAbs } : { ok: false, maxAbs, why: `index ${at}: ${a[at]} vs reference ${b[at]} (max |diff| ${maxAbs})` };
}
