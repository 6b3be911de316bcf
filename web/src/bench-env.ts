// What the benchmark page knows about this browser and machine, for the page and the JSON's `machine`/`runtime`.

export interface BrowserEnv {
  browser: string;
  userAgent: string;
  cores: number | null;
  memoryBytes: number | null;
  simd128: boolean;
  relaxedSimd: boolean;
  threads: boolean;
  crossOriginIsolated: boolean;
}

function browserName(): string {
  const brands = (navigator as { userAgentData?: { brands: { brand: string; version: string }[] } }).userAgentData?.brands ?? [];
  const b = brands.find((x) => !/not.?a.?brand/i.test(x.brand) && x.brand !== 'Chromium') ?? brands.find((x) => x.brand === 'Chromium');
  if (b) return `${b.brand} ${b.version}`;
  const m = navigator.userAgent.match(/(Firefox|Edg|Chrome|Version)\/([\d.]+)/);
  return m ? `${m[1] === 'Version' ? 'Safari' : m[1]} ${m[2]}` : navigator.userAgent;
}

/** `simd` says what this browser's wasm validates (probed in a worker: see bench-worker.ts 'probe'). */
export function browserEnv(simd: { simd128: boolean; relaxed: boolean }): BrowserEnv {
  const gb = (navigator as { deviceMemory?: number }).deviceMemory;
  return {
    browser: browserName(),
    userAgent: navigator.userAgent,
    cores: navigator.hardwareConcurrency || null,
    memoryBytes: gb ? gb * 2 ** 30 : null,
    simd128: simd.simd128,
    relaxedSimd: simd.relaxed,
    threads: typeof SharedArrayBuffer !== 'undefined' && crossOriginIsolated,
    crossOriginIsolated: globalThis.crossOriginIsolated === true,
  };
}
