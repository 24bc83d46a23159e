/* qgemm.c: int8 weights quantized per row to +-127 or +-32 (the format of
 * the kernel, qgemm.h) and stored in panels, activations per row to +-127
 * and offset to unsigned bytes, int32 sums; a portable kernel and an AVX2
 * one, and the choice among them and qgemm_avx512.c's (see qgemm.h). */
#include "qgemm.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_features.h"
#include "huge_alloc.h"
#include "kernel_override.h"
#include "qgemm_kernels.h"
#include "util.h"

#define KP_ALIGN 64 /* one AMX tile row of bytes */
#define PANEL NMT_Q8_PANEL
#define QUAD NMT_Q8_QUAD

/* The quantization levels: activations in [-127, 127] stored as the
 * unsigned byte value + 128, weights in [-127, 127] for the kernels whose
 * int32 sums are exact whatever the bytes (VPDPBUSD, TDPBUSD, portable C),
 * in [-32, 32] for VPMADDUBSW: four products of an activation byte and
 * such a weight sum to at most 4 * 255 * 32 = 32640, inside int16, so the
 * AVX2 kernel adds two VPMADDUBSW results before widening them (see
 * mac_four).  Activations, not weights, keep eight bits: they have
 * outliers, weight rows are smooth; on the demo model's held-out sentences
 * seven-bit activations lost 0.1% exact where six-bit weights lost 0.05%
 * of float32's text. */
enum {
    WIDE_WEIGHT_LEVELS = NMT_Q8_WIDE_LEVELS,
    NARROW_WEIGHT_LEVELS = NMT_Q8_NARROW_LEVELS,
    ACTIVATION_LEVELS = 127,
    ACTIVATION_OFFSET = NMT_Q8_ACTIVATION_OFFSET
};

/* Row length k padded to whole 64-byte steps of the kernels. */
static int padded(int k) { return (k + KP_ALIGN - 1) / KP_ALIGN * KP_ALIGN; }

static int panels_for(int n) { return (n + PANEL - 1) / PANEL; }

/* Where W[j][t] lies in q->w. */
static size_t weight_at(const nmt_q8_matrix *q, int j, int t)
{
    return (((size_t)(j / PANEL) * (q->kp / QUAD) + (size_t)(t / QUAD)) * PANEL + (size_t)(j % PANEL)) * QUAD +
           (size_t)(t % QUAD);
}

/* ---- per-thread scratch --------------------------------------------- */

typedef struct scratch {
    uint8_t *xq; /* [m][kp] quantized activations + ACTIVATION_OFFSET */
    float *sx;   /* [m] their scales */
    size_t cap_xq, cap_sx;
} scratch;

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_free(void *p)
{
    scratch *s = p;
    if (s) {
        free(s->xq);
        free(s->sx);
        free(s);
    }
}

static void scratch_init(void) { pthread_key_create(&scratch_key, scratch_free); }

/* p (*cap elements of size bytes) with room for need > 0 elements: p
 * itself, or p grown (*cap updated), or NULL when out of memory (p kept). */
static void *grow(void *p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return p;
    void *grown = realloc(p, need * size);
    if (grown)
        *cap = need;
    return grown;
}

/* This thread's scratch with room for m rows of kp; NULL when out of memory. */
static scratch *thread_scratch(int m, int kp)
{
    pthread_once(&scratch_once, scratch_init);
    scratch *s = pthread_getspecific(scratch_key);
    if (!s) {
        if (!(s = calloc(1, sizeof *s)))
            return NULL;
        pthread_setspecific(scratch_key, s);
    }
    if ((size_t)m * kp > s->cap_xq) { /* rewritten by every call: nothing to keep */
        uint8_t *xq = nmt_malloc_aligned((size_t)m, (size_t)kp);
        if (!xq)
            return NULL;
        free(s->xq);
        s->xq = xq;
        s->cap_xq = (size_t)m * kp;
    }
    float *sx = grow(s->sx, &s->cap_sx, (size_t)m, sizeof *s->sx);
    if (!sx)
        return NULL;
    s->sx = sx;
    return s;
}

/* ---- quantization --------------------------------------------------- */

