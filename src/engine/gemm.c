/* gemm.c: packed-weight GEMM (see gemm.h).
 * Layout: panel p holds output columns [32p, 32p + 32) as k rows of 32
 * floats.  Loop order: for each panel, for each block of KB k's (the block,
 * 32 x KB floats, stays in L1), for each group of 8 activation rows (from
 * L2), accumulate 8 x 32 outputs in 16 zmm registers: per k, 2 panel loads,
 * 8 broadcasts, 16 FMAs.  Rows left over (m % 8) run one at a time through a
 * 1 x 32 kernel that sums in exactly the same order. */
#include "gemm.h"

#include <stdlib.h>
#include <string.h>

#define NR NMT_GEMM_PANEL
#define KB 128  /* k per block: a 16 KB slice of a panel */
#define MR 8    /* activation rows per register tile */

size_t nmt_gemm_packed_size(int n, int k)
{
    return (size_t)((n + NR - 1) / NR) * NR * (size_t)k;
}

void nmt_gemm_pack(float *dst, const float *w, int n, int k)
{
    int panels = (n + NR - 1) / NR;
    for (int p = 0; p < panels; p++) {
        float *panel = dst + (size_t)p * NR * k;
        for (int c = 0; c < NR; c++) { /* read W rows in order; the panel stays in L2 */
            int col = p * NR + c;
            for (int kk = 0; kk < k; kk++)
                panel[(size_t)kk * NR + c] = col < n ? w[(size_t)col * k + kk] : 0.0f;
        }
    }
}

void nmt_gemm_packed_row(float *dst, const float *packed, int k, int row)
{
    const float *p = packed + (size_t)(row / NR) * NR * k + row % NR;
    for (int kk = 0; kk < k; kk++)
        dst[kk] = p[(size_t)kk * NR];
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define TARGET __attribute__((target("avx512f")))

int nmt_gemm_packed_available(void)
{
    static int cached = -1;
    if (cached < 0) {
        const char *force = getenv("NMTD_KERNELS"); /* "generic": OpenBLAS only, as on CPUs without AVX-512 */
        cached = __builtin_cpu_supports("avx512f") && !(force && strcmp(force, "generic") == 0) ? 1 : 0;
    }
    return cached;
}

/* Stores acc (32 columns) into y, only the first nc columns. */
TARGET static inline void store32(float *y, __m512 lo, __m512 hi, int nc)
{
    if (nc == NR) {
        _mm512_storeu_ps(y, lo);
        _mm512_storeu_ps(y + 16, hi);
    } else {
        __mmask16 mlo = (__mmask16)(nc >= 16 ? 0xffff : (1u << nc) - 1);
        __mmask16 mhi = (__mmask16)(nc <= 16 ? 0 : (1u << (nc - 16)) - 1);
        _mm512_mask_storeu_ps(y, mlo, lo);
        _mm512_mask_storeu_ps(y + 16, mhi, hi);
    }
}

TARGET static inline void load32(const float *y, __m512 *lo, __m512 *hi, int nc)
{
    __mmask16 mlo = (__mmask16)(nc >= 16 ? 0xffff : (1u << nc) - 1);
    __mmask16 mhi = (__mmask16)(nc <= 16 ? 0 : (1u << (nc - 16)) - 1);
    *lo = _mm512_maskz_loadu_ps(mlo, y);
    *hi = _mm512_maskz_loadu_ps(mhi, y + 16);
}

/* 8 rows x 32 columns over k in [k0, k1).  first: start from the bias (or 0),
 * else from y. */
TARGET static void tile8(float *y, int ldy, const float *x, int ldx, const float *panel, int k0, int k1,
                         const float *b, int nc, int first)
{
    __m512 c[MR][2];
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++) {
        if (first) {
            if (b)
                load32(b, &c[r][0], &c[r][1], nc);
            else
                c[r][0] = c[r][1] = _mm512_setzero_ps();
        } else {
            load32(y + (size_t)r * ldy, &c[r][0], &c[r][1], nc);
        }
    }
    const float *x0 = x, *x1 = x + ldx, *x2 = x + 2 * (size_t)ldx, *x3 = x + 3 * (size_t)ldx,
                *x4 = x + 4 * (size_t)ldx, *x5 = x + 5 * (size_t)ldx, *x6 = x + 6 * (size_t)ldx,
                *x7 = x + 7 * (size_t)ldx;
    for (int kk = k0; kk < k1; kk++) {
        __m512 w0 = _mm512_loadu_ps(panel + (size_t)kk * NR), w1 = _mm512_loadu_ps(panel + (size_t)kk * NR + 16);
        __m512 a;
#define ROW(r, xr)                                         \
        a = _mm512_set1_ps(xr[kk]);                        \
        c[r][0] = _mm512_fmadd_ps(a, w0, c[r][0]);         \
        c[r][1] = _mm512_fmadd_ps(a, w1, c[r][1]);
        ROW(0, x0) ROW(1, x1) ROW(2, x2) ROW(3, x3) ROW(4, x4) ROW(5, x5) ROW(6, x6) ROW(7, x7)
#undef ROW
    }
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++)
        store32(y + (size_t)r * ldy, c[r][0], c[r][1], nc);
}

