/* kernel_override.h: NMTD_KERNELS, the environment's say over which
 * kernels run.  Each product chooses its kernel at run time from the CPU's
 * features; NMTD_KERNELS lets tests and benchmarks compare the paths on one
 * machine:
 *   unset or empty  the best kernel this CPU has, for every product (AMX
 *                   tiles where the CPU has them and Linux grants them);
 *   avx512          the AVX-512 kernels (VNNI, AVX512_BF16, bfloat16 widened), not AMX;
 *   avx2            the AVX2 kernels, also on a CPU with AVX-512;
 *   generic         the portable ones (OpenBLAS for float32, C for int8
 *                   and bfloat16), as on a CPU without AVX2.
 * Any other value is a mistake: the model loader refuses it (a typo would
 * otherwise measure the wrong path without a word).  Thread-safe. */
#ifndef NMT_KERNEL_OVERRIDE_H
#define NMT_KERNEL_OVERRIDE_H

#include "err.h"

typedef enum nmt_kernel_override {
    NMT_KERNELS_BEST,   /* unset, empty, or not a value below */
    NMT_KERNELS_AVX512, /* "avx512" */
    NMT_KERNELS_AVX2,   /* "avx2" */
    NMT_KERNELS_GENERIC /* "generic" */
} nmt_kernel_override;

/* What NMTD_KERNELS asks for now. */
nmt_kernel_override nmt_kernel_override_get(void);

/* The tiers of kernels, each CPU feature set a step up. */
typedef enum nmt_kernel_tier {
    NMT_TIER_AVX2,   /* AVX2 (+FMA) kernels */
    NMT_TIER_AVX512, /* AVX-512 kernels: fp32, VNNI, AVX512_BF16 */
    NMT_TIER_AMX     /* AMX tiles */
} nmt_kernel_tier;

/* 1 when NMTD_KERNELS lets kernels of tier run (whether the CPU has them
 * is cpu_features.h's question): unset or empty, every tier; avx512, up to
 * AVX-512; avx2, AVX2 alone; generic, none. */
int nmt_kernel_override_allows(nmt_kernel_tier tier);

/* NMT_OK when NMTD_KERNELS is unset, empty or one of the values above;
 * else NMT_ERR_INVALID with a message naming the value and the choices. */
nmt_code nmt_kernel_override_check(nmt_err *err);

#endif