/* dst[0..k) = round(x / scale) + offset with scale = max |x| / levels
 * (round half to even, as lrintf in the default mode), the rest of kp the
 * offset alone; bytes modulo 256 (a weight -1 is 255, read back as int8).
 * Returns scale. */
typedef float (*quantize_fn)(const float *x, int k, int kp, int levels, int offset, uint8_t *dst);
static quantize_fn chosen_quantize(void);

static float quantize_generic(const float *x, int k, int kp, int levels, int offset, uint8_t *dst)
{
    float amax = 0.0f;
    for (int t = 0; t < k; t++) {
        float a = fabsf(x[t]);
        if (a > amax)
            amax = a;
    }
    float scale = amax > 0.0f ? amax / (float)levels : 1.0f, inv = 1.0f / scale;
    for (int t = 0; t < kp; t++) {
        long v = t < k ? lrintf(x[t] * inv) : 0;
        v = v > levels ? levels : v < -levels ? -levels : v;
        dst[t] = (uint8_t)((v + offset) & 0xff);
    }
    return scale;
}

nmt_code nmt_q8_alloc(nmt_q8_matrix *q, int n, int k, int levels, nmt_err *err)
{
    memset(q, 0, sizeof *q);
    q->n = n;
    q->k = k;
    q->levels = levels;
    q->kp = padded(k);
    q->w = nmt_huge_alloc((size_t)panels_for(n) * PANEL * (size_t)q->kp);
    q->scale = malloc((size_t)n * sizeof *q->scale);
    q->offset_sum = malloc((size_t)n * sizeof *q->offset_sum);
    if (!q->w || !q->scale || !q->offset_sum) {
        nmt_q8_free(q);
        return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory quantizing a %d x %d matrix", n, k);
    }
    return NMT_OK;
}

nmt_code nmt_q8_set_rows(nmt_q8_matrix *q, const float *w, int j0, int count, nmt_err *err)
{
    uint8_t *row = malloc((size_t)q->kp);
    if (!row)
        return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory quantizing a %d x %d matrix", q->n, q->k);
    for (int r = 0; r < count; r++) {
        int j = j0 + r;
        q->scale[j] = chosen_quantize()(w + (size_t)r * q->k, q->k, q->kp, q->levels, 0, row);
        int32_t sum = 0;
        for (int t = 0; t < q->kp; t++) {
            int8_t v = (int8_t)(row[t] < 128 ? row[t] : row[t] - 256);
            q->w[weight_at(q, j, t)] = v;
            sum += v;
        }
        q->offset_sum[j] = ACTIVATION_OFFSET * sum;
    }
    free(row);
    return NMT_OK;
}

nmt_code nmt_q8_quantize(nmt_q8_matrix *q, const float *w, int n, int k, int levels, nmt_err *err)
{
    nmt_code rc = nmt_q8_alloc(q, n, k, levels, err);
    if (rc == NMT_OK && (rc = nmt_q8_set_rows(q, w, 0, n, err)))
        nmt_q8_free(q);
    return rc;
}

void nmt_q8_free(nmt_q8_matrix *q)
{
    nmt_huge_free(q->w);
    free(q->scale);
    free(q->offset_sum);
    q->w = NULL;
    q->scale = NULL;
    q->offset_sum = NULL;
}

size_t nmt_q8_bytes_for(int n, int k)
{
    return (size_t)panels_for(n) * PANEL * padded(k) + (size_t)n * (sizeof(float) + sizeof(int32_t));
}

int8_t nmt_q8_weight(const nmt_q8_matrix *q, int j, int t) { return q->w[weight_at(q, j, t)]; }

size_t nmt_q8_bytes(const nmt_q8_matrix *q) { return nmt_q8_bytes_for(q->n, q->k); }

/* ---- kernels -------------------------------------------------------- */

typedef nmt_q8_kernel_fn q8_kernel;

