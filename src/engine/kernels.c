/* kernels.c: numeric kernels (see kernels.h).  Linear layers go to the
 * product of their weights' form (int8, bfloat16, packed fp32) or else to
 * OpenBLAS; the rest are plain loops written so that the compiler
 * vectorises them, but for attention's scores on AVX-512, which add up 16
 * keys' partial sums at once (the same bits). */
#include "kernels.h"

#include <cblas.h>
#include <math.h>

#include "approx_exp.h"
#include "float_convert.h"
#include "gemm.h"

/* Compiled for AVX-512, AVX2 and baseline x86-64; the loader picks one at
 * start-up (GCC function multi-versioning).  Not under ThreadSanitizer:
 * the ifunc resolvers run before its runtime is up and would crash. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_THREAD__)
#define NMT_MULTIVERSION __attribute__((target_clones("avx512f", "avx2,fma", "default")))
#else
#define NMT_MULTIVERSION
#endif


void nmt_linear(float *y, const float *x, int n, int in, int out, const nmt_linear_w *lw)
{
    const float *w = lw->w, *b = lw->b;
    if (lw->q8) {
        nmt_q8_linear(y, x, n, lw->q8, b);
        return;
    }
    if (lw->bf16) {
        nmt_bf16_linear(y, x, n, lw->bf16, b);
        return;
    }
    if (lw->packed) {
        nmt_gemm_packed(y, x, n, in, lw->packed, out, b);
        return;
    }
    if (n == 1)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, out, in, 1.0f, w, in, x, 1, 0.0f, y, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, in, 1.0f, x, in, w, in, 0.0f, y, out);
    if (b) {
        for (int r = 0; r < n; r++) {
            float *row = y + (size_t)r * out;
            for (int j = 0; j < out; j++)
                row[j] += b[j];
        }
    }
}

_Static_assert(NMT_LINEAR_BLOCK_ALIGN % NMT_GEMM_PANEL == 0 && NMT_LINEAR_BLOCK_ALIGN % NMT_Q8_PANEL == 0 &&
                   NMT_LINEAR_BLOCK_ALIGN % NMT_BF16_PANEL == 0,
               "a block of columns is whole panels of every kernel");

void nmt_linear_blocks(float *buf, const float *x, int n, int in, int out, const nmt_linear_w *lw, int block,
                       nmt_column_sink sink, void *ctx)
{
    if (lw->q8) {
        nmt_q8_linear_blocks(buf, x, n, lw->q8, lw->b, block, sink, ctx);
        return;
    }
    for (int j0 = 0; j0 < out; j0 += block) {
        int nc = out - j0 < block ? out - j0 : block;
        nmt_bf16_matrix bf16;
        nmt_linear_w cols = {.b = lw->b ? lw->b + j0 : NULL};
        if (lw->bf16) {
            bf16 = nmt_bf16_columns(lw->bf16, j0, nc);
            cols.bf16 = &bf16;
        } else if (lw->packed) {
            cols.packed = nmt_gemm_packed_columns(lw->packed, in, j0);
        } else {
            cols.w = lw->w + (size_t)j0 * in;
        }
        nmt_linear(buf, x, n, in, nc, &cols);
        sink(ctx, buf, n, j0, nc);
    }
}

void nmt_linear_shared(float *const *ys, const float *x, int n, int in, int out, const nmt_linear_w *const *lws,
                       int count)
{
    int all_q8 = count > 0 && count <= NMT_LINEAR_SHARED_MAX;
    for (int i = 0; i < count && all_q8; i++)
        all_q8 = lws[i]->q8 != NULL;
    if (!all_q8) {
        for (int i = 0; i < count; i++)
            nmt_linear(ys[i], x, n, in, out, lws[i]);
        return;
    }
    const nmt_q8_matrix *qs[NMT_LINEAR_SHARED_MAX];
    const float *bs[NMT_LINEAR_SHARED_MAX];
    for (int i = 0; i < count; i++) {
        qs[i] = lws[i]->q8;
        bs[i] = lws[i]->b;
    }
    nmt_q8_linear_shared(ys, x, n, qs, bs, count);
}

/* The mean and variance of row[0..d), each sum in order. */
static inline void ordered_moments(const float *row, int d, float *mean, float *var)
{
    float m = 0.0f;
    for (int i = 0; i < d; i++)
        m += row[i];
    m /= (float)d;
    float v = 0.0f;
    for (int i = 0; i < d; i++) {
        float c = row[i] - m;
        v += c * c;
    }
    *mean = m;
    *var = v / (float)d;
}

