/**
 * The browser entry (ts/data/index.ts) must not reach Node built-ins: walk its import graph and check
 * every import is relative or fflate, and that no file of it uses Node's globals.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

const entry = fileURLToPath(new URL('../../ts/data/index.ts', import.meta.url));

test('ts/data/index.ts imports only relative modules and fflate, and uses no Node globals', () => {
  const seen = new Set<string>();
  const external = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const src = readFileSync(file, 'utf8');
    for (const m of src.matchAll(/(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]/g)) {
      const spec = m[1];
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec.replace(/\.js$/, '') + '.ts'));
      else external.add(spec);
    }
    expect(src, file).not.toMatch(/\bprocess\.|\bBuffer\b|\brequire\(/);
  };
  visit(entry);
  expect([...external]).toEqual(['fflate']);
  expect(seen.size).toBeGreaterThan(5);
  expect([...seen].some((f) => f.endsWith('node.ts'))).toBe(false);
});
