/* approx_exp.c: e^x and swish on a polynomial (see approx_exp.h).
 *
 * e^x = 2^n e^r with n = rint(x log2 e) and r = x - n ln 2 (ln 2 in two
 * parts, each step a fused multiply-add, so r is nearly exact), |r| <=
 * ln2 / 2; e^r = 1 + r + r^2 P(r), P Cephes' degree-5 fit (expf's, about
 * 1 ulp); 2^n built in the exponent bits (n in [-126, 127] after the
 * clamp, always a normal number). */
#include "approx_exp.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "cpu_features.h"
#include "kernel_override.h"

#define EXP_LO (-87.0f)
#define EXP_HI 88.0f
#define LOG2E 1.44269504088896341f
#define LN2_HI 0.693359375f    /* ln 2 to 10 bits: n * LN2_HI is exact */
#define LN2_LO (-2.12194440e-4f) /* ln 2 - LN2_HI */
#define P0 1.9875691500e-4f
#define P1 1.3981999507e-3f
#define P2 8.3334519073e-3f
#define P3 4.1665795894e-2f
#define P4 1.6666665459e-1f
#define P5 5.0000001201e-1f

float nmt_exp_approx(float x)
{
    x = !(x >= EXP_LO) ? EXP_LO : x > EXP_HI ? EXP_HI : x; /* NaN too, as the vector form (MAXPS) */
    float n = rintf(x * LOG2E);
    float r = fmaf(n, -LN2_HI, x);
    r = fmaf(n, -LN2_LO, r);
    float p = fmaf(P0, r, P1);
    p = fmaf(p, r, P2);
    p = fmaf(p, r, P3);
    p = fmaf(p, r, P4);
    p = fmaf(p, r, P5);
    float e = fmaf(p, r * r, r) + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return e * scale;
}

static void swish_portable(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = x[i] / (1.0f + nmt_exp_approx(-x[i]));
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma")))

/* nmt_exp_approx on 8 lanes: the same operations in the same order. */
AVX2 static inline __m256 exp8(__m256 x)
{
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(EXP_LO)), _mm256_set1_ps(EXP_HI));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fmadd_ps(n, _mm256_set1_ps(-LN2_HI), x);
    r = _mm256_fmadd_ps(n, _mm256_set1_ps(-LN2_LO), r);
    __m256 p = _mm256_fmadd_ps(_mm256_set1_ps(P0), r, _mm256_set1_ps(P1));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P2));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P4));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P5));
    __m256 e = _mm256_add_ps(_mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r), _mm256_set1_ps(1.0f));
    __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(e, _mm256_castsi256_ps(bits));
}

AVX2 static void swish_avx2(float *x, size_t n)
{
    const __m256 one = _mm256_set1_ps(1.0f), sign = _mm256_set1_ps(-0.0f);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        _mm256_storeu_ps(x + i, _mm256_div_ps(v, _mm256_add_ps(one, exp8(_mm256_xor_ps(v, sign)))));
    }
    swish_portable(x + i, n - i);
}

void nmt_swish_approx(float *x, size_t n)
{
    static _Atomic int avx2 = -1;
    if (avx2 < 0)
        avx2 = nmt_kernel_override_allows(NMT_TIER_AVX2) && nmt_cpu_features_get()->avx2_fma;
    if (avx2)
        swish_avx2(x, n);
    else
        swish_portable(x, n);
}

#else

void nmt_swish_approx(float *x, size_t n) { swish_portable(x, n); }

#endif
