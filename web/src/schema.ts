// The cellstate-bench v1 document (bench/SCHEMA.md) and a validator for it: a small hand-written check of
// the fields the schema lists (types, enums, the `null`-never-0 rule for absent numbers where it can be told),
// chosen over a JSON-schema library because the schema is a Markdown table, not a JSON Schema file, and
// the checks fit in one screen. Returns every problem found, empty when the document is valid.

export const SCHEMA = 'cellstate-bench';
export const SCHEMA_VERSION = 1;

export interface BenchDocument {
  schema: typeof SCHEMA;
  schemaVersion: typeof SCHEMA_VERSION;
  startedAt: string;
  finishedAt: string;
  command: string;
  quick: boolean;
  budgetSeconds: number;
  machine: Record<string, unknown>;
  runtime: { name: 'node' | 'browser'; version: string; v8: string | null } & Record<string, unknown>;
  cellstate: { version: string; commit: string | null; dirty: boolean | null };
  flops: { forward: string; train: string };
  configs: Record<string, { name: string; B: number; T: number; F: number; H: number; oneHot: boolean }>;
  ceilings: Record<string, unknown>[];
  results: Record<string, unknown>[];
}

const iso = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;
const CONFIGS = ['seed', 'medium', 'large', 'imdb'];
const STATUSES = ['ok', 'failed', 'skipped'];

export function validateBenchDocument(d: unknown): string[] {
  const errors: string[] = [];
  const bad = (path: string, why: string) => errors.push(`${path}: ${why}`);
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  const num = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
  const numOrNull = (path: string, v: unknown) => v === null || num(v) || bad(path, `expected a number or null, got ${JSON.stringify(v)}`);
  if (!isObj(d)) return ['document: not a JSON object'];
  if (d.schema !== SCHEMA) bad('schema', `expected "${SCHEMA}"`);
  if (d.schemaVersion !== SCHEMA_VERSION) bad('schemaVersion', `expected ${SCHEMA_VERSION}`);
  for (const k of ['startedAt', 'finishedAt']) if (typeof d[k] !== 'string' || !iso.test(d[k] as string)) bad(k, 'expected ISO 8601 UTC');
  if (typeof d.command !== 'string') bad('command', 'expected a string');
  if (typeof d.quick !== 'boolean') bad('quick', 'expected a boolean');
  if (!num(d.budgetSeconds)) bad('budgetSeconds', 'expected a number');
  const m = d.machine;
  if (!isObj(m)) bad('machine', 'expected an object');
  else {
    for (const k of ['hostname', 'os', 'arch', 'cpuModel', 'node', 'v8'])
      if (!(k in m) || !(m[k] === null || typeof m[k] === 'string')) bad(`machine.${k}`, 'expected a string or null');
    numOrNull('machine.cores', m.cores);
    numOrNull('machine.memoryBytes', m.memoryBytes);
    if (!Array.isArray(m.cpuFeatures)) bad('machine.cpuFeatures', 'expected an array');
  }
  const r = d.runtime;
  if (!isObj(r) || !['node', 'browser'].includes(r.name as string) || typeof r.version !== 'string')
    bad('runtime', 'expected { name: "node" | "browser", version }');
  const c = d.cellstate;
  if (!isObj(c) || typeof c.version !== 'string') bad('cellstate', 'expected { version, commit, dirty }');
  if (!isObj(d.flops) || typeof d.flops.forward !== 'string' || typeof d.flops.train !== 'string')
    bad('flops', 'expected { forward, train } strings');
  if (!isObj(d.configs)) bad('configs', 'expected an object');
  else
    for (const [k, v] of Object.entries(d.configs)) {
      if (!isObj(v) || !['B', 'T', 'F', 'H'].every((f) => num(v[f])) || typeof v.oneHot !== 'boolean')
        bad(`configs.${k}`, 'expected { name, B, T, F, H, oneHot }');
    }
  if (!Array.isArray(d.ceilings)) bad('ceilings', 'expected an array');
  else
    d.ceilings.forEach((x, i) => {
      if (!isObj(x) || typeof x.kind !== 'string' || !STATUSES.includes(x.status as string))
        bad(`ceilings[${i}]`, 'expected { kind, status }');
      else if (x.status === 'ok' && !num(x.gflops)) bad(`ceilings[${i}].gflops`, 'expected a number');
    });
  if (!Array.isArray(d.results)) bad('results', 'expected an array');
  else
    d.results.forEach((x, i) => {
      const p = `results[${i}]`;
      if (!isObj(x)) return bad(p, 'expected an object');
      if (!CONFIGS.includes(x.config as string)) bad(`${p}.config`, `expected one of ${CONFIGS.join(', ')}`);
      if (x.config !== 'imdb' && !['train', 'infer'].includes(x.mode as string)) bad(`${p}.mode`, 'expected train or infer');
      // SCHEMA.md lists cellstate, tfjs, onnxruntime, brain, pytorch, but the Node bench writes "brain.js": any name passes.
      if (typeof x.engine !== 'string' || !x.engine) bad(`${p}.engine`, 'expected an engine name');
      if (typeof x.variant !== 'string') bad(`${p}.variant`, 'expected a string');
      if (!STATUSES.includes(x.status as string)) bad(`${p}.status`, `expected one of ${STATUSES.join(', ')}`);
      if (x.status === 'failed' && typeof x.error !== 'string') bad(`${p}.error`, 'a failed result says why');
      if (x.status === 'skipped' && typeof x.why !== 'string') bad(`${p}.why`, 'a skipped result says why');
      if (x.status === 'ok') {
        if (!num(x.samplesPerSecond) || (x.samplesPerSecond as number) <= 0) bad(`${p}.samplesPerSecond`, 'expected a positive number');
        if (x.config !== 'imdb') {
          const s = x.secondsPerStep;
          if (!isObj(s) || !['median', 'min', 'max', 'n'].every((f) => num(s[f])))
            bad(`${p}.secondsPerStep`, 'expected { median, min, max, spread, n }');
          if (!isObj(x.check) || !['passed', 'failed', 'none'].includes(x.check.status as string))
            bad(`${p}.check`, 'expected { status: passed | failed | none }');
          for (const k of ['gflops', 'peakRssBytes', 'wasmMemoryBytes']) if (k in x) numOrNull(`${p}.${k}`, x[k]);
        }
      }
    });
  return errors;
}
