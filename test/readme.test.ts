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
// Each command as the README writes it after `cellstate `, and the argv that prints its help.
const commands = {
  'imdb train': ['imdb', 'train'],
  'imdb evaluate': ['imdb', 'evaluate'],
  'imdb predict': ['imdb', 'predict'],
  export: ['export'],
} as const;
type Command = keyof typeof commands;

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
    ...Object.fromEntries(Object.entries(commands).map(([c, argv]) => [c, new Set([...flags(help([...argv])), '--help'])])),
  } as Record<'top' | Command, Set<string>>;
  const all = new Set([...Object.values(cli)].flatMap((s) => [...s]));
  const section = readmeSection();

  it('reads real help texts (so the checks below compare something)', () => {
    // At the time of writing train lists 37 flags; evaluate and predict --model; the top level --version.
    expect(cli['imdb train'].size).toBeGreaterThan(25);
    for (const f of ['--epochs', '--threads', '--no-mask', '--save', '--json']) expect(cli['imdb train']).toContain(f);
    expect(cli['imdb evaluate']).toContain('--model');
    expect(cli['imdb predict']).toContain('--model');
    expect(cli.export).toContain('--onnx');
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
      const command = (Object.keys(commands) as Command[]).find((c) => line === `cellstate ${c}` || line.startsWith(`cellstate ${c} `));
      if (!command) {
        bad.push(
          `${line}: not one of ${Object.keys(commands)
            .map((c) => `cellstate ${c}`)
            .join(', ')}`,
        );
        continue;
      }
      for (const f of flags(line.slice(`cellstate ${command}`.length))) if (!cli[command].has(f)) bad.push(`${line}: ${f}`);
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
