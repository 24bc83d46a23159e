/* qgemm.c: int8 weights quantized per row, activations per row, int32
 * sums; a portable kernel and an AVX2 one (see qgemm.h). */
#include "qgemm.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define KP_ALIGN 16

/* Row length k padded to whole 16-byte steps of the kernels. */
static int padded(int k) { return (k + KP_ALIGN - 1) / KP_ALIGN * KP_ALIGN; }

/* ---- per-thread scratch --------------------------------------------- */

typedef struct scratch {
    int16_t *xq; /* [m][kp] quantized activations */
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
    int16_t *xq = grow(s->xq, &s->cap_xq, (size_t)m * kp, sizeof *s->xq);
    if (!xq)
        return NULL;
    s->xq = xq;
    float *sx = grow(s->sx, &s->cap_sx, (size_t)m, sizeof *s->sx);
    if (!sx)
        return NULL;
    s->sx = sx;
    return s;
}

/* ---- quantization --------------------------------------------------- */

/* q[0..k) = round(x / scale) with scale = max |x| / 127 (round half to
 * even, as lrintf in the default mode); the rest of kp zeros; int16 when
 * wide, else int8.  Returns scale. */
typedef float (*quantize_fn)(const float *x, int k, int kp, void *dst, int wide);
static quantize_fn chosen_quantize(void);

static float quantize_generic(const float *x, int k, int kp, void *dst, int wide)
{
    float amax = 0.0f;
    for (int t = 0; t < k; t++) {
        float a = fabsf(x[t]);
        if (a > amax)
            amax = a;
    }
    float scale = amax > 0.0f ? amax / 127.0f : 1.0f, inv = 1.0f / scale;
    for (int t = 0; t < kp; t++) {
        long v = t < k ? lrintf(x[t] * inv) : 0;
        v = v > 127 ? 127 : v < -127 ? -127 : v;
        if (wide)
            ((int16_t *)dst)[t] = (int16_t)v;
        else
            ((int8_t *)dst)[t] = (int8_t)v;
    }
    return scale;
}

nmt_code nmt_q8_alloc(nmt_q8_matrix *q, int n, int k, nmt_err *err)
{
    memset(q, 0, sizeof *q);
    q->n = n;
    q->k = k;
    q->kp = padded(k);
    q->w = malloc((size_t)n * q->kp);
    q->scale = malloc((size_t)n * sizeof *q->scale);
    if (!q->w || !q->scale) {
        nmt_q8_free(q);
        return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory quantizing a %d x %d matrix", n, k);
    }
    return NMT_OK;
}

void nmt_q8_set_rows(nmt_q8_matrix *q, const float *w, int j0, int count)
{
    for (int r = 0; r < count; r++)
        q->scale[j0 + r] = chosen_quantize()(w + (size_t)r * q->k, q->k, q->kp, q->w + (size_t)(j0 + r) * q->kp, 0);
}

nmt_code nmt_q8_quantize(nmt_q8_matrix *q, const float *w, int n, int k, nmt_err *err)
{
    nmt_code rc = nmt_q8_alloc(q, n, k, err);
    if (rc == NMT_OK)
        nmt_q8_set_rows(q, w, 0, n);
    return rc;
}

void nmt_q8_free(nmt_q8_matrix *q)
{
    free(q->w);
    free(q->scale);
    q->w = NULL;
    q->scale = NULL;
}

size_t nmt_q8_bytes_for(int n, int k) { return (size_t)n * padded(k) + (size_t)n * sizeof(float); }

size_t nmt_q8_bytes(const nmt_q8_matrix *q) { return nmt_q8_bytes_for(q->n, q->k); }

/* ---- kernels -------------------------------------------------------- */

typedef void (*q8_kernel)(float *y, const int16_t *xq, const float *sx, int m, const nmt_q8_matrix *q,
                          const float *b);