/* The same with each sum in 16 running sums, then those added in order. */
static inline void lane_moments(const float *restrict row, int d, float *mean, float *var)
{
    float s[16] = {0}, c[16];
    int i = 0;
    for (; i + 16 <= d; i += 16)
        for (int j = 0; j < 16; j++)
            s[j] += row[i + j];
    for (; i < d; i++)
        s[i % 16] += row[i];
    float m = 0.0f;
    for (int j = 0; j < 16; j++)
        m += s[j];
    m /= (float)d;
    for (int j = 0; j < 16; j++)
        s[j] = 0.0f;
    for (i = 0; i + 16 <= d; i += 16) {
        for (int j = 0; j < 16; j++)
            c[j] = row[i + j] - m;
        for (int j = 0; j < 16; j++)
            s[j] += c[j] * c[j];
    }
    for (; i < d; i++)
        s[i % 16] += (row[i] - m) * (row[i] - m);
    float v = 0.0f;
    for (int j = 0; j < 16; j++)
        v += s[j];
    *mean = m;
    *var = v / (float)d;
}

/* Both layer norms: the residual added, the moments (lanes: in 16 lanes),
 * the row normalised. */
static inline __attribute__((always_inline)) void add_layer_norm(float *x, const float *delta, int n, int d,
                                                                 const float *gamma, const float *beta, float eps,
                                                                 int lanes)
{
    for (int r = 0; r < n; r++) {
        float *row = x + (size_t)r * d, mean, var;
        if (delta) {
            const float *dr = delta + (size_t)r * d;
            for (int i = 0; i < d; i++)
                row[i] += dr[i];
        }
        if (lanes)
            lane_moments(row, d, &mean, &var);
        else
            ordered_moments(row, d, &mean, &var);
        float inv = 1.0f / sqrtf(var + eps);
        for (int i = 0; i < d; i++)
            row[i] = (row[i] - mean) * inv * gamma[i] + beta[i];
    }
}

void nmt_add_layer_norm(float *x, const float *delta, int n, int d, const float *gamma, const float *beta,
                        float eps)
{
    add_layer_norm(x, delta, n, d, gamma, beta, eps, 0);
}

NMT_MULTIVERSION
void nmt_add_layer_norm_lanes(float *x, const float *delta, int n, int d, const float *gamma, const float *beta,
                              float eps)
{
    add_layer_norm(x, delta, n, d, gamma, beta, eps, 1);
}

void nmt_softmax(float *x, int n)
{
    float max = -INFINITY;
    for (int i = 0; i < n; i++)
        if (x[i] > max)
            max = x[i];
    if (max == -INFINITY) {
        for (int i = 0; i < n; i++)
            x[i] = 0.0f;
        return;
    }
    float sum = 0.0f;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - max);
        sum += x[i];
    }
    float inv = 1.0f / sum;
    for (int i = 0; i < n; i++)
        x[i] *= inv;
}

void nmt_activate(float *x, size_t n, nmt_activation act)
{
    switch (act) {
    case NMT_ACT_SWISH:
        for (size_t i = 0; i < n; i++)
            x[i] = x[i] / (1.0f + expf(-x[i]));
        break;
    case NMT_ACT_RELU:
        for (size_t i = 0; i < n; i++)
            x[i] = x[i] > 0.0f ? x[i] : 0.0f;
        break;
    case NMT_ACT_GELU:
        for (size_t i = 0; i < n; i++)
            x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * (float)M_SQRT1_2));
        break;
    case NMT_ACT_GELU_TANH:
        for (size_t i = 0; i < n; i++) {
            float v = x[i];
            x[i] = 0.5f * v * (1.0f + tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v)));
        }
        break;
    }
}

