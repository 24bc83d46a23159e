/* qgemm.c: int8 weights quantized per row, activations per row, int32
 * sums; a portable kernel and an AVX2 one (see qgemm.h). */
#include "qgemm.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define KP_ALIGN 16

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
    size_t need_xq = (size_t)m * kp, need_sx = (size_t)m;
    if (need_xq > s->cap_xq) {
        int16_t *grown = realloc(s->xq, need_xq * sizeof *grown);
        if (!grown)
            return NULL;
        s->xq = grown;
        s->cap_xq = need_xq;
    }
    if (need_sx > s->cap_sx) {
        float *grown = realloc(s->sx, need_sx * sizeof *grown);
        if (!grown)
            return NULL;
        s->sx = grown;
        s->cap_sx = need_sx;
    }
    return s;
}

/* ---- quantization --------------------------------------------------- */

/* q[0..k) = round(x / scale) with scale = max |x| / 127; the rest of kp zeros. */
static float quantize_row_f(const float *x, int k, int kp, void *dst, int wide)
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

nmt_code nmt_q8_quantize(nmt_q8_matrix *q, const float *w, int n, int k, nmt_err *err)
{
    memset(q, 0, sizeof *q);
    q->n = n;
    q->k = k;
    q->kp = (k + KP_ALIGN - 1) / KP_ALIGN * KP_ALIGN;
    q->w = malloc((size_t)n * q->kp);
    q->scale = malloc((size_t)n * sizeof *q->scale);
    if (!q->w || !q->scale) {
        nmt_q8_free(q);
        return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory quantizing a %d x %d matrix", n, k);
    }
    for (int j = 0; j < n; j++)
        q->scale[j] = quantize_row_f(w + (size_t)j * k, k, q->kp, q->w + (size_t)j * q->kp, 0);
    return NMT_OK;
}

void nmt_q8_free(nmt_q8_matrix *q)
{
    free(q->w);
    free(q->scale);
    q->w = NULL;
    q->scale = NULL;
}

size_t nmt_q8_bytes(const nmt_q8_matrix *q) { return (size_t)q->n * q->kp + (size_t)q->n * sizeof(float); }

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

/* acc of rows i .. i+R-1 against columns j, j+1 (C = 2) or j alone (C = 1). */
#define BLOCK(R, C)                                                                                              \
    do {                                                                                                         \
        __m256i acc[R][C];                                                                                       \
        for (int r = 0; r < R; r++)                                                                              \
            for (int c = 0; c < C; c++)                                                                          \
                acc[r][c] = _mm256_setzero_si256();                                                              \
        for (int t = 0; t < kp; t += 16) {                                                                       \
            __m256i wv[C];                                                                                       \
            for (int c = 0; c < C; c++)                                                                          \
                wv[c] = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(q->w + (size_t)(j + c) * kp + t))); \
            for (int r = 0; r < R; r++) {                                                                        \
                __m256i xv = _mm256_loadu_si256((const __m256i *)(xq + (size_t)(i + r) * kp + t));               \
                for (int c = 0; c < C; c++)                                                                      \
                    acc[r][c] = _mm256_add_epi32(acc[r][c], _mm256_madd_epi16(xv, wv[c]));                       \
            }                                                                                                    \
        }                                                                                                        \
        for (int r = 0; r < R; r++)                                                                              \
            for (int c = 0; c < C; c++)                                                                          \
                y[(size_t)(i + r) * n + j + c] =                                                                 \
                    (float)hsum(acc[r][c]) * (sx[i + r] * q->scale[j + c]) + (b ? b[j + c] : 0.0f);              \
    } while (0)

/* Columns in pairs (the weights stream once per block of 4 rows), rows in
 * blocks of 4; the remainders one by one. */
AVX2 static void kernel_avx2(float *y, const int16_t *xq, const float *sx, int m, const nmt_q8_matrix *q,
                             const float *b)
{
    int n = q->n, kp = q->kp;
    int j = 0;
    for (; j + 2 <= n; j += 2) {
        int i = 0;
        for (; i + 4 <= m; i += 4)
            BLOCK(4, 2);
        for (; i < m; i++)
            BLOCK(1, 2);
    }
    for (; j < n; j++)
        for (int i = 0; i < m; i++)
            BLOCK(1, 1);
}

static int avx2_available(void) { return __builtin_cpu_supports("avx2"); }
#else
static void kernel_avx2(float *y, const int16_t *xq, const float *sx, int m, const nmt_q8_matrix *q, const float *b)
{
    kernel_generic(y, xq, sx, m, q, b);
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

static void run(q8_kernel kernel, float *y, const float *x, int m, const nmt_q8_matrix *q, const float *b)
{
    if (m <= 0)
        return;
    scratch *s = thread_scratch(m, q->kp);
    if (!s) { /* out of memory for the scratch: fp32 activations against the int8 weights */
        for (int i = 0; i < m; i++)
            for (int j = 0; j < q->n; j++) {
                const int8_t *wr = q->w + (size_t)j * q->kp;
                const float *xr = x + (size_t)i * q->k;
                float acc = 0.0f;
                for (int t = 0; t < q->k; t++)
                    acc += xr[t] * (float)wr[t];
                y[(size_t)i * q->n + j] = acc * q->scale[j] + (b ? b[j] : 0.0f);
            }
        return;
    }
    for (int i = 0; i < m; i++)
        s->sx[i] = quantize_row_f(x + (size_t)i * q->k, q->k, q->kp, s->xq + (size_t)i * q->kp, 1);
    kernel(y, s->xq, s->sx, m, q, b);
}

void nmt_q8_linear(float *y, const float *x, int m, const nmt_q8_matrix *q, const float *b)
{
    run(chosen(), y, x, m, q, b);
}

void nmt_q8_linear_generic(float *y, const float *x, int m, const nmt_q8_matrix *q, const float *b)
{
    run(kernel_generic, y, x, m, q, b);
}
