/* kernel_override.c: NMTD_KERNELS read and checked (see kernel_override.h). */
#include "kernel_override.h"

#include <stdlib.h>
#include <string.h>

nmt_kernel_override nmt_kernel_override_get(void)
{
    const char *v = getenv("NMTD_KERNELS");
    if (v && strcmp(v, "avx512") == 0)
        return NMT_KERNELS_AVX512;
    if (v && strcmp(v, "avx2") == 0)
        return NMT_KERNELS_AVX2;
    if (v && strcmp(v, "generic") == 0)
        return NMT_KERNELS_GENERIC;
    return NMT_KERNELS_BEST;
}

int nmt_kernel_override_allows(nmt_kernel_tier tier)
{
    switch (nmt_kernel_override_get()) {
    case NMT_KERNELS_BEST: return 1;
    case NMT_KERNELS_AVX512: return tier <= NMT_TIER_AVX512;
    case NMT_KERNELS_AVX2: return tier == NMT_TIER_AVX2;
    case NMT_KERNELS_GENERIC: break;
    }
    return 0;
}

nmt_code nmt_kernel_override_check(nmt_err *err)
{
    const char *v = getenv("NMTD_KERNELS");
    if (!v || !*v || nmt_kernel_override_get() != NMT_KERNELS_BEST)
        return NMT_OK;
    return nmt_err_set(err, NMT_ERR_INVALID,
                       "NMTD_KERNELS=%.40s: must be avx512, avx2 or generic (or unset, for the best kernels of this CPU)", v);
}
