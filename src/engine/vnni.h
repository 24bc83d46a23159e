/* vnni.h: VPDPBUSD on zmm registers, for the int8 kernels of AVX-512 VNNI
 * CPUs (qgemm_avx512.c, the output screen in logits.c).  Include only
 * where <immintrin.h> and AVX-512 are available (x86-64, GCC or Clang). */
#ifndef NMT_VNNI_H
#define NMT_VNNI_H

#include <immintrin.h>

/* acc + the dot products of the unsigned bytes of x with the signed bytes
 * of w, four to each 32-bit lane.  Written as the instruction itself:
 * GCC 12 keeps a loop's accumulators of _mm512_dpbusd_epi32 apart from the
 * registers it multiplies into, with two register copies for each product
 * (68 instructions for the 16 products of an 8-row strip), and the front
 * end, not the multipliers, then sets the pace (about 70% of the
 * instruction's rate at batch 32 instead of about 90%). */
__attribute__((target("avx512f,avx512vnni"))) static inline __m512i nmt_dpbusd(__m512i acc, __m512i x, __m512i w)
{
    __asm__("vpdpbusd %[w], %[x], %[acc]" : [acc] "+v"(acc) : [x] "v"(x), [w] "v"(w));
    return acc;
}

#endif
