// The machine's wasm float32 ceiling: a hand-assembled module whose loop keeps 12 independent f32x4
// accumulators busy (acc = acc * m + a), either as f32x4.mul + f32x4.add (SIMD128) or one
// f32x4.relaxed_madd (relaxed SIMD; Node 20 needs --experimental-wasm-relaxed-simd). 12 accumulators cover
// the latency of a dependent multiply-add chain at two issues a cycle. Usage:
//   node [--experimental-wasm-relaxed-simd] bench/ceilings/wasm.mjs simd128|relaxed <seconds>
// prints one `@@RESULT {json}` line.

const ACC = 12;

function leb(n) {
  const out = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}
const section = (id, bytes) => [id, ...leb(bytes.length), ...bytes];
const vec = (items) => [...leb(items.length), ...items.flat()];
const simd = (op) => [0xfd, ...leb(op)];
const f32 = (v) => [0x43, ...new Uint8Array(new Float32Array([v]).buffer)];

/** (func (param $n i32) (result f32)): n iterations of ACC multiply-adds on f32x4, returns a lane sum. */
export function moduleBytes(kind) {
  const M = ACC; // local index of the multiplier, then the addend
  const A = ACC + 1;
  const first = 1; // local 0 is the parameter n
  const body = [];
  for (let k = 0; k < ACC; k++) body.push(...f32(1 + k / 64), ...simd(0x13), 0x21, first + k); // f32x4.splat; local.set
  body.push(...f32(0.9999), ...simd(0x13), 0x21, first + M);
  body.push(...f32(0.0001), ...simd(0x13), 0x21, first + A);
  body.push(0x02, 0x40, 0x03, 0x40); // block, loop
  for (let k = 0; k < ACC; k++) {
    if (kind === 'relaxed') {
      // relaxed_madd(a, b, c) = a * b + c
      body.push(0x20, first + k, 0x20, first + M, 0x20, first + A, ...simd(0x105), 0x21, first + k);
    } else {
      body.push(0x20, first + k, 0x20, first + M, ...simd(0xe6), 0x20, first + A, ...simd(0xe4), 0x21, first + k);
    }
  }
  // n -= 1; br_if loop (n != 0)
  body.push(0x20, 0, 0x41, 1, 0x6b, 0x22, 0, 0x0d, 0, 0x0b, 0x0b);
  body.push(0x20, first, ...simd(0x1f), 0); // f32x4.extract_lane 0 of acc 0
  for (let k = 1; k < ACC; k++) body.push(0x20, first + k, ...simd(0x1f), 0, 0x92); // f32.add
  body.push(0x0b);
  const locals = vec([[...leb(ACC + 2), 0x7b]]); // ACC + 2 locals of v128
  const func = [...locals, ...body];
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, vec([[0x60, 1, 0x7f, 1, 0x7d]])), // type: (i32) -> f32
    ...section(3, vec([[0]])),
    ...section(7, vec([[...leb(3), ...new TextEncoder().encode('run'), 0x00, 0]])),
    ...section(10, vec([[...leb(func.length), ...func]])),
  ]);
}

export const FLOPS_PER_ITER = ACC * 4 * 2;

async function main() {
  const kind = process.argv[2];
  const seconds = Number(process.argv[3] ?? 1);
  const bytes = moduleBytes(kind);
  if (!WebAssembly.validate(bytes)) {
    const why = kind === 'relaxed' ? 'this runtime has no relaxed SIMD (Node 20: --experimental-wasm-relaxed-simd)' : 'no SIMD128';
    process.stdout.write(`@@RESULT ${JSON.stringify({ kind, status: 'skipped', why })}\n`);
    return;
  }
  const { instance } = await WebAssembly.instantiate(bytes);
  const run = instance.exports.run;
  run(100000); // tier-up
  let n = 1 << 20;
  let best = 0;
  const t0 = performance.now();
  const rates = [];
  while ((performance.now() - t0) / 1000 < seconds || rates.length < 3) {
    const t = performance.now();
    run(n);
    const dt = (performance.now() - t) / 1000;
    if (dt < 0.05) {
      n *= 2;
      continue;
    }
    rates.push((n * FLOPS_PER_ITER) / dt / 1e9);
    best = Math.max(best, rates.at(-1));
  }
  rates.sort((a, b) => a - b);
  process.stdout.write(
    `@@RESULT ${JSON.stringify({ kind, status: 'ok', gflops: best, medianGflops: rates[rates.length >> 1], repeats: rates.length, accumulators: ACC, threads: 1 })}\n`,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) main();
