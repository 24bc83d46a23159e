/* cpu_features.h: what this CPU, and the operating system under it, let
 * the kernels use, read once from cpuid (and xgetbv for the register
 * state the OS saves).  AMX needs one more step: Linux hands out the tile
 * registers' state only to a process that asks for it
 * (arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)); the request is
 * made here, once, and AMX counts as present only if it was granted.
 *
 * This is what the CPU has, not what runs: each product picks its kernel
 * from these and from NMTD_KERNELS (kernel_override.h).  Thread-safe. */
#ifndef NMT_CPU_FEATURES_H
#define NMT_CPU_FEATURES_H

typedef struct nmt_cpu_features {
    int avx2_fma;    /* AVX2 and FMA */
    int avx512;      /* AVX-512 F, BW, DQ and VL, with the OS saving the zmm state */
    int avx512_vnni; /* ... and VNNI (VPDPBUSD) */
    int avx512_bf16; /* ... and AVX512_BF16 (VDPBF16PS) */
    int amx_int8;    /* AMX tiles with TDPBUSD, permission granted */
    int amx_bf16;    /* AMX tiles with TDPBF16PS, permission granted */
} nmt_cpu_features;

/* This machine's features (read on the first call). */
const nmt_cpu_features *nmt_cpu_features_get(void);

#endif
