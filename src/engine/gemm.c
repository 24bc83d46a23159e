/* gemm.c: packed-weight GEMM (see gemm.h).
 * Layout: panel p holds output columns [32p, 32p + 32) as k rows of 32
 * floats.  Loop order: for each panel, for each block of KB k's (the block,
 * 32 x KB floats, stays in L1), for each tile of up to 12 activation rows
 * (from L2; the rows split into tiles as even as can be), accumulate
 * 12 x 32 outputs in 24 zmm registers: per k, 2 panel loads, 12
 * broadcasts, 24 FMAs.
 * The AVX2 kernel reads the same layout half a panel at a time: tiles of up
 * to 6 rows x 16 columns in 12 ymm registers (per k, 2 loads, 6 broadcasts,
 * 12 FMAs), the rows split into tiles as even as can be.  Each output is the same chain of
 * fused multiply-adds from the bias, k in order, in both kernels: they give
 * the same bits, whatever the rows around it. */
#include "gemm.h"

#include <stdlib.h>
#include <string.h>

#include "cpu_features.h"
#include "kernel_override.h"

#define NR NMT_GEMM_PANEL
#define KB 128  /* k per block: a 16 KB slice of a panel */
#define MR_MAX 12 /* activation rows per register tile, at most */

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

const float *nmt_gemm_packed_columns(const float *packed, int k, int j0)
{
    return packed + (size_t)(j0 / NMT_GEMM_PANEL) * NMT_GEMM_PANEL * k;
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

typedef enum packed_kernel { PACKED_NONE, PACKED_AVX2, PACKED_AVX512 } packed_kernel;

/* The CPU's best packed kernel; NMTD_KERNELS=generic: none (the OpenBLAS
 * path, as on CPUs without AVX2), NMTD_KERNELS=avx2: not the AVX-512 one. */
static packed_kernel chosen(void)
{
    static packed_kernel cached = (packed_kernel)-1;
    if (cached == (packed_kernel)-1) {
        const nmt_cpu_features *cpu = nmt_cpu_features_get();
        cached = nmt_kernel_override_allows(NMT_TIER_AVX512) && cpu->avx512 ? PACKED_AVX512
                 : nmt_kernel_override_allows(NMT_TIER_AVX2) && cpu->avx2_fma ? PACKED_AVX2
                                                                              : PACKED_NONE;
    }
    return cached;
}

int nmt_gemm_packed_available(void) { return chosen() != PACKED_NONE; }

const char *nmt_gemm_packed_kernel(void)
{
    return chosen() == PACKED_AVX512 ? "avx512" : chosen() == PACKED_AVX2 ? "avx2" : NULL;
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

/* mr (<= MR_MAX; a constant once inlined) rows x 32 columns over k in
 * [k0, k1).  first: start from the bias (or 0), else from y.  On the way,
 * the ahead_lines cache lines at ahead are prefetched into L2. */
TARGET static inline __attribute__((always_inline)) void tile_rows(int mr, float *y, int ldy, const float *x, int ldx,
                                                                   const float *panel, int k0, int k1,
                                                                   const float *b, int nc, int first,
                                                                   const char *ahead, int ahead_lines)
{
    __m512 c[MR_MAX][2];
#pragma GCC unroll 12
    for (int r = 0; r < MR_MAX; r++) {
        if (r >= mr)
            continue;
        if (!first)
            load32(y + (size_t)r * ldy, &c[r][0], &c[r][1], nc);
        else if (b)
            load32(b, &c[r][0], &c[r][1], nc);
        else
            c[r][0] = c[r][1] = _mm512_setzero_ps();
    }
    /* ahead_lines cache lines from ahead on their way into L2, spread over
     * the k's (in bursts, the prefetches outrun the misses the core can
     * keep in flight) */
    int per_k = k1 > k0 ? (ahead_lines + (k1 - k0) - 1) / (k1 - k0) : 0;
    for (int kk = k0; kk < k1; kk++) {
        for (int line = (kk - k0) * per_k, stop = line + per_k; line < stop && line < ahead_lines; line++)
            _mm_prefetch(ahead + (size_t)line * 64, _MM_HINT_T1);
        __m512 w0 = _mm512_loadu_ps(panel + (size_t)kk * NR), w1 = _mm512_loadu_ps(panel + (size_t)kk * NR + 16);
#pragma GCC unroll 12
        for (int r = 0; r < MR_MAX; r++) {
            if (r >= mr)
                continue;
            __m512 a = _mm512_set1_ps(x[(size_t)r * ldx + kk]);
            c[r][0] = _mm512_fmadd_ps(a, w0, c[r][0]);
            c[r][1] = _mm512_fmadd_ps(a, w1, c[r][1]);
        }
    }
#pragma GCC unroll 12
    for (int r = 0; r < MR_MAX; r++)
        if (r < mr)
            store32(y + (size_t)r * ldy, c[r][0], c[r][1], nc);
}

/* Rows [r0, r1) against every panel: per panel, per k block, tiles of at
 * most MR_MAX rows as even as can be (32 rows: 11 11 10; a tile of few
 * rows keeps too few sums in flight to hide the FMA latency). */
TARGET static void rows_by_panels(float *y, const float *x, int r0, int r1, int k, const float *packed, int n,
                                  const float *b)
{
    int panels = (n + NR - 1) / NR, rows = r1 - r0, tiles = (rows + MR_MAX - 1) / MR_MAX;
    const char *end = (const char *)(packed + (size_t)panels * NR * k);
    for (int p = 0; p < panels; p++) {
        const float *panel = packed + (size_t)p * NR * k;
        int col = p * NR, nc = n - col < NR ? n - col : NR;
        const float *bias = b ? b + col : NULL;
        for (int k0 = 0; k0 < k || k0 == 0; k0 += KB) {
            int k1 = k0 + KB < k ? k0 + KB : k, first = k0 == 0;
            /* the next block (the next 32 x KB floats: the panels are
             * contiguous) on its way to L2 while this one is used, a share
             * to each tile: the hardware prefetcher stops while the later
             * tiles reuse the block from L1 (cold weights, M = 32: 115 ->
             * 185 GFLOP/s on a Zen 5 core; 200 when they are in cache) */
            const char *next = (const char *)(panel + (size_t)k1 * NR);
            size_t ahead = next < end && tiles > 1 ? (size_t)(end - next) : 0; /* one tile: nothing is reused */
            if (ahead > (size_t)KB * NR * sizeof(float))
                ahead = (size_t)KB * NR * sizeof(float);
#define TILE(R)                                                                                                        \
    tile_rows(R, y + (size_t)r * n + col, n, x + (size_t)r * k, k, panel, k0, k1, bias, nc, first, next + from,        \
              (int)((to - from + 63) / 64))
            for (int s = 0, r = r0, height; s < tiles; s++, r += height) {
                size_t from = ahead * (size_t)s / (size_t)tiles / 64 * 64, to = ahead * (size_t)(s + 1) / (size_t)tiles;
                height = rows / tiles + (s < rows % tiles);
                switch (height) {
                case 12: TILE(12); break;
                case 11: TILE(11); break;
                case 10: TILE(10); break;
                case 9: TILE(9); break;
                case 8: TILE(8); break;
                case 7: TILE(7); break;
                case 6: TILE(6); break;
                case 5: TILE(5); break;
                case 4: TILE(4); break;
                case 3: TILE(3); break;
                case 2: TILE(2); break;
                default: TILE(1); break;
                }
            }
#undef TILE
            if (k == 0)
                break;
        }
    }
}

/* ---- AVX2 + FMA: the same layout and order, half a panel at a time ---- */

#define AVX2 __attribute__((target("avx2,fma")))
#define AVX2_MR 6

/* The first nc of 8 floats at y (nc may be <= 0 or >= 8; zeros past it).
 * Partial groups go through a buffer: masked loads and stores are slow on
 * some CPUs (AMD's). */
AVX2 static inline __m256 load8(const float *y, int nc)
{
    if (nc >= 8)
        return _mm256_loadu_ps(y);
    float part[8] = {0};
    for (int c = 0; c < nc && c < 8; c++)
        part[c] = y[c];
    return _mm256_loadu_ps(part);
}

AVX2 static inline void store8(float *y, __m256 v, int nc)
{
    if (nc >= 8) {
        _mm256_storeu_ps(y, v);
    } else if (nc > 0) {
        float part[8];
        _mm256_storeu_ps(part, v);
        for (int c = 0; c < nc && c < 8; c++)
            y[c] = part[c];
    }
}

AVX2 static inline void load16(const float *y, __m256 *lo, __m256 *hi, int nc)
{
    *lo = load8(y, nc);
    *hi = load8(y + 8, nc - 8);
}

AVX2 static inline void store16(float *y, __m256 lo, __m256 hi, int nc)
{
    store8(y, lo, nc);
    store8(y + 8, hi, nc - 8);
}

/* mr (<= 6; a constant once inlined) rows x the 16 columns of a half panel
 * at half (its first column's offset in the panel's rows of 32), k in
 * [k0, k1); first: start from the bias (or 0), else from y; nc of the 16
 * columns are stored. */
AVX2 static inline __attribute__((always_inline)) void tile_avx2(int mr, float *y, int ldy, const float *x, int ldx,
                                                                 const float *half, int k0, int k1, const float *b,
                                                                 int nc, int first, const char *ahead,
                                                                 int ahead_lines)
{
    __m256 c[AVX2_MR][2];
#pragma GCC unroll 6
    for (int r = 0; r < AVX2_MR; r++) {
        if (r >= mr)
            continue;
        if (!first)
            load16(y + (size_t)r * ldy, &c[r][0], &c[r][1], nc);
        else if (b)
            load16(b, &c[r][0], &c[r][1], nc);
        else
            c[r][0] = c[r][1] = _mm256_setzero_ps();
    }
    int per_k = k1 > k0 ? (ahead_lines + (k1 - k0) - 1) / (k1 - k0) : 0; /* as in tile_rows */
    for (int kk = k0; kk < k1; kk++) {
        for (int line = (kk - k0) * per_k, stop = line + per_k; line < stop && line < ahead_lines; line++)
            _mm_prefetch(ahead + (size_t)line * 64, _MM_HINT_T1);
        __m256 w0 = _mm256_loadu_ps(half + (size_t)kk * NR), w1 = _mm256_loadu_ps(half + (size_t)kk * NR + 8);
#pragma GCC unroll 6
        for (int r = 0; r < AVX2_MR; r++) {
            if (r >= mr)
                continue;
            __m256 a = _mm256_broadcast_ss(x + (size_t)r * ldx + kk);
            c[r][0] = _mm256_fmadd_ps(a, w0, c[r][0]);
            c[r][1] = _mm256_fmadd_ps(a, w1, c[r][1]);
        }
    }
#pragma GCC unroll 6
    for (int r = 0; r < AVX2_MR; r++)
        if (r < mr)
            store16(y + (size_t)r * ldy, c[r][0], c[r][1], nc);
}

/* One row against np (1 or 2; a constant once inlined) whole panels from
 * panel0, k in order: eight chains for two panels, enough to keep the FMA
 * units busy while the weights stream in (a decode step at batch 1 reads
 * each weight once); nc of the np x 32 columns are stored. */
AVX2 static inline __attribute__((always_inline)) void row_panels_avx2(int np, float *y, const float *x, int k,
                                                                       const float *panel0, const float *b, int nc)
{
    __m256 c[8];
#pragma GCC unroll 8
    for (int v = 0; v < 8; v++)
        if (v < 4 * np)
            c[v] = b ? load8(b + 8 * v, nc - 8 * v) : _mm256_setzero_ps();
    for (int kk = 0; kk < k; kk++) {
        __m256 a = _mm256_broadcast_ss(x + kk);
#pragma GCC unroll 8
        for (int v = 0; v < 8; v++)
            if (v < 4 * np)
                c[v] = _mm256_fmadd_ps(a, _mm256_loadu_ps(panel0 + (size_t)(v / 4) * NR * k + (size_t)kk * NR + 8 * (v % 4)),
                                       c[v]);
    }
#pragma GCC unroll 8
    for (int v = 0; v < 8; v++)
        if (v < 4 * np)
            store8(y + 8 * v, c[v], nc - 8 * v);
}

AVX2 static void row_avx2(float *y, const float *x, int k, const float *packed, int n, const float *b)
{
    int panels = (n + NR - 1) / NR, p = 0;
    for (; p + 2 <= panels; p += 2) {
        int col = p * NR;
        row_panels_avx2(2, y + col, x, k, packed + (size_t)p * NR * k, b ? b + col : NULL, n - col);
    }
    if (p < panels) {
        int col = p * NR;
        row_panels_avx2(1, y + col, x, k, packed + (size_t)p * NR * k, b ? b + col : NULL, n - col);
    }
}

/* Rows [r0, r1) against every panel, half a panel at a time. */
AVX2 static void rows_by_panels_avx2(float *y, const float *x, int r0, int r1, int k, const float *packed, int n,
                                     const float *b)
{
    int panels = (n + NR - 1) / NR;
    for (int p = 0; p < panels; p++) {
        for (int h = 0; h < NR; h += 16) {
            int col = p * NR + h, nc = n - col < 16 ? n - col : 16;
            if (nc <= 0)
                break;
            const float *half = packed + (size_t)p * NR * k + h, *bias = b ? b + col : NULL;
            for (int k0 = 0; k0 < k || k0 == 0; k0 += KB) {
                int k1 = k0 + KB < k ? k0 + KB : k, first = k0 == 0;
                /* tiles as even as can be (32 rows: 6 6 5 5 5 5, not 6 x 5 + 2: a
                 * tile of 2 rows keeps too few sums in flight to hide the FMA latency) */
                int rows = r1 - r0, tiles = (rows + AVX2_MR - 1) / AVX2_MR;
                /* on their way into L2 while this block is used, a share to
                 * each tile: in the first half's pass the panel's next
                 * block (both halves: the second pass reads them from L2),
                 * in the second's the next panel's block at k0 */
                const char *next = (const char *)half;
                size_t ahead = 0;
                if (tiles > 1 && h == 0 && k1 < k) { /* (one tile reuses nothing: left to the hardware) */
                    next = (const char *)(packed + (size_t)p * NR * k + (size_t)k1 * NR);
                    ahead = (size_t)(k - k1 < KB ? k - k1 : KB) * NR * sizeof(float);
                } else if (tiles > 1 && h > 0 && p + 1 < panels) {
                    next = (const char *)(packed + (size_t)(p + 1) * NR * k + (size_t)k0 * NR);
                    ahead = (size_t)(k1 - k0) * NR * sizeof(float);
                }
#define TILE(R)                                                                                                        \
    tile_avx2(R, y + (size_t)r * n + col, n, x + (size_t)r * k, k, half, k0, k1, bias, nc, first, next + from,         \
              (int)((to - from + 63) / 64))
                for (int s = 0, r = r0, height; s < tiles; s++, r += height) {
                    size_t from = ahead * (size_t)s / (size_t)tiles / 64 * 64,
                           to = ahead * (size_t)(s + 1) / (size_t)tiles;
                    height = rows / tiles + (s < rows % tiles);
                    switch (height) {
                    case 6: TILE(6); break;
                    case 5: TILE(5); break;
                    case 4: TILE(4); break;
                    case 3: TILE(3); break;
                    case 2: TILE(2); break;
                    default: TILE(1); break;
                    }
                }
#undef TILE
                if (k == 0)
                    break;
            }
        }
    }
}

void nmt_gemm_packed(float *y, const float *x, int m, int k, const float *packed, int n, const float *b)
{
    /* activation rows in chunks of about 256 KB, so they stay in L2 while the
     * panels stream past (the weights are read once per chunk: once for a
     * decode step, a few times from L3 for a long encoder batch) */
    int chunk = k > 0 ? (int)(262144 / ((size_t)k * sizeof(float))) : m;
    if (chunk < 24)
        chunk = 24;
    /* chunks as even as can be (both kernels split a chunk into even tiles):
     * 32 rows of k = 2048 are one chunk, not 24 + 8 */
    int chunks = (m + chunk - 1) / chunk;
    chunk = chunks > 0 ? (m + chunks - 1) / chunks : m;
    int avx512 = chosen() == PACKED_AVX512;
    if (!avx512 && m == 1) {
        row_avx2(y, x, k, packed, n, b);
        return;
    }
    for (int r0 = 0; r0 < m; r0 += chunk) {
        int r1 = r0 + chunk < m ? r0 + chunk : m;
        if (avx512)
            rows_by_panels(y, x, r0, r1, k, packed, n, b);
        else
            rows_by_panels_avx2(y, x, r0, r1, k, packed, n, b);
    }
}

#else /* not x86-64 GCC: never available */

int nmt_gemm_packed_available(void) { return 0; }
const char *nmt_gemm_packed_kernel(void) { return NULL; }

void nmt_gemm_packed(float *y, const float *x, int m, int k, const float *packed, int n, const float *b)
{
    (void)y, (void)x, (void)m, (void)k, (void)packed, (void)n, (void)b;
}

#endif
