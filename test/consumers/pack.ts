/**
 * Helpers of the consumer tests: the package packed once per test file, and npm / node commands run with
 * their output kept for the failure message. Needs `bash scripts/build` (dist/) first.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../helpers';

/** Runs `cmd` in `cwd`; throws with its stdout and stderr. */
export function run(cmd: string, args: string[], cwd: string, timeout = 120_000, env: NodeJS.ProcessEnv = process.env): string {
  try {
    return execFileSync(cmd, args, { cwd, encoding: 'utf8', timeout, env, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed in ${cwd}:\n${err.stdout ?? ''}\n${err.stderr ?? err.message}`, { cause: e });
  }
}

/** The same, without blocking the event loop (for long installs and builds beside a server). */
export function runAsync(cmd: string, args: string[], cwd: string, timeout = 180_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, encoding: 'utf8', timeout, maxBuffer: 64 << 20 }, (e, stdout, stderr) => {
      if (e) reject(new Error(`${cmd} ${args.join(' ')} failed in ${cwd}:\n${stdout}\n${stderr || e.message}`, { cause: e }));
      else resolve(stdout);
    });
  });
}

/** `npm pack` of the repo into a fresh temp folder: the tarball's path and the folder. */
export function packRepo(prefix: string): { work: string; tarball: string } {
  const work = realpathSync(mkdtempSync(join(tmpdir(), prefix)));
  // No prepack/prepare script exists, so this packs dist/ as built, without invoking cargo.
  const [info] = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', work], repoRoot)) as { filename: string }[];
  return { work, tarball: join(work, info.filename) };
}

/** A folder with a package.json and `deps` installed from the registry (npm's cache makes reruns quick). */
export function makeProject(dir: string, deps: string[], extra: Record<string, unknown> = {}): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module', ...extra }, null, 2));
  run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...deps], dir, 300_000);
}