static void kernel_generic(float *y, const uint8_t *xq, const float *sx, int m, const nmt_q8_matrix *q,
                           const float *b)
{
    int n = q->n, kp = q->kp;
    for (int i = 0; i < m; i++) {
        const uint8_t *xr = xq + (size_t)i * kp;
        for (int j = 0; j < n; j++) {
            const int8_t *wc = q->w + weight_at(q, j, 0); /* quad u of column j is QUAD * PANEL * u further */
            int32_t acc = 0;
            for (int t = 0; t < kp; t++)
                acc += ((int32_t)xr[t] - ACTIVATION_OFFSET) * wc[(size_t)(t / QUAD) * QUAD * PANEL + t % QUAD];
            y[(size_t)i * n + j] = (float)acc * (sx[i] * q->scale[j]) + (b ? b[j] : 0.0f);
        }
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2")))

/* quantize_generic with 8 lanes: the same max, the same products, the same
 * rounding (_mm256_cvtps_epi32 rounds half to even in the default mode). */
AVX2 static float quantize_avx2(const float *x, int k, int kp, int levels, int offset, uint8_t *dst)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 vmax = _mm256_setzero_ps();
    int t = 0;
    for (; t + 8 <= k; t += 8)
        vmax = _mm256_max_ps(vmax, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + t)));
    float lanes[8], amax = 0.0f;
    _mm256_storeu_ps(lanes, vmax);
    for (int l = 0; l < 8; l++)
        amax = lanes[l] > amax ? lanes[l] : amax;
    for (; t < k; t++)
        amax = fabsf(x[t]) > amax ? fabsf(x[t]) : amax;
    float scale = amax > 0.0f ? amax / (float)levels : 1.0f, inv = 1.0f / scale;
    const __m256 vinv = _mm256_set1_ps(inv);
    const __m256i lo = _mm256_set1_epi32(-levels), hi = _mm256_set1_epi32(levels);
    const __m128i shift = _mm_set1_epi8((char)(offset & 0xff));
    for (t = 0; t + 8 <= k; t += 8) {
        __m256i v = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + t), vinv));
        v = _mm256_min_epi32(_mm256_max_epi32(v, lo), hi);
        __m128i p16 = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
        _mm_storel_epi64((__m128i *)(dst + t), _mm_add_epi8(_mm_packs_epi16(p16, p16), shift));
    }
    for (; t < kp; t++) {
        long v = t < k ? lrintf(x[t] * inv) : 0;
        v = v > levels ? levels : v < -levels ? -levels : v;
        dst[t] = (uint8_t)((v + offset) & 0xff);
    }
    return scale;
}

/* The quad x[t .. t+3] in every 32-bit lane. */
AVX2 static inline __m256i quad(const uint8_t *x)
{
    int32_t v;
    memcpy(&v, x, sizeof v);
    return _mm256_set1_epi32(v);
}

/* acc + the quad products of 8 columns: VPMADDUBSW (unsigned activation
 * bytes times signed weights, pairs summed in int16: exact while two
 * products fit int16) and VPMADDWD by ones (pairs of those summed in
 * int32).  Three instructions per 32 multiply-adds where widening the
 * weights to int16 for VPMADDWD took four: on a CPU that issues about
 * three vector integer instructions a cycle, the count is the speed. */
AVX2 static inline __m256i mac(__m256i acc, __m256i x, __m256i w, __m256i ones)
{
    return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(x, w), ones));
}

/* acc + the products of two quads (x0 with w0, x1 with w1): the two
 * VPMADDUBSW results added in int16 before VPMADDWD widens them (exact
 * while four products fit int16: weights of +-32).  Five instructions per
 * 64 multiply-adds, three of them multiplies, where mac takes six and
 * four. */
AVX2 static inline __m256i mac_four(__m256i acc, __m256i x0, __m256i w0, __m256i x1, __m256i w1, __m256i ones)
{
    __m256i pairs = _mm256_add_epi16(_mm256_maddubs_epi16(x0, w0), _mm256_maddubs_epi16(x1, w1));
    return _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, ones));
}

/* y[j] = (acc_j - offset_sum[j]) * (sx * scale[j]) + b[j] for the nc (<= 8)
 * columns from j0, in the portable kernel's operations. */
