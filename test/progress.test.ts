/** The CLI's duration format: rounded once, so a minute never shows 60 seconds. */
import { describe, expect, it } from 'vitest';
import { fmtSeconds } from '../ts/progress';

describe('fmtSeconds', () => {
  it.each([
    [3.14, '3.1s'],
    [9.94, '9.9s'],
    [9.96, '10s'],
    [42.4, '42s'],
    [59.4, '59s'],
    [59.6, '1m 00s'],
    [65, '1m 05s'],
    // A 12-minute training run printed "11m 60s" before the fix.
    [719.6, '12m 00s'],
    [3599.5, '60m 00s'],
    [Number.NaN, '?'],
  ])('%s s → %s', (s, text) => {
    expect(fmtSeconds(s)).toBe(text);
  });
});
