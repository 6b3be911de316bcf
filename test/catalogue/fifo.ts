/** Node has no mkfifo(3): the coreutils command makes one (Linux and macOS). */
import { execFileSync } from 'node:child_process';

export function mkfifoSync(path: string): void {
  execFileSync('mkfifo', [path]);
}