AVX2 static inline void finish8(float *y, __m256i acc, float sx, const nmt_q8_matrix *q, const float *b, int j0,
                                int nc)
{
    if (nc == 8) { /* the same sums and products, 8 at once */
        acc = _mm256_sub_epi32(acc, _mm256_loadu_si256((const __m256i *)(q->offset_sum + j0)));
        __m256 scales = _mm256_mul_ps(_mm256_set1_ps(sx), _mm256_loadu_ps(q->scale + j0));
        __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(acc), scales);
        if (b)
            v = _mm256_add_ps(v, _mm256_loadu_ps(b + j0));
        _mm256_storeu_ps(y, v);
        return;
    }
    int32_t a[8];
    _mm256_storeu_si256((__m256i *)a, acc);
    for (int c = 0; c < nc; c++)
        y[c] = (float)(a[c] - q->offset_sum[j0 + c]) * (sx * q->scale[j0 + c]) + (b ? b[j0 + c] : 0.0f);
}

/* mr (<= STRIP_ROWS; a constant once inlined) rows x one panel: ten int32
 * accumulators, each quad step's 64 weights loaded once for all rows, each
 * row's activation quad broadcast; with four (q->levels <= 32, a constant
 * once inlined) two quad steps at a time through mac_four.  Five rows, not
 * six: with the two weight registers, the ones, the broadcast and a
 * product, twelve accumulators would need 17 of the 16 ymm registers. */
enum { STRIP_ROWS = 5 };
AVX2 static inline __attribute__((always_inline)) void strip(int four, int mr, float *y, const uint8_t *xq,
                                                             const float *sx, const nmt_q8_matrix *q, const float *b,
                                                             int i, int p)
{
    int n = q->n, kp = q->kp, j0 = p * PANEL, nc = n - j0 < PANEL ? n - j0 : PANEL;
    const int8_t *w = q->w + (size_t)p * PANEL * kp;
    const uint8_t *x = xq + (size_t)i * kp;
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i acc[STRIP_ROWS][2];
#pragma GCC unroll 5
    for (int r = 0; r < STRIP_ROWS; r++)
        acc[r][0] = acc[r][1] = _mm256_setzero_si256();
    if (four) /* kp is a multiple of 64: whole pairs of quads */
        for (int t = 0; t < kp; t += 2 * QUAD, w += 2 * QUAD * PANEL) {
            __m256i lo0 = _mm256_loadu_si256((const __m256i *)w), hi0 = _mm256_loadu_si256((const __m256i *)(w + 32));
            __m256i lo1 = _mm256_loadu_si256((const __m256i *)(w + 64)),
                    hi1 = _mm256_loadu_si256((const __m256i *)(w + 96));
#pragma GCC unroll 5
            for (int r = 0; r < STRIP_ROWS; r++)
                if (r < mr) {
                    __m256i x0 = quad(x + (size_t)r * kp + t), x1 = quad(x + (size_t)r * kp + t + QUAD);
                    acc[r][0] = mac_four(acc[r][0], x0, lo0, x1, lo1, ones);
                    acc[r][1] = mac_four(acc[r][1], x0, hi0, x1, hi1, ones);
                }
        }
    else
        for (int t = 0; t < kp; t += QUAD, w += QUAD * PANEL) {
            __m256i lo = _mm256_loadu_si256((const __m256i *)w), hi = _mm256_loadu_si256((const __m256i *)(w + 32));
#pragma GCC unroll 5
            for (int r = 0; r < STRIP_ROWS; r++)
                if (r < mr) {
                    __m256i xb = quad(x + (size_t)r * kp + t);
                    acc[r][0] = mac(acc[r][0], xb, lo, ones);
                    acc[r][1] = mac(acc[r][1], xb, hi, ones);
                }
        }
#pragma GCC unroll 5
    for (int r = 0; r < STRIP_ROWS; r++)
        if (r < mr) {
            float *yr = y + (size_t)(i + r) * n + j0;
            finish8(yr, acc[r][0], sx[i + r], q, b, j0, nc < 8 ? nc : 8);
            if (nc > 8)
                finish8(yr + 8, acc[r][1], sx[i + r], q, b, j0 + 8, nc - 8);
        }
}

/* One row x np (<= 4; a constant once inlined) panels from p: eight
 * accumulators, enough chains while the weights stream in (a decode step at
 * batch 1 reads each weight once); four as in strip. */