static void kernel_generic(float *y, const int16_t *xq, const float *sx, int m, const nmt_q8_matrix *q,
                           const float *b)
{
    int n = q->n, kp = q->kp;
    for (int i = 0; i < m; i++) {
        const int16_t *xr = xq + (size_t)i * kp;
        for (int j = 0; j < n; j++) {
            const int8_t *wr = q->w + (size_t)j * kp;
            int32_t acc = 0;
            for (int t = 0; t < kp; t++)
                acc += (int32_t)xr[t] * wr[t];
            y[(size_t)i * n + j] = (float)acc * (sx[i] * q->scale[j]) + (b ? b[j] : 0.0f);
        }
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2")))

AVX2 static inline int32_t hsum(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

/* quantize_generic with 8 lanes: the same max, the same products, the same
 * rounding (_mm256_cvtps_epi32 rounds half to even in the default mode). */
AVX2 static float quantize_avx2(const float *x, int k, int kp, void *dst, int wide)
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
    float scale = amax > 0.0f ? amax / 127.0f : 1.0f, inv = 1.0f / scale;
    const __m256 vinv = _mm256_set1_ps(inv);
    const __m256i lo = _mm256_set1_epi32(-127), hi = _mm256_set1_epi32(127);
    int16_t *d16 = dst;
    int8_t *d8 = dst;
    for (t = 0; t + 8 <= k; t += 8) {
        __m256i v = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + t), vinv));
        v = _mm256_min_epi32(_mm256_max_epi32(v, lo), hi);
        __m128i p16 = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
        if (wide)
            _mm_storeu_si128((__m128i *)(d16 + t), p16);
        else
            _mm_storel_epi64((__m128i *)(d8 + t), _mm_packs_epi16(p16, p16));
    }
    for (; t < kp; t++) {
        long v = t < k ? lrintf(x[t] * inv) : 0;
        v = v > 127 ? 127 : v < -127 ? -127 : v;
        if (wide)
            d16[t] = (int16_t)v;
        else
            d8[t] = (int8_t)v;
    }
    return scale;
}

AVX2 static inline __m256i widen(const int8_t *p) { return _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)p)); }
AVX2 static inline __m256i load16(const int16_t *p) { return _mm256_loadu_si256((const __m256i *)p); }
AVX2 static inline __m256i mac(__m256i acc, __m256i x, __m256i w)
{
    return _mm256_add_epi32(acc, _mm256_madd_epi16(x, w));
}

/* y[i][j] = acc * sx[i] * scale[j] + b[j] */
#define STORE(acc, i, j) y[(size_t)(i) * n + (j)] = (float)hsum(acc) * (sx[i] * q->scale[j]) + (b ? b[j] : 0.0f)

/* Rows i .. i+3 against columns j, j+1: eight accumulators in registers,
 * each column's 16 weights widened once per step for four rows. */
