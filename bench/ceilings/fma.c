/* The machine's native float32 FMA ceiling, one thread: 12 independent accumulators of
 * acc = acc * m + a as AVX2 (8 lanes) or AVX-512F (16 lanes) fused multiply-adds, chosen by runtime
 * detection; 12 chains cover FMA latency (4 cycles) at two issues a cycle. Compiled at bench time with the
 * system cc. Usage: fma <seconds>; prints one JSON line per instruction set. */
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define ACC 12

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

__attribute__((target("avx2,fma"))) static float run_avx2(long n) {
  __m256 acc[ACC];
  for (int k = 0; k < ACC; k++) acc[k] = _mm256_set1_ps(1.0f + k / 64.0f);
  const __m256 m = _mm256_set1_ps(0.9999f), a = _mm256_set1_ps(0.0001f);
  for (long i = 0; i < n; i++)
    for (int k = 0; k < ACC; k++) acc[k] = _mm256_fmadd_ps(acc[k], m, a);
  float s = 0;
  for (int k = 0; k < ACC; k++) s += _mm256_cvtss_f32(acc[k]);
  return s;
}

/* Deliberate repeat: run_avx2 at 16 lanes; a macro would hide the loop being measured. */
__attribute__((target("avx512f"))) static float run_avx512(long n) {
  __m512 acc[ACC];
  for (int k = 0; k < ACC; k++) acc[k] = _mm512_set1_ps(1.0f + k / 64.0f);
  const __m512 m = _mm512_set1_ps(0.9999f), a = _mm512_set1_ps(0.0001f);
  for (long i = 0; i < n; i++)
    for (int k = 0; k < ACC; k++) acc[k] = _mm512_fmadd_ps(acc[k], m, a);
  float s = 0;
  for (int k = 0; k < ACC; k++) s += _mm512_cvtss_f32(acc[k]);
  return s;
}

static void measure(const char *name, float (*run)(long), int lanes, double seconds) {
  long n = 1 << 16;
  double best = 0, t0 = now();
  int repeats = 0;
  volatile float sink = run(n);
  while (now() - t0 < seconds || repeats < 3) {
    double t = now();
    sink += run(n);
    double dt = now() - t;
    if (dt < 0.05) { n *= 2; continue; }
    double g = (double)n * ACC * lanes * 2 / dt / 1e9;
    if (g > best) best = g;
    repeats++;
  }
  (void)sink;
  printf("@@RESULT {\"kind\":\"%s\",\"status\":\"ok\",\"gflops\":%.2f,\"repeats\":%d,\"accumulators\":%d,\"threads\":1}\n", name, best, repeats, ACC);
}

int main(int argc, char **argv) {
  double seconds = argc > 1 ? atof(argv[1]) : 1.0;
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) measure("avx2-fma", run_avx2, 8, seconds);
  else printf("@@RESULT {\"kind\":\"avx2-fma\",\"status\":\"skipped\",\"why\":\"CPU has no AVX2+FMA\"}\n");
  if (__builtin_cpu_supports("avx512f")) measure("avx512-fma", run_avx512, 16, seconds);
  else printf("@@RESULT {\"kind\":\"avx512-fma\",\"status\":\"skipped\",\"why\":\"CPU has no AVX-512F\"}\n");
  return 0;
}