AVX2 static inline __attribute__((always_inline)) void row_panels(int four, int np, float *y, const uint8_t *xq,
                                                                  const float *sx, const nmt_q8_matrix *q,
                                                                  const float *b, int i, int p)
{
    int n = q->n, kp = q->kp;
    const int8_t *w = q->w + (size_t)p * PANEL * kp;
    const uint8_t *x = xq + (size_t)i * kp;
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i acc[8];
#pragma GCC unroll 8
    for (int v = 0; v < 8; v++)
        acc[v] = _mm256_setzero_si256();
    for (int t = 0; t < kp; t += four ? 2 * QUAD : QUAD) {
        __m256i x0 = quad(x + t), x1 = four ? quad(x + t + QUAD) : x0;
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++)
            if (c < np) {
                const __m256i *wc = (const __m256i *)(w + (size_t)c * PANEL * kp + (size_t)t * PANEL);
                if (four) {
                    acc[2 * c] = mac_four(acc[2 * c], x0, _mm256_loadu_si256(wc), x1, _mm256_loadu_si256(wc + 2), ones);
                    acc[2 * c + 1] =
                        mac_four(acc[2 * c + 1], x0, _mm256_loadu_si256(wc + 1), x1, _mm256_loadu_si256(wc + 3), ones);
                } else {
                    acc[2 * c] = mac(acc[2 * c], x0, _mm256_loadu_si256(wc), ones);
                    acc[2 * c + 1] = mac(acc[2 * c + 1], x0, _mm256_loadu_si256(wc + 1), ones);
                }
            }
    }
#pragma GCC unroll 4
    for (int c = 0; c < 4; c++)
        if (c < np) {
            int j0 = (p + c) * PANEL, nc = n - j0 < PANEL ? n - j0 : PANEL;
            float *yr = y + (size_t)i * n + j0;
            finish8(yr, acc[2 * c], sx[i], q, b, j0, nc < 8 ? nc : 8);
            if (nc > 8)
                finish8(yr + 8, acc[2 * c + 1], sx[i], q, b, j0 + 8, nc - 8);
        }
}

/* Rows at most ROW_CHUNK at a time (their activations stay in L2 while the
 * panels stream past: the encoder's hundreds of rows); per panel, strips
 * of at most STRIP_ROWS rows.  A single row: four panels at a
 * time. */
enum { ROW_CHUNK = 96 };

/* The kernel for four (a constant once inlined). */
AVX2 static inline __attribute__((always_inline)) void kernel_avx2(int four, float *y, const uint8_t *xq,
                                                                   const float *sx, int m, const nmt_q8_matrix *q,
                                                                   const float *b)
{
    int np = panels_for(q->n);
    if (m == 1) {
        int p = 0;
        for (; p + 4 <= np; p += 4)
            row_panels(four, 4, y, xq, sx, q, b, 0, p);
        switch (np - p) {
        case 3: row_panels(four, 3, y, xq, sx, q, b, 0, p); break;
        case 2: row_panels(four, 2, y, xq, sx, q, b, 0, p); break;
        case 1: row_panels(four, 1, y, xq, sx, q, b, 0, p); break;
        default: break;
        }
        return;
    }
    for (int i0 = 0; i0 < m; i0 += ROW_CHUNK) {
        int i1 = i0 + ROW_CHUNK < m ? i0 + ROW_CHUNK : m;
        for (int p = 0; p < np; p++) {
            /* strips as even as can be (32 rows: 5 5 5 5 4 4 4, not 6 x 5 + 2: a
             * strip of 2 keeps too few sums in flight to hide the latency) */
            int rows = i1 - i0, strips = (rows + STRIP_ROWS - 1) / STRIP_ROWS;
            for (int s = 0, i = i0, h; s < strips; s++, i += h) {
                h = rows / strips + (s < rows % strips);
                switch (h) {
                case 5: strip(four, 5, y, xq, sx, q, b, i, p); break;
                case 4: strip(four, 4, y, xq, sx, q, b, i, p); break;
                case 3: strip(four, 3, y, xq, sx, q, b, i, p); break;
                case 2: strip(four, 2, y, xq, sx, q, b, i, p); break;
                default: strip(four, 1, y, xq, sx, q, b, i, p); break;
                }
            }
        }
    }
}

