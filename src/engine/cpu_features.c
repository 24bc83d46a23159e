/* cpu_features.c: cpuid, xgetbv and the AMX permission request (see
 * cpu_features.h). */
#include "cpu_features.h"

#include <pthread.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18

/* XCR0: which register states the OS saves on a context switch. */
static unsigned long long xcr0(void)
{
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

static nmt_cpu_features features;

static void detect(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE))
        return;
    unsigned long long xcr = xcr0();
    int ymm_state = (xcr & 0x6) == 0x6, zmm_state = (xcr & 0xe6) == 0xe6, tile_state = (xcr & 0x60000) == 0x60000;
    int fma = (c & bit_FMA) != 0;
    unsigned b7 = 0, c7 = 0, d7 = 0, a71 = 0, unused;
    if (__get_cpuid_max(0, NULL) >= 7) {
        __cpuid_count(7, 0, unused, b7, c7, d7);
        __cpuid_count(7, 1, a71, unused, unused, unused);
    }
    (void)unused;
    features.avx2_fma = ymm_state && fma && (b7 & bit_AVX2);
    unsigned avx512_base = bit_AVX512F | bit_AVX512BW | bit_AVX512DQ | bit_AVX512VL;
    features.avx512 = features.avx2_fma && zmm_state && (b7 & avx512_base) == avx512_base;
    features.avx512_vnni = features.avx512 && (c7 & bit_AVX512VNNI);
    features.avx512_bf16 = features.avx512 && (a71 & (1u << 5));
    int amx_tile = tile_state && (d7 & (1u << 24));
    if (amx_tile && features.avx512 && syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0) {
        features.amx_int8 = (d7 & (1u << 25)) != 0;
        features.amx_bf16 = (d7 & (1u << 22)) != 0;
    }
}
#else
static nmt_cpu_features features;
static void detect(void) {}
#endif

const nmt_cpu_features *nmt_cpu_features_get(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, detect);
    return &features;
}