/* One row x 32 columns, same order of operations as tile8. */
TARGET static void tile1(float *y, const float *x, const float *panel, int k0, int k1, const float *b, int nc,
                         int first)
{
    __m512 lo, hi;
    if (first) {
        if (b)
            load32(b, &lo, &hi, nc);
        else
            lo = hi = _mm512_setzero_ps();
    } else {
        load32(y, &lo, &hi, nc);
    }
    for (int kk = k0; kk < k1; kk++) {
        __m512 a = _mm512_set1_ps(x[kk]);
        lo = _mm512_fmadd_ps(a, _mm512_loadu_ps(panel + (size_t)kk * NR), lo);
        hi = _mm512_fmadd_ps(a, _mm512_loadu_ps(panel + (size_t)kk * NR + 16), hi);
    }
    store32(y, lo, hi, nc);
}

/* Rows [r0, r1) against every panel. */
TARGET static void rows_by_panels(float *y, const float *x, int r0, int r1, int k, const float *packed, int n,
                                  const float *b)
{
    int panels = (n + NR - 1) / NR;
    int full = r0 + (r1 - r0) / MR * MR;
    for (int p = 0; p < panels; p++) {
        const float *panel = packed + (size_t)p * NR * k;
        int col = p * NR, nc = n - col < NR ? n - col : NR;
        const float *bias = b ? b + col : NULL;
        for (int k0 = 0; k0 < k || k0 == 0; k0 += KB) {
            int k1 = k0 + KB < k ? k0 + KB : k;
            for (int r = r0; r < full; r += MR)
                tile8(y + (size_t)r * n + col, n, x + (size_t)r * k, k, panel, k0, k1, bias, nc, k0 == 0);
            for (int r = full; r < r1; r++)
                tile1(y + (size_t)r * n + col, x + (size_t)r * k, panel, k0, k1, bias, nc, k0 == 0);
            if (k == 0)
                break;
        }
    }
}

TARGET void nmt_gemm_packed(float *y, const float *x, int m, int k, const float *packed, int n, const float *b)
{
    /* activation rows in chunks of about 256 KB, so they stay in L2 while the
     * panels stream past (the weights are read once per chunk: once for a
     * decode step, a few times from L3 for a long encoder batch) */
    int chunk = k > 0 ? (int)(262144 / ((size_t)k * sizeof(float))) / MR * MR : m;
    if (chunk < MR)
        chunk = MR;
    for (int r0 = 0; r0 < m; r0 += chunk)
        rows_by_panels(y, x, r0, r0 + chunk < m ? r0 + chunk : m, k, packed, n, b);
}

#else /* not x86-64 GCC: never available */

int nmt_gemm_packed_available(void) { return 0; }

void nmt_gemm_packed(float *y, const float *x, int m, int k, const float *packed, int n, const float *b)
{
    (void)y, (void)x, (void)m, (void)k, (void)packed, (void)n, (void)b;
}

#endif