AVX2 void nmt_q8_kernel_avx2(float *y, const uint8_t *xq, const float *sx, int m, const nmt_q8_matrix *q,
                             const float *b)
{
    if (q->levels <= NARROW_WEIGHT_LEVELS)
        kernel_avx2(1, y, xq, sx, m, q, b);
    else
        kernel_avx2(0, y, xq, sx, m, q, b);
}

#else
void nmt_q8_kernel_avx2(float *y, const uint8_t *xq, const float *sx, int m, const nmt_q8_matrix *q, const float *b)
{
    kernel_generic(y, xq, sx, m, q, b);
}
static float quantize_avx2(const float *x, int k, int kp, int levels, int offset, uint8_t *dst)
{
    return quantize_generic(x, k, kp, levels, offset, dst);
}
#endif

int nmt_q8_kernel_available(nmt_q8_kernel kernel)
{
    const nmt_cpu_features *cpu = nmt_cpu_features_get();
    switch (kernel) {
    case NMT_Q8_KERNEL_GENERIC: return 1;
    case NMT_Q8_KERNEL_AVX2: return cpu->avx2_fma;
    case NMT_Q8_KERNEL_AVX512_VNNI: return cpu->avx512_vnni;
    case NMT_Q8_KERNEL_AMX: return cpu->avx512_vnni && cpu->amx_int8;
    }
    return 0;
}

/* The best kernel this CPU has; with obey, the best NMTD_KERNELS allows. */
static nmt_q8_kernel best_kernel(int obey)
{
    static const struct {
        nmt_q8_kernel kernel;
        nmt_kernel_tier tier;
    } best_first[] = {{NMT_Q8_KERNEL_AMX, NMT_TIER_AMX},
                      {NMT_Q8_KERNEL_AVX512_VNNI, NMT_TIER_AVX512},
                      {NMT_Q8_KERNEL_AVX2, NMT_TIER_AVX2}};
    for (size_t i = 0; i < sizeof best_first / sizeof best_first[0]; i++)
        if ((!obey || nmt_kernel_override_allows(best_first[i].tier)) && nmt_q8_kernel_available(best_first[i].kernel))
            return best_first[i].kernel;
    return NMT_Q8_KERNEL_GENERIC;
}

static nmt_q8_kernel chosen_kind(void)
{
    static int cached = -1;
    if (cached < 0)
        cached = best_kernel(1);
    return (nmt_q8_kernel)cached;
}

static q8_kernel kernel_of(nmt_q8_kernel kind)
{
    switch (kind) {
    case NMT_Q8_KERNEL_AMX: return nmt_q8_kernel_amx;
    case NMT_Q8_KERNEL_AVX512_VNNI: return nmt_q8_kernel_vnni;
    case NMT_Q8_KERNEL_AVX2: return nmt_q8_kernel_avx2;
    case NMT_Q8_KERNEL_GENERIC: break;
    }
    return kernel_generic;
}

/* The quantizer of a kernel's CPU: all give the same bytes. */
static quantize_fn quantize_of(nmt_q8_kernel kind)
{
    switch (kind) {
    case NMT_Q8_KERNEL_AMX:
    case NMT_Q8_KERNEL_AVX512_VNNI: return nmt_q8_quantize_avx512;
    case NMT_Q8_KERNEL_AVX2: return quantize_avx2;
    case NMT_Q8_KERNEL_GENERIC: break;
    }
    return quantize_generic;
}

static q8_kernel chosen(void) { return kernel_of(chosen_kind()); }

int nmt_q8_weight_levels(nmt_q8_kernel kernel)
{
    if (kernel == NMT_Q8_KERNEL_GENERIC && (kernel = best_kernel(0)) == NMT_Q8_KERNEL_GENERIC)
        return WIDE_WEIGHT_LEVELS;
    return kernel == NMT_Q8_KERNEL_AVX2 ? NARROW_WEIGHT_LEVELS : WIDE_WEIGHT_LEVELS;
}

int nmt_q8_levels(void) { return nmt_q8_weight_levels(chosen_kind()); }

