/* gemm.c: an unpacked AVX-512 GEMM for few rows (see gemm.h).
 * Tiles of 4 activation rows x 4 weight rows: each step of 16 along k loads
 * 4 + 4 vectors and issues 16 FMAs into 16 accumulators; the accumulators are
 * reduced to 16 dot products at the end of k.  The weight rows of a tile are
 * reused from L1/L2 across all row tiles, so the weights stream from memory
 * once per call.  Rows beyond m (or n) in an edge tile repeat the last valid
 * row and their results are not stored. */
#include "gemm.h"

#include <stddef.h>

#define ROW_CHUNK 64

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define TARGET __attribute__((target("avx512f,avx2,fma")))

/* Sums each of a0..a3 to one float: returns [sum a0, sum a1, sum a2, sum a3]. */
TARGET static inline __m128 reduce4(__m512 a0, __m512 a1, __m512 a2, __m512 a3)
{
    __m256 h0 = _mm256_add_ps(_mm512_castps512_ps256(a0), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a0), 1)));
    __m256 h1 = _mm256_add_ps(_mm512_castps512_ps256(a1), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a1), 1)));
    __m256 h2 = _mm256_add_ps(_mm512_castps512_ps256(a2), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a2), 1)));
    __m256 h3 = _mm256_add_ps(_mm512_castps512_ps256(a3), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a3), 1)));
    __m256 s = _mm256_hadd_ps(_mm256_hadd_ps(h0, h1), _mm256_hadd_ps(h2, h3));
    return _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
}

TARGET static void tile4x4(float *y, int ldy, const float *x, int mr, int k, const float *w, int nr, const float *b)
{
    const float *x0 = x, *x1 = x + (size_t)(mr > 1 ? 1 : 0) * k, *x2 = x + (size_t)(mr > 2 ? 2 : 0) * k,
                *x3 = x + (size_t)(mr > 3 ? 3 : 0) * k;
    const float *w0 = w, *w1 = w + (size_t)(nr > 1 ? 1 : 0) * k, *w2 = w + (size_t)(nr > 2 ? 2 : 0) * k,
                *w3 = w + (size_t)(nr > 3 ? 3 : 0) * k;
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00, c13 = c00,
           c20 = c00, c21 = c00, c22 = c00, c23 = c00, c30 = c00, c31 = c00, c32 = c00, c33 = c00;
    for (int i = 0; i < k; i += 16) {
        __m512 b0 = _mm512_loadu_ps(w0 + i), b1 = _mm512_loadu_ps(w1 + i), b2 = _mm512_loadu_ps(w2 + i),
               b3 = _mm512_loadu_ps(w3 + i);
        __m512 a = _mm512_loadu_ps(x0 + i);
        c00 = _mm512_fmadd_ps(a, b0, c00);
        c01 = _mm512_fmadd_ps(a, b1, c01);
        c02 = _mm512_fmadd_ps(a, b2, c02);
        c03 = _mm512_fmadd_ps(a, b3, c03);
        a = _mm512_loadu_ps(x1 + i);
        c10 = _mm512_fmadd_ps(a, b0, c10);
        c11 = _mm512_fmadd_ps(a, b1, c11);
        c12 = _mm512_fmadd_ps(a, b2, c12);
        c13 = _mm512_fmadd_ps(a, b3, c13);
        a = _mm512_loadu_ps(x2 + i);
        c20 = _mm512_fmadd_ps(a, b0, c20);
        c21 = _mm512_fmadd_ps(a, b1, c21);
        c22 = _mm512_fmadd_ps(a, b2, c22);
        c23 = _mm512_fmadd_ps(a, b3, c23);
        a = _mm512_loadu_ps(x3 + i);
        c30 = _mm512_fmadd_ps(a, b0, c30);
        c31 = _mm512_fmadd_ps(a, b1, c31);
        c32 = _mm512_fmadd_ps(a, b2, c32);
        c33 = _mm512_fmadd_ps(a, b3, c33);
    }
    __m128 bias = _mm_setzero_ps();
    if (b) {
        float bb[4] = {b[0], b[nr > 1 ? 1 : 0], b[nr > 2 ? 2 : 0], b[nr > 3 ? 3 : 0]};
        bias = _mm_loadu_ps(bb);
    }
    __m128 r[4] = {_mm_add_ps(reduce4(c00, c01, c02, c03), bias), _mm_add_ps(reduce4(c10, c11, c12, c13), bias),
                   _mm_add_ps(reduce4(c20, c21, c22, c23), bias), _mm_add_ps(reduce4(c30, c31, c32, c33), bias)};
    for (int i = 0; i < mr; i++) {
        if (nr == 4) {
            _mm_storeu_ps(y + (size_t)i * ldy, r[i]);
        } else {
            float tmp[4];
            _mm_storeu_ps(tmp, r[i]);
            for (int j = 0; j < nr; j++)
                y[(size_t)i * ldy + j] = tmp[j];
        }
    }
}