AVX2 static inline void block_4x2(float *y, const int16_t *xq, const float *sx, const nmt_q8_matrix *q,
                                  const float *b, int i, int j)
{
    int n = q->n, kp = q->kp;
    const int16_t *x0 = xq + (size_t)i * kp, *x1 = x0 + kp, *x2 = x1 + kp, *x3 = x2 + kp;
    const int8_t *w0 = q->w + (size_t)j * kp, *w1 = w0 + kp;
    __m256i a00 = _mm256_setzero_si256(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00, a31 = a00;
    for (int t = 0; t < kp; t += 16) {
        __m256i v0 = widen(w0 + t), v1 = widen(w1 + t), x;
        x = load16(x0 + t);
        a00 = mac(a00, x, v0);
        a01 = mac(a01, x, v1);
        x = load16(x1 + t);
        a10 = mac(a10, x, v0);
        a11 = mac(a11, x, v1);
        x = load16(x2 + t);
        a20 = mac(a20, x, v0);
        a21 = mac(a21, x, v1);
        x = load16(x3 + t);
        a30 = mac(a30, x, v0);
        a31 = mac(a31, x, v1);
    }
    STORE(a00, i, j);
    STORE(a01, i, j + 1);
    STORE(a10, i + 1, j);
    STORE(a11, i + 1, j + 1);
    STORE(a20, i + 2, j);
    STORE(a21, i + 2, j + 1);
    STORE(a30, i + 3, j);
    STORE(a31, i + 3, j + 1);
}

/* Row i against columns j .. j+3 (the rows left over, and M = 1). */
AVX2 static inline void block_1x4(float *y, const int16_t *xq, const float *sx, const nmt_q8_matrix *q,
                                  const float *b, int i, int j)
{
    int n = q->n, kp = q->kp;
    const int16_t *x0 = xq + (size_t)i * kp;
    const int8_t *w0 = q->w + (size_t)j * kp, *w1 = w0 + kp, *w2 = w1 + kp, *w3 = w2 + kp;
    const int8_t *next = w0 + 4 * (size_t)kp; /* the next four rows: fetched ahead (one row of x reads
                                                  weights faster than the hardware prefetcher brings them) */
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
    for (int t = 0; t < kp; t += 16) {
        if ((t & 63) == 0)
            for (int r = 0; r < 4; r++)
                _mm_prefetch((const char *)(next + (size_t)r * kp + t), _MM_HINT_T0);
        __m256i x = load16(x0 + t);
        a0 = mac(a0, x, widen(w0 + t));
        a1 = mac(a1, x, widen(w1 + t));
        a2 = mac(a2, x, widen(w2 + t));
        a3 = mac(a3, x, widen(w3 + t));
    }
    STORE(a0, i, j);
    STORE(a1, i, j + 1);
    STORE(a2, i, j + 2);
    STORE(a3, i, j + 3);
}

AVX2 static inline void block_1x1(float *y, const int16_t *xq, const float *sx, const nmt_q8_matrix *q,
                                  const float *b, int i, int j)
{
    int n = q->n, kp = q->kp;
    const int16_t *x0 = xq + (size_t)i * kp;
    const int8_t *w0 = q->w + (size_t)j * kp;
    __m256i a0 = _mm256_setzero_si256();
    for (int t = 0; t < kp; t += 16)
        a0 = mac(a0, load16(x0 + t), widen(w0 + t));
    STORE(a0, i, j);
}

/* Columns in pairs (two weight rows, reused from L1 by every block of 4
 * rows), rows in blocks of 4, at most ROW_CHUNK rows at a time so that
 * their activations stay in L2 while the weights stream past (the
 * encoder's hundreds of rows); rows left over 1 x 4, columns left over 1 x 1. */
enum { ROW_CHUNK = 64 };

AVX2 static void kernel_avx2(float *y, const int16_t *xq, const float *sx, int m, const nmt_q8_matrix *q,
                             const float *b)
{
    int n = q->n, m4 = m / 4 * 4, n2 = n / 2 * 2, n4 = n / 4 * 4;
    for (int i0 = 0; i0 < m4; i0 += ROW_CHUNK) {
        int i1 = i0 + ROW_CHUNK < m4 ? i0 + ROW_CHUNK : m4;
        for (int j = 0; j < n2; j += 2)
            for (int i = i0; i < i1; i += 4)
                block_4x2(y, xq, sx, q, b, i, j);
    }
    for (int i = m4; i < m; i++) {
        int j = 0;
        for (; j < n4; j += 4)
            block_1x4(y, xq, sx, q, b, i, j);
        for (; j < n; j++)
            block_1x1(y, xq, sx, q, b, i, j);
    }
    if (n2 < n) /* the last column of the blocked rows */
        for (int i = 0; i < m4; i++)
            block_1x1(y, xq, sx, q, b, i, n - 1);
}

static int avx2_available(void) { return __builtin_cpu_supports("avx2"); }
#else
static void kernel_avx2(float *y, const int16_t *xq, const float *sx, int m, const nmt_q8_matrix *q, const float *b)
{
    kernel_generic(y, xq, sx, m, q, b);
}
static float quantize_avx2(const float *x, int k, int kp, void *dst, int wide)
{
    return quantize_generic(x, k, kp, dst, wide);
}
static int avx2_available(void) { return 0; }
#endif

static q8_kernel chosen(void)
{
    static q8_kernel cached;
    if (!cached) {
        const char *force = getenv("NMTD_KERNELS");
        int generic = force && strcmp(force, "generic") == 0;
        cached = !generic && avx2_available() ? kernel_avx2 : kernel_generic;
    }
    return cached;
}

const char *nmt_q8_kernel_name(void) { return chosen() == kernel_avx2 ? "avx2" : "generic"; }

static quantize_fn chosen_quantize(void) { return chosen() == kernel_avx2 ? quantize_avx2 : quantize_generic; }

/* Out of memory for the scratch: fp32 activations against the int8 weights. */
static void unquantized(float *y, const float *x, int m, const nmt_q8_matrix *q, const float *b)
{
    for (int i = 0; i < m; i++)
        for (int j = 0; j < q->n; j++) {
            const int8_t *wr = q->w + (size_t)j * q->kp;
            const float *xr = x + (size_t)i * q->k;
            float acc = 0.0f;
            for (int t = 0; t < q->k; t++)
                acc += xr[t] * (float)wr[t];
            y[(size_t)i * q->n + j] = acc * q->scale[j] + (b ? b[j] : 0.0f);
        }
}

/* x quantized once, then each of the count products (same k). */
static void run(q8_kernel kernel, quantize_fn quantize, float *const *ys, const float *x, int m,
                const nmt_q8_matrix *const *qs, const float *const *bs, int count)
{
    if (m <= 0 || count <= 0)
        return;
    int k = qs[0]->k, kp = qs[0]->kp;
    scratch *s = thread_scratch(m, kp);
    if (!s) {
        for (int c = 0; c < count; c++)
            unquantized(ys[c], x, m, qs[c], bs[c]);
        return;
    }
    for (int i = 0; i < m; i++)
        s->sx[i] = quantize(x + (size_t)i * k, k, kp, s->xq + (size_t)i * kp, 1);
    for (int c = 0; c < count; c++)
        kernel(ys[c], s->xq, s->sx, m, qs[c], bs[c]);
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

void nmt_q8_linear_generic(float *y, const float *x, int m, const nmt_q8_matrix *q, const float *b)
{
    run(kernel_generic, quantize_generic, &y, x, m, &q, &b, 1);
}
