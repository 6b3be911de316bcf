/**
 * Command-line parsing on `node:util` parseArgs (strict: unknown flags are errors), typed flag values, and
 * flag tables: each flag is written once (name, type, value, default, description) and both the parser's
 * options and the help text come from the table.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

/**
 * A mistake in the command line: printed as `error: <message>`, exit status 2.
 * @throws never (an error class).
 */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;
export type Values = Record<string, string | boolean | undefined>;

/** One flag of a command. */
export interface Flag {
  /** 'string' takes a value (`--epochs 3`); 'boolean' is a switch. */
  type: 'string' | 'boolean';
  /** The value's placeholder in the help (`N`, `X`, `DIR`, `pre|post`). */
  value?: string;
  /** `--[no-]name`: `--no-name` turns it off (see {@link switchFlag}). */
  negatable?: boolean;
  short?: string;
  /** The default, as the help shows it. */
  default?: string;
  description: string;
}

/** A command's flags by name, in the order the help lists them. */
export type FlagTable = Record<string, Flag>;

/** parseArgs' options for a table (`--no-name` as a boolean of its own). */
function optionsOf(table: FlagTable): Options {
  const options: Options = {};
  for (const [name, f] of Object.entries(table)) {
    options[name] = f.short ? { type: f.type, short: f.short } : { type: f.type };
    if (f.negatable) options[`no-${name}`] = { type: 'boolean' };
  }
  return options;
}

/**
 * Help lines for a table: `  --name VALUE   description (default X)`, aligned.
 * @throws never.
 */
export function helpOf(table: FlagTable): string {
  const rows = Object.entries(table).map(([name, f]) => {
    const flag = `${f.negatable ? `--[no-]${name}` : `--${name}`}${f.short ? `, -${f.short}` : ''}${f.value ? ` ${f.value}` : ''}`;
    return [flag, `${f.description}${f.default !== undefined ? ` (default ${f.default})` : ''}`];
  });
  const width = Math.max(...rows.map(([flag]) => flag.length)) + 2;
  return rows.map(([flag, text]) => `  ${flag.padEnd(width)}${text}\n`).join('');
}

/**
 * Parses `argv` against a flag table; parseArgs' own errors (unknown flag, missing value) become
 * UsageErrors that point to the command's help.
 * @throws {UsageError}
 */
export function parse(argv: string[], table: FlagTable, { positionals = false, command }: { positionals?: boolean; command: string }) {
  // `--lr -1`: parseArgs takes a value that starts with '-' for a flag ("argument is ambiguous"); a negative
  // number after a flag that takes a value is that value, so the flag's own range check can say what is wrong.
  const args = [...argv];
  for (let i = 0; i + 1 < args.length; i++) {
    const name = /^--([^=]+)$/.exec(args[i])?.[1];
    if (name && table[name]?.type === 'string' && /^-(\d|\.\d)/.test(args[i + 1])) {
      args.splice(i, 2, `--${name}=${args[i + 1]}`);
    }
  }
  try {
    const r = parseArgs({ args, options: optionsOf(table), strict: true, allowPositionals: positionals });
    return { values: r.values as Values, positionals: r.positionals };
  } catch (e) {
    const msg = (e as Error).message.replace(/\. To specify a positional argument starting with a '-'.*$/s, '');
    throw new UsageError(`${msg} (see \`cellstate ${command} --help\`)`);
  }
}

function raw(v: Values, name: string): string | undefined {
  const x = v[name];
  return typeof x === 'string' ? x : undefined;
}

/** An integer flag in [min, max], or undefined when absent. @throws {UsageError} */
export function intFlag(v: Values, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const s = raw(v, name);
  if (s === undefined) return undefined;
  const n = Number(s.replace(/_/g, ''));
  if (!/^\s*[-+]?[\d_]+\s*$/.test(s) || !Number.isSafeInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `in [${min}, ${max}]`;
    throw new UsageError(`--${name} must be an integer ${range}, got '${s}'`);
  }
  return n;
}

/** A number flag in [min, max] (exclusive min when `openMin`), or undefined. @throws {UsageError} */
export function numFlag(v: Values, name: string, min: number, max: number, openMin = false): number | undefined {
  const s = raw(v, name);
  if (s === undefined) return undefined;
  const n = Number(s);
  if (s.trim() === '' || !Number.isFinite(n) || n < min || n > max || (openMin && n === min)) {
    throw new UsageError(`--${name} must be a number in ${openMin ? '(' : '['}${min}, ${max}], got '${s}'`);
  }
  return n;
}

/** One of `choices`, or undefined. @throws {UsageError} */
export function choiceFlag<T extends string>(v: Values, name: string, choices: readonly T[]): T | undefined {
  const s = raw(v, name);
  if (s === undefined) return undefined;
  if (!(choices as readonly string[]).includes(s)) throw new UsageError(`--${name} must be one of ${choices.join(', ')}, got '${s}'`);
  return s as T;
}

/** A string flag, or undefined; empty strings are refused. @throws {UsageError} */
export function strFlag(v: Values, name: string): string | undefined {
  const s = raw(v, name);
  if (s !== undefined && s.trim() === '') throw new UsageError(`--${name} needs a value`);
  return s;
}

/** `--name` → true, `--no-name` → false, neither → undefined. @throws {UsageError} when both are given. */
export function switchFlag(v: Values, name: string): boolean | undefined {
  const on = v[name] === true;
  const off = v[`no-${name}`] === true;
  if (on && off) throw new UsageError(`--${name} and --no-${name} contradict each other`);
  return on ? true : off ? false : undefined;
}
