/**
 * The `cellstate` command. Errors print as `error: <message>` without a stack trace (set CELLSTATE_DEBUG=1
 * for one): exit status 2 for a mistake in the command line, 1 for anything else (data, model files,
 * backend), 130 after Ctrl-C.
 */
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CellstateError } from '../index';
import { UsageError, parse } from './args';
import { exportCommand } from './export';
import { IMDB_HELP, type Io, evaluate, packageVersion, predict, train } from './imdb';

const HELP = `Usage: cellstate <command> [options]

Commands:
  imdb train       train and evaluate a sentiment LSTM on IMDB (presets: seed, fast, strong)
  imdb evaluate    evaluate a saved model
  imdb predict     probability that a text is a positive review
  export           write a saved model as ONNX (cellstate export --model DIR --onnx out.onnx)

Options:
  --version, -v    print the version
  --help, -h       print this help

Example: cellstate imdb train --preset seed
`;

async function run(argv: string[], io: Io): Promise<number> {
  const [command, sub, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    io.out.write(HELP);
    return command === undefined ? 2 : 0;
  }
  if (command === '--version' || command === '-v') {
    io.out.write(`cellstate ${io.version}\n`);
    return 0;
  }
  if (command === 'export') return exportCommand(argv.slice(1), io);
  if (command !== 'imdb') {
    if (command.startsWith('-')) parse([command], {}, { command: '' }); // parseArgs' own wording
    throw new UsageError(`unknown command '${command}'; commands: imdb, export (see \`cellstate --help\`)`);
  }
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    io.out.write(IMDB_HELP);
    return sub === undefined ? 2 : 0;
  }
  if (sub === 'train') return train(rest, io);
  if (sub === 'evaluate') return evaluate(rest, io);
  if (sub === 'predict') return predict(rest, io);
  throw new UsageError(`unknown imdb command '${sub}'; commands: train, evaluate, predict (see \`cellstate imdb --help\`)`);
}

/**
 * Runs the command line and returns the exit status; never throws.
 * @throws never: every error becomes a message on stderr and an exit status.
 */
export async function main(argv: string[]): Promise<number> {
  const controller = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts === 1) {
      controller.abort();
      process.stderr.write('\ninterrupt: stopping after the current batch (Ctrl-C again to quit at once)\n');
    } else {
      process.exit(130);
    }
  };
  process.on('SIGINT', onSigint);
  const here = dirname(fileURLToPath(import.meta.url));
  const io: Io = {
    out: process.stdout,
    err: process.stderr,
    stdin: process.stdin,
    signal: controller.signal,
    version: packageVersion(here),
  };
  try {
    return await run(argv, io);
  } catch (e) {
    if (process.env.CELLSTATE_DEBUG === '1') process.stderr.write(`${(e as Error)?.stack ?? String(e)}\n`);
    if (e instanceof UsageError) {
      process.stderr.write(`error: ${e.message}\n`);
      return 2;
    }
    if (e instanceof CellstateError) {
      const cause = (e.cause as Error | undefined)?.message;
      process.stderr.write(`error: ${e.message}${cause && !e.message.includes(cause) ? ` (${cause})` : ''}\n`);
      return 1;
    }
    process.stderr.write(
      `error: ${(e as Error)?.message ?? String(e)} (an internal error: please report it; CELLSTATE_DEBUG=1 shows where)\n`,
    );
    return 1;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

// A closed pipe (`cellstate ... | head`) ends the command quietly, as it would a C program.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

const code = await main(process.argv.slice(2));
// Let stdout drain before exiting (a pipe may still hold the last line).
process.exitCode = code;
