// What the results name: machine, CPU model and features, memory, OS, runtime.
import os from 'node:os';
import { readFileSync } from 'node:fs';

const FEATURES = [
  'sse4_2',
  'avx',
  'avx2',
  'fma',
  'f16c',
  'avx512f',
  'avx512bw',
  'avx512vl',
  'avx512_vnni',
  'avx512_bf16',
  'avx512_fp16',
  'amx_tile',
  'neon',
  'asimd',
  'sve',
];

export function machineInfo() {
  let flags;
  try {
    const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
    const line = cpuinfo.split('\n').find((l) => /^(flags|Features)\s*:/.test(l)) ?? '';
    const have = new Set(line.split(':')[1]?.trim().split(/\s+/) ?? []);
    flags = FEATURES.filter((f) => have.has(f));
  } catch {
    flags = [];
  }
  const cpus = os.cpus();
  return {
    hostname: os.hostname(),
    os: `${os.type()} ${os.release()}`,
    arch: process.arch,
    cpuModel: cpus[0]?.model?.trim() ?? 'unknown',
    cores: os.availableParallelism ? os.availableParallelism() : cpus.length,
    cpuFeatures: flags,
    memoryBytes: os.totalmem(),
    node: process.versions.node,
    v8: process.versions.v8,
  };
}

/** A short, file-name-safe name of the machine: CPU model, widest SIMD, cores, OS. */
export function machineSlug(m) {
  const model = m.cpuModel
    .replace(/\((R|TM)\)/gi, '')
    .replace(/\b(CPU|Processor|with|Radeon.*|@.*)\b/gi, '')
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
  const simd = m.cpuFeatures.includes('avx512f') ? 'avx512' : m.cpuFeatures.includes('avx2') ? 'avx2' : m.arch;
  return `${model}-${simd}-${m.cores}c-${process.platform}`;
}