void nmt_activate_approx(float *x, size_t n, nmt_activation act)
{
    if (act == NMT_ACT_SWISH)
        nmt_swish_approx(x, n);
    else
        nmt_activate(x, n, act);
}

void nmt_sinusoid_table(float *out, int n_pos, int d)
{
    int half = (d + 1) / 2; /* sin columns; cos take the rest */
    for (int p = 0; p < n_pos; p++) {
        float *row = out + (size_t)p * d;
        for (int j = 0; j < d; j++) {
            /* Column j of the interleaved table has exponent 2*(j/2)/d; sin
             * takes the even columns, cos the odd ones, each packed in order. */
            int src = j < half ? 2 * j : 2 * (j - half) + 1;
            double angle = (double)p / pow(10000.0, 2.0 * (double)(src / 2) / (double)d);
            row[j] = (float)(j < half ? sin(angle) : cos(angle));
        }
    }
}

/* The largest value of x[0..n), 16 running maxima so the loop vectorises. */
NMT_MULTIVERSION
static float max_value(const float *restrict x, int n)
{
    float m[16];
    int i = 0;
    for (int j = 0; j < 16; j++)
        m[j] = -INFINITY;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++)
            m[j] = x[i + j] > m[j] ? x[i + j] : m[j];
    float best = -INFINITY;
    for (int j = 0; j < 16; j++)
        best = m[j] > best ? m[j] : best;
    for (; i < n; i++)
        best = x[i] > best ? x[i] : best;
    return best;
}

/* The first index of v in x[0..n), or -1: blocks of 64 tested whole (no
 * early exit inside, so the loop vectorises), then the block that has it
 * scanned. */
NMT_MULTIVERSION
static int first_index_of(const float *restrict x, int n, float v)
{
    int i = 0;
    for (; i + 64 <= n; i += 64) {
        int hit = 0;
        for (int j = 0; j < 64; j++)
            hit |= x[i + j] == v;
        if (hit)
            break;
    }
    for (; i < n; i++)
        if (x[i] == v)
            return i;
    return -1;
}

int nmt_argmax(const float *x, int n, int ban_a, int ban_b)
{
    /* the common case: the maximum is not banned; find it, then its first
     * index; else (banned, or NaN) a full scan */
    int first = first_index_of(x, n, max_value(x, n));
    if (first >= 0 && first != ban_a && first != ban_b)
        return first;
    int arg = -1;
    float arg_v = 0.0f;
    for (int i = 0; i < n; i++) {
        if (i == ban_a || i == ban_b)
            continue;
        if (arg < 0 || x[i] > arg_v) {
            arg = i;
            arg_v = x[i];
        }
    }
    return arg;
}

/* Element i of keys or values stored as floats, or as bfloat16 (bf16: a
 * constant once inlined). */
static inline __attribute__((always_inline)) float value_at(const void *restrict p, size_t i, int bf16)
{
    return bf16 ? nmt_bf16_to_f32(((const uint16_t *)p)[i]) : ((const float *)p)[i];
}

/* 16 independent partial sums, so the loop vectorises without reassociation. */
static inline __attribute__((always_inline)) float dot(const float *restrict a, const void *restrict b, int n,
                                                       int bf16)
{
    float acc[16] = {0};
    int i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++)
            acc[j] += a[i + j] * value_at(b, (size_t)(i + j), bf16);
    float s = 0.0f;
    for (int j = 0; j < 16; j++)
        s += acc[j];
    for (; i < n; i++)
        s += a[i] * value_at(b, (size_t)i, bf16);
    return s;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#include "cpu_features.h"

#define AVX512 __attribute__((target("avx512f")))

/* The 16 lanes of a key's dot() partial sums (acc[0..15], as dot() keeps
 * them: products added in i order, no fused multiply-add). */
