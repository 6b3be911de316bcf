/**
 * The README's "Command line" section agrees with the CLI as built: every `cellstate ...` example uses a
 * command and flags that command's `--help` lists, every `--flag` the section names is one the CLI lists,
 * and every flag the CLI lists is named in the section. The CLI side is read from `node dist/cli.js ...
 * --help` (needs `bash scripts/build`), not from ts/cli's modules, so it holds whatever the help is made from.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './helpers';

const cliPath = join(repoRoot, 'dist/cli.js');
const commands = ['train', 'evaluate', 'predict'] as const;

function help(args: string[]): string {
  return execFileSync(process.execPath, [cliPath, ...args, '--help'], { encoding: 'utf8' });
}

/** Long flags in a text, `--[no-]mask` as both `--mask` and `--no-mask`. */
function flags(text: string): Set<string> {
  const out = new Set<string>();
  for (const m of text.matchAll(/(?<![\w-])--(\[no-\])?([a-z][a-z0-9]*(?:-[a-z0-9]+)*)/g)) {
    out.add(`--${m[2]}`);
    if (m[1]) out.add(`--no-${m[2]}`);
  }
  return out;
}

/** The README from `## Command line` to the next `## ` heading. */
function readmeSection(): string {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const start = readme.indexOf('\n## Command line\n');
  expect(start, 'README.md has a "## Command line" section').toBeGreaterThanOrEqual(0);
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end < 0 ? undefined : end);
}

/** `cellstate ...` lines of the section's code blocks, comments cut. */
function examples(section: string): string[] {
  const out: string[] = [];
  for (const block of section.matchAll(/```[a-z]*\n([\s\S]*?)```/g)) {
    for (const line of block[1].split('\n')) {
      const cmd = line.replace(/\s+#.*$/, '').trim();
      if (cmd.startsWith('cellstate ')) out.push(cmd);
    }
  }
  return out;
}

describe("the README's command line section", () => {
  // `--help` is accepted by every command: help() itself has just run each one with it.
  const cli = {
    top: flags(help([])),
    ...Object.fromEntries(commands.map((c) => [c, new Set([...flags(help(['imdb', c])), '--help'])])),
  } as Record<'top' | (typeof commands)[number], Set<string>>;
  const all = new Set([...Object.values(cli)].flatMap((s) => [...s]));
  const section = readmeSection();

  it('reads real help texts (so the checks below compare something)', () => {
    // At the time of writing train lists 37 flags; evaluate and predict --model; the top level --version.
    expect(cli.train.size).toBeGreaterThan(25);
    for (const f of ['--epochs', '--threads', '--no-mask', '--save', '--json']) expect(cli.train).toContain(f);
    expect(cli.evaluate).toContain('--model');
    expect(cli.predict).toContain('--model');
    expect(cli.top).toContain('--version');
  });

  it('uses in each example only a command and flags that command lists', () => {
    const lines = examples(section);
    expect(lines.length).toBeGreaterThanOrEqual(4);
    const bad: string[] = [];
    for (const line of lines) {
      if (/^cellstate --/.test(line)) {
        for (const f of flags(line)) if (!cli.top.has(f)) bad.push(`${line}: ${f}`);
        continue;
      }
      const m = /^cellstate imdb (\w+)\b(.*)$/.exec(line);
      if (!m || !(commands as readonly string[]).includes(m[1])) {
        bad.push(`${line}: not one of cellstate imdb ${commands.join('|')}`);
        continue;
      }
      for (const f of flags(m[2])) if (!cli[m[1] as (typeof commands)[number]].has(f)) bad.push(`${line}: ${f}`);
    }
    expect(bad).toEqual([]);
  });

  it('names only flags the CLI lists', () => {
    expect([...flags(section)].filter((f) => !all.has(f)).sort()).toEqual([]);
  });

  it('names every flag the CLI lists', () => {
    const named = flags(section);
    expect([...all].filter((f) => !named.has(f)).sort()).toEqual([]);
  });
});
