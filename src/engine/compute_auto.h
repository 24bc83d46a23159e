/* compute_auto.h: what compute_type auto means on this CPU.
 *
 * auto takes the fastest compute type that keeps the accuracy bars, judged
 * from the kernels this CPU runs under NMTD_KERNELS (kernel_override.h):
 *   - int8 where its product has a vector kernel (amx, avx512_vnni, avx2):
 *     int8 decoded 1.7-3.5x float32's tokens/s in every run of
 *     bench/bench_engine.sh on the CPUs measured (bench/RESULTS.md), faster
 *     than bfloat16 on each, and on the demo model it keeps the held-out bars
 *     on each of these kernels (numbers 100%, sentences >= 99.5%, float32's
 *     text on >= 99.9% of them; tests/integration/test_compute_types.sh);
 *   - float32 otherwise: the portable int8 and bfloat16 kernels are plain C
 *     loops, slower than OpenBLAS's float32.
 * bfloat16 is never auto's choice: wherever it has a fast kernel, int8 has
 * a faster one.  float32 stays the default everywhere (the reference's
 * tokens); auto is the operator's request for speed at int8's accuracy.
 * Thread-safe (reads the CPU's features and the environment). */
#ifndef NMT_COMPUTE_AUTO_H
#define NMT_COMPUTE_AUTO_H

#include <stddef.h>

#include "model.h"

/* The compute type auto stands for on this CPU now; writes one line saying
 * why into why[why_size] (NUL-terminated, cut to fit; why may be NULL). */
nmt_compute_type nmt_compute_auto(char *why, size_t why_size);

#endif