AVX512 static inline __attribute__((always_inline)) __m512 partial_sums(const float *restrict a, const void *restrict b,
                                                                      int n, int bf16)
{
    __m512 acc = _mm512_setzero_ps();
    for (int i = 0; i < n; i += 16) {
        __m512 w = bf16 ? _mm512_castsi512_ps(_mm512_slli_epi32(
                              _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)((const uint16_t *)b + i))), 16))
                        : _mm512_loadu_ps((const float *)b + i);
        acc = _mm512_add_ps(acc, _mm512_mul_ps(_mm512_loadu_ps(a + i), w));
    }
    return acc;
}

/* Row j of 16 x 16 floats in r[j] becomes column j. */
AVX512 static inline __attribute__((always_inline)) void transpose16(__m512 r[16])
{
    __m512 t[16];
    for (int j = 0; j < 16; j += 2) {
        t[j] = _mm512_unpacklo_ps(r[j], r[j + 1]);
        t[j + 1] = _mm512_unpackhi_ps(r[j], r[j + 1]);
    }
    for (int j = 0; j < 16; j += 4)
        for (int e = 0; e < 2; e++) { /* t[j + e] holds lanes 2e, 2e + 1 of rows j, j + 1 */
            __m512d a = _mm512_castps_pd(t[j + e]), b = _mm512_castps_pd(t[j + 2 + e]);
            r[j + 2 * e] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, b));
            r[j + 2 * e + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, b));
        }
    for (int j = 0; j < 16; j += 8)
        for (int e = 0; e < 4; e++) {
            t[j + e] = _mm512_shuffle_f32x4(r[j + e], r[j + 4 + e], 0x88);
            t[j + 4 + e] = _mm512_shuffle_f32x4(r[j + e], r[j + 4 + e], 0xdd);
        }
    for (int e = 0; e < 8; e++) {
        r[e] = _mm512_shuffle_f32x4(t[e], t[8 + e], 0x88);
        r[8 + e] = _mm512_shuffle_f32x4(t[e], t[8 + e], 0xdd);
    }
}

/* Every head's scores against keys j0 .. j0+nk-1 (nk <= 16): each key's
 * 16 partial sums per head as dot() makes them, the key's row read once in
 * memory order (all heads) into part; then per head the 16 keys' partial
 * sums transposed (a lane of a vector per key) and added up lane 0 to 15
 * in dot()'s order, instead of one chain of 16 scalar additions per key.
 * The same bits as dot().  (Reading one head's slice of 16 keys at a
 * time, 2 KB apart, missed L1 at every slice on an AMD Zen 5.) */
enum { SCORES_MAX_HEADS = 16 };
AVX512 static inline __attribute__((always_inline)) void scores_of_16(float *restrict scores, const float *restrict q,
                                                                     const char *restrict k, size_t key_bytes, int j0,
                                                                     int nk, int n_keys, int heads, int hd, int bf16)
{
    __m512 part[SCORES_MAX_HEADS][16]; /* [head][key] */
    size_t width = bf16 ? 2 : 4;
    for (int j = 0; j < nk; j++) {
        const char *row = k + (size_t)(j0 + j) * key_bytes;
        for (int h = 0; h < heads; h++)
            part[h][j] = partial_sums(q + (size_t)h * (size_t)hd, row + (size_t)h * (size_t)hd * width, hd, bf16);
    }
    for (int h = 0; h < heads; h++) {
        __m512 r[16];
        for (int j = 0; j < 16; j++)
            r[j] = j < nk ? part[h][j] : _mm512_setzero_ps();
        transpose16(r);
        __m512 sum = _mm512_setzero_ps();
        for (int l = 0; l < 16; l++)
            sum = _mm512_add_ps(sum, r[l]);
        _mm512_mask_storeu_ps(scores + (size_t)h * (size_t)n_keys + j0,
                              (__mmask16)(nk >= 16 ? 0xffff : (1u << nk) - 1), sum);
    }
}

/* Every head's scores against n_keys keys (hd a multiple of 16, at most
 * SCORES_MAX_HEADS heads), 16 keys at a time. */