/* One activation row against 8 weight rows: the batch-1 case, bound by
 * reading the weights. */
TARGET static void tile1x8(float *y, const float *x, int k, const float *w, int nr, const float *b)
{
    const float *wr[8];
    for (int j = 0; j < 8; j++)
        wr[j] = w + (size_t)(j < nr ? j : 0) * k;
    __m512 c0 = _mm512_setzero_ps(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;
    for (int i = 0; i < k; i += 16) {
        __m512 a = _mm512_loadu_ps(x + i);
        c0 = _mm512_fmadd_ps(a, _mm512_loadu_ps(wr[0] + i), c0);
        c1 = _mm512_fmadd_ps(a, _mm512_loadu_ps(wr[1] + i), c1);
        c2 = _mm512_fmadd_ps(a, _mm512_loadu_ps(wr[2] + i), c2);
        c3 = _mm512_fmadd_ps(a, _mm512_loadu_ps(wr[3] + i), c3);
        c4 = _mm512_fmadd_ps(a, _mm512_loadu_ps(wr[4] + i), c4);
        c5 = _mm512_fmadd_ps(a, _mm512_loadu_ps(wr[5] + i), c5);
        c6 = _mm512_fmadd_ps(a, _mm512_loadu_ps(wr[6] + i), c6);
        c7 = _mm512_fmadd_ps(a, _mm512_loadu_ps(wr[7] + i), c7);
    }
    float out[8];
    _mm_storeu_ps(out, reduce4(c0, c1, c2, c3));
    _mm_storeu_ps(out + 4, reduce4(c4, c5, c6, c7));
    for (int j = 0; j < nr; j++)
        y[j] = out[j] + (b ? b[j] : 0.0f);
}

int nmt_gemm_small_ok(int m, int k)
{
    static int has_avx512 = -1;
    if (has_avx512 < 0)
        has_avx512 = __builtin_cpu_supports("avx512f") ? 1 : 0;
    return has_avx512 && m >= 1 && k >= 16 && k % 16 == 0;
}

TARGET void nmt_gemm_small(float *y, const float *x, int m, int k, const float *w, int n, const float *b)
{
    if (m == 1) {
        for (int j = 0; j < n; j += 8)
            tile1x8(y + j, x, k, w + (size_t)j * k, n - j < 8 ? n - j : 8, b ? b + j : NULL);
        return;
    }
    /* ROW_CHUNK activation rows stay in L2 while all of W streams past them */
    for (int i0 = 0; i0 < m; i0 += ROW_CHUNK) {
        int rows = m - i0 < ROW_CHUNK ? m - i0 : ROW_CHUNK;
        for (int j = 0; j < n; j += 4) {
            int nr = n - j < 4 ? n - j : 4;
            for (int i = i0; i < i0 + rows; i += 4)
                tile4x4(y + (size_t)i * n + j, n, x + (size_t)i * k, i0 + rows - i < 4 ? i0 + rows - i : 4, k,
                        w + (size_t)j * k, nr, b ? b + j : NULL);
        }
    }
}

#else /* not x86-64 GCC: never chosen */

int nmt_gemm_small_ok(int m, int k)
{
    (void)m;
    (void)k;
    return 0;
}

void nmt_gemm_small(float *y, const float *x, int m, int k, const float *w, int n, const float *b)
{
    (void)y; (void)x; (void)m; (void)k; (void)w; (void)n; (void)b;
}

#endif