static quantize_fn chosen_quantize(void) { return quantize_of(chosen_kind()); }

const char *nmt_q8_kernel_name(void)
{
    switch (chosen_kind()) {
    case NMT_Q8_KERNEL_AMX: return "amx";
    case NMT_Q8_KERNEL_AVX512_VNNI: return "avx512_vnni";
    case NMT_Q8_KERNEL_AVX2: return "avx2";
    case NMT_Q8_KERNEL_GENERIC: break;
    }
    return "generic";
}

/* Out of memory for the scratch: fp32 activations against the int8 weights. */
static void unquantized(float *y, const float *x, int m, const nmt_q8_matrix *q, const float *b)
{
    for (int i = 0; i < m; i++)
        for (int j = 0; j < q->n; j++) {
            const float *xr = x + (size_t)i * q->k;
            float acc = 0.0f;
            for (int t = 0; t < q->k; t++)
                acc += xr[t] * (float)nmt_q8_weight(q, j, t);
            y[(size_t)i * q->n + j] = acc * q->scale[j] + (b ? b[j] : 0.0f);
        }
}

/* The rows of x quantized into s (x[m][k] -> s->xq[m][kp], scales s->sx). */
static void quantize_rows(quantize_fn quantize, scratch *s, const float *x, int m, int k, int kp)
{
    for (int i = 0; i < m; i++)
        s->sx[i] = quantize(x + (size_t)i * k, k, kp, ACTIVATION_LEVELS, ACTIVATION_OFFSET, s->xq + (size_t)i * kp);
}

/* x quantized once, then each of the count products (same k). */
static void run(q8_kernel kernel, quantize_fn quantize, float *const *ys, const float *x, int m,
                const nmt_q8_matrix *const *qs, const float *const *bs, int count)
{
    if (m <= 0 || count <= 0)
        return;
    scratch *s = thread_scratch(m, qs[0]->kp);
    if (!s) {
        for (int c = 0; c < count; c++)
            unquantized(ys[c], x, m, qs[c], bs[c]);
        return;
    }
    quantize_rows(quantize, s, x, m, qs[0]->k, qs[0]->kp);
    for (int c = 0; c < count; c++)
        kernel(ys[c], s->xq, s->sx, m, qs[c], bs[c]);
}

nmt_q8_matrix nmt_q8_columns(const nmt_q8_matrix *q, int j0, int nc)
{
    nmt_q8_matrix v = *q;
    v.w = q->w + (size_t)(j0 / PANEL) * PANEL * q->kp;
    v.scale = q->scale + j0;
    v.offset_sum = q->offset_sum + j0;
    v.n = nc;
    return v;
}

void nmt_q8_linear_blocks(float *buf, const float *x, int m, const nmt_q8_matrix *q, const float *b, int block,
                          nmt_column_sink sink, void *ctx)
{
    if (m <= 0)
        return;
    scratch *s = thread_scratch(m, q->kp);
    if (s)
        quantize_rows(chosen_quantize(), s, x, m, q->k, q->kp);
    for (int j0 = 0; j0 < q->n; j0 += block) {
        int nc = q->n - j0 < block ? q->n - j0 : block;
        nmt_q8_matrix v = nmt_q8_columns(q, j0, nc);
        if (s)
            chosen()(buf, s->xq, s->sx, m, &v, b ? b + j0 : NULL);
        else
            unquantized(buf, x, m, &v, b ? b + j0 : NULL);
        sink(ctx, buf, m, j0, nc);
    }
}

void nmt_q8_linear(float *y, const float *x, int m, const nmt_q8_matrix *q, const float *b)
{
    run(chosen(), chosen_quantize(), &y, x, m, &q, &b, 1);
}

void nmt_q8_linear_shared(float *const *ys, const float *x, int m, const nmt_q8_matrix *const *qs,
                          const float *const *bs, int count)
{
    run(chosen(), chosen_quantize(), ys, x, m, qs, bs, count);
}

void nmt_q8_linear_with(nmt_q8_kernel kernel, float *y, const float *x, int m, const nmt_q8_matrix *q,
                        const float *b)
{
    run(kernel_of(kernel), quantize_of(kernel), &y, x, m, &q, &b, 1);
}