AVX512 static void scores_avx512(float *restrict scores, const float *restrict q, const void *restrict k, int n_keys,
                                 int heads, int hd, size_t stride, int bf16)
{
    size_t key_bytes = stride * (bf16 ? 2 : 4);
    for (int j0 = 0; j0 < n_keys; j0 += 16) {
        int nk = n_keys - j0 < 16 ? n_keys - j0 : 16;
        if (bf16)
            scores_of_16(scores, q, k, key_bytes, j0, nk, n_keys, heads, hd, 1);
        else
            scores_of_16(scores, q, k, key_bytes, j0, nk, n_keys, heads, hd, 0);
    }
}

static int scores_fast(int hd, int heads)
{
    return hd % 16 == 0 && heads <= SCORES_MAX_HEADS && nmt_cpu_features_get()->avx512;
}
#else
static int scores_fast(int hd, int heads)
{
    (void)hd, (void)heads;
    return 0;
}
static void scores_avx512(float *restrict scores, const float *restrict q, const void *restrict k, int n_keys,
                          int heads, int hd, size_t stride, int bf16)
{
    (void)scores, (void)q, (void)k, (void)n_keys, (void)heads, (void)hd, (void)stride, (void)bf16;
}
#endif

/* nmt_attend_heads over keys and values of either form (bf16 a constant once
 * inlined).  Keys and values are read in memory order, one row of all heads
 * at a time, so the cache's rows stream in instead of being visited once per
 * head at a stride of d; each sum keeps the order of a head at a time (every
 * score one dot(), every output element 0 + p_0 v_0 + p_1 v_1 + ...), so the
 * results are the same bits as head by head. */
static inline __attribute__((always_inline)) void attend_heads(float *restrict out, const float *restrict q,
                                                               const void *restrict k, const void *restrict v,
                                                               int n_keys, int heads, int hd, size_t stride,
                                                               float *restrict scores, int bf16)
{
    size_t width = bf16 ? 2 : 4, d = (size_t)heads * (size_t)hd;
    if (scores_fast(hd, heads))
        scores_avx512(scores, q, k, n_keys, heads, hd, stride, bf16);
    else
        for (int j = 0; j < n_keys; j++) {
            const char *row = (const char *)k + (size_t)j * stride * width;
            for (int h = 0; h < heads; h++)
                scores[(size_t)h * (size_t)n_keys + (size_t)j] =
                    dot(q + (size_t)h * (size_t)hd, row + (size_t)h * (size_t)hd * width, hd, bf16);
        }
    for (int h = 0; h < heads; h++)
        nmt_softmax(scores + (size_t)h * (size_t)n_keys, n_keys);
    for (size_t e = 0; e < d; e++)
        out[e] = 0.0f;
    /* out_h += p_hj v_j, one value row at a time */
    for (int j = 0; j < n_keys; j++) {
        size_t at = (size_t)j * stride;
        for (int h = 0; h < heads; h++) {
            float p = scores[(size_t)h * (size_t)n_keys + (size_t)j];
            float *restrict o = out + (size_t)h * (size_t)hd;
            size_t base = at + (size_t)h * (size_t)hd;
            int i = 0;
            for (; i + 16 <= hd; i += 16) /* 16 lanes, as in dot() */
                for (int t = 0; t < 16; t++)
                    o[i + t] += p * value_at(v, base + (size_t)(i + t), bf16);
            for (; i < hd; i++)
                o[i] += p * value_at(v, base + (size_t)i, bf16);
        }
    }
}

NMT_MULTIVERSION
void nmt_attend_heads(float *restrict out, const float *restrict q, const float *restrict k, const float *restrict v,
                      int n_keys, int heads, int hd, size_t stride, float *restrict scores)
{
    attend_heads(out, q, k, v, n_keys, heads, hd, stride, scores, 0);
}

NMT_MULTIVERSION
void nmt_attend_heads_bf16(float *restrict out, const float *restrict q, const uint16_t *restrict k,
                           const uint16_t *restrict v, int n_keys, int heads, int hd, size_t stride,
                           float *restrict scores)
{
    attend_heads(out, q, k, v, n_keys, heads, hd, stride, scores, 1);
}
