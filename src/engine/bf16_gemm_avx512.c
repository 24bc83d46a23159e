/* bf16_gemm_avx512.c: the bfloat16 dot-product kernels of the pairs
 * layout (bf16_gemm.h) on AVX-512 CPUs: VDPBF16PS on zmm registers
 * (AVX512_BF16), and AMX tiles (TDPBF16PS) for blocks of rows.  In the pairs layout a
 * pair of k of 16 columns is one zmm register, and 16 pairs of a panel
 * (1 KiB, contiguous) are one AMX B tile.  The activations are rounded to
 * bfloat16 (VCVTNEPS2BF16: to nearest even) into per-thread scratch, which
 * grows to the largest call and is freed when the thread exits. */
#include "bf16_gemm_kernels.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "amx_tiles.h"
#include "util.h"

#define PANEL NMT_BF16_PANEL
#define BF16 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512bf16")))
#define AMX __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512bf16,amx-tile,amx-bf16")))

/* ---- per-thread scratch: the activations in bfloat16 ------------------ */

typedef struct scratch {
    uint16_t *x;
    size_t cap;
} scratch;

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_free(void *p)
{
    scratch *s = p;
    if (s) {
        free(s->x);
        free(s);
    }
}

static void scratch_init(void) { pthread_key_create(&scratch_key, scratch_free); }

/* Room for need values in this thread's scratch; NULL when out of memory. */
static uint16_t *thread_scratch(size_t need)
{
    pthread_once(&scratch_once, scratch_init);
    scratch *s = pthread_getspecific(scratch_key);
    if (!s) {
        if (!(s = calloc(1, sizeof *s)))
            return NULL;
        pthread_setspecific(scratch_key, s);
    }
    if (need > s->cap) { /* rewritten by every call: nothing to keep */
        uint16_t *grown = nmt_malloc_aligned(need, sizeof *grown);
        if (!grown)
            return NULL;
        free(s->x);
        s->x = grown;
        s->cap = need;
    }
    return s->x;
}

/* dst[rows][kp] = x[rows][k] rounded to bfloat16, zeros past k. */
BF16 static void round_rows(uint16_t *dst, const float *x, int rows, int k, int kp)
{
    for (int i = 0; i < rows; i++) {
        const float *xr = x + (size_t)i * k;
        uint16_t *d = dst + (size_t)i * kp;
        int t = 0;
        for (; t < k; t += 16) { /* kp is a multiple of 32: 16 values always fit */
            __mmask16 mask = (__mmask16)(k - t >= 16 ? 0xffff : (1u << (k - t)) - 1);
            __m256bh v = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(mask, xr + t));
            memcpy(d + t, &v, sizeof v);
        }
        if (t < kp)
            memset(d + t, 0, (size_t)(kp - t) * sizeof *d);
    }
}

/* ---- AVX512_BF16 ------------------------------------------------------ */

static int columns_of(const nmt_bf16_matrix *m, int p)
{
    return m->n - p * PANEL < PANEL ? m->n - p * PANEL : PANEL;
}

/* y[0..nc) = acc (+ b[j0 ..]). */
BF16 static inline void finish16(float *y, __m512 acc, const float *b, int j0, int nc)
{
    __mmask16 mask = (__mmask16)(nc >= PANEL ? 0xffff : (1u << nc) - 1);
    if (b)
        acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(mask, b + j0));
    _mm512_mask_storeu_ps(y, mask, acc);
}

/* The pair x[t], x[t+1] in every 32-bit lane. */
BF16 static inline __m512bh pair(const uint16_t *x)
{
    int32_t v;
    memcpy(&v, x, sizeof v);
    return (__m512bh)_mm512_set1_epi32(v);
}

BF16 static inline __m512bh load_pairs(const uint16_t *w) { return (__m512bh)_mm512_loadu_si512(w); }

/* acc + the pairwise products of x and w (VDPBF16PS), written as the
 * instruction itself for the reason vnni.h gives for VPDPBUSD: GCC 12 adds
 * two register copies to each _mm512_dpbf16_ps of a loop's accumulators. */
BF16 static inline __m512 dpbf16(__m512 acc, __m512bh x, __m512bh w)
{
    __asm__("vdpbf16ps %[w], %[x], %[acc]" : [acc] "+v"(acc) : [x] "v"(x), [w] "v"(w));
    return acc;
}

/* mr (<= STRIP_ROWS) rows x np (1 or 2) panels from p: up to 16
 * accumulators; each pair step loads np weight vectors once for all rows
 * and broadcasts each row's activation pair. */
enum { STRIP_ROWS = 8 };
BF16 static inline __attribute__((always_inline)) void strip(int mr, int np, float *y, const uint16_t *xs,
                                                             const nmt_bf16_matrix *m, const float *b, int i, int p)
{
    int n = m->n, kp = m->kp;
    const uint16_t *w = m->panels + (size_t)p * PANEL * kp;
    const uint16_t *x = xs + (size_t)i * kp;
    __m512 acc[STRIP_ROWS][2];
#pragma GCC unroll 8
    for (int r = 0; r < STRIP_ROWS; r++)
        acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (int t = 0; t < kp; t += 2, w += 2 * PANEL) {
        __m512bh w0 = load_pairs(w), w1 = np > 1 ? load_pairs(w + (size_t)PANEL * kp) : w0;
#pragma GCC unroll 8
        for (int r = 0; r < STRIP_ROWS; r++)
            if (r < mr) {
                __m512bh xb = pair(x + (size_t)r * kp + t);
                acc[r][0] = dpbf16(acc[r][0], xb, w0);
                if (np > 1)
                    acc[r][1] = dpbf16(acc[r][1], xb, w1);
            }
    }
#pragma GCC unroll 8
    for (int r = 0; r < STRIP_ROWS; r++)
        if (r < mr)
            for (int c = 0; c < np; c++)
                finish16(y + (size_t)(i + r) * n + (p + c) * PANEL, acc[r][c], b, (p + c) * PANEL,
                         columns_of(m, p + c));
}

/* One row x np (<= 8) panels from p: eight accumulators while the weights
 * stream in. */
enum { ROW_PANELS = 8 };
BF16 static inline __attribute__((always_inline)) void row_panels(int np, float *y, const uint16_t *xs,
                                                                  const nmt_bf16_matrix *m, const float *b, int i,
                                                                  int p)
{
    int kp = m->kp;
    const uint16_t *w = m->panels + (size_t)p * PANEL * kp;
    const uint16_t *x = xs + (size_t)i * kp;
    __m512 acc[ROW_PANELS];
#pragma GCC unroll 8
    for (int c = 0; c < ROW_PANELS; c++)
        acc[c] = _mm512_setzero_ps();
    for (int t = 0; t < kp; t += 2) {
        __m512bh xb = pair(x + t);
#pragma GCC unroll 8
        for (int c = 0; c < ROW_PANELS; c++)
            if (c < np)
                acc[c] = dpbf16(acc[c], xb, load_pairs(w + (size_t)c * PANEL * kp + (size_t)t * PANEL));
    }
#pragma GCC unroll 8
    for (int c = 0; c < ROW_PANELS; c++)
        if (c < np)
            finish16(y + (size_t)i * m->n + (p + c) * PANEL, acc[c], b, (p + c) * PANEL, columns_of(m, p + c));
}

BF16 static void one_row(float *y, const uint16_t *xs, const nmt_bf16_matrix *m, const float *b, int i)
{
    int np = (m->n + PANEL - 1) / PANEL, p = 0;
    for (; p + ROW_PANELS <= np; p += ROW_PANELS)
        row_panels(ROW_PANELS, y, xs, m, b, i, p);
    switch (np - p) {
    case 7: row_panels(7, y, xs, m, b, i, p); break;
    case 6: row_panels(6, y, xs, m, b, i, p); break;
    case 5: row_panels(5, y, xs, m, b, i, p); break;
    case 4: row_panels(4, y, xs, m, b, i, p); break;
    case 3: row_panels(3, y, xs, m, b, i, p); break;
    case 2: row_panels(2, y, xs, m, b, i, p); break;
    case 1: row_panels(1, y, xs, m, b, i, p); break;
    default: break;
    }
}

/* A strip of h rows over every panel, two at a time. */
#define STRIP_CASE(h)                                                                                                  \
    case h:                                                                                                            \
        for (p = 0; p + 2 <= np; p += 2)                                                                               \
            strip(h, 2, y, xs, m, b, i, p);                                                                            \
        if (p < np)                                                                                                    \
            strip(h, 1, y, xs, m, b, i, p);                                                                            \
        break

/* Rows i0 .. i1-1: ROW_CHUNK rows at a time, in strips as even as can be. */
enum { ROW_CHUNK = 96 };
BF16 static void rows_bf16(float *y, const uint16_t *xs, int i0, int i1, const nmt_bf16_matrix *m, const float *b)
{
    int np = (m->n + PANEL - 1) / PANEL;
    if (i1 - i0 == 1) {
        one_row(y, xs, m, b, i0);
        return;
    }
    for (int c0 = i0; c0 < i1; c0 += ROW_CHUNK) {
        int c1 = c0 + ROW_CHUNK < i1 ? c0 + ROW_CHUNK : i1;
        int rows = c1 - c0, strips = (rows + STRIP_ROWS - 1) / STRIP_ROWS;
        for (int s = 0, i = c0, h; s < strips; s++, i += h) {
            h = rows / strips + (s < rows % strips);
            int p;
            switch (h) {
                STRIP_CASE(8);
                STRIP_CASE(7);
                STRIP_CASE(6);
                STRIP_CASE(5);
                STRIP_CASE(4);
                STRIP_CASE(3);
                STRIP_CASE(2);
            default:
                one_row(y, xs, m, b, i);
                break;
            }
        }
    }
}

/* The activations rounded into this thread's scratch; NULL when out of
 * memory. */
static const uint16_t *rounded(const float *x, int rows, const nmt_bf16_matrix *m)
{
    uint16_t *xs = thread_scratch((size_t)rows * m->kp);
    if (xs)
        round_rows(xs, x, rows, m->k, m->kp);
    return xs;
}

void nmt_bf16_kernel_avx512(float *y, const float *x, int rows, const nmt_bf16_matrix *m, const float *b)
{
    const uint16_t *xs = rounded(x, rows, m);
    if (!xs) {
        nmt_bf16_pairs_portable(y, x, rows, m, b);
        return;
    }
    rows_bf16(y, xs, 0, rows, m, b);
}

/* ---- AMX -------------------------------------------------------------- */

enum { TILE_K = NMT_TILE_BYTES / 2, TILE_ROWS = NMT_TILE_ROWS }; /* k of bfloat16 per tile row */

/* The sums of row block(s) x panel(s) into c (tiles 0-3 at c[tile][16][16];
 * amx_tiles.h has the tiles' roles): two_a, two_b constants once inlined. */
AMX static inline __attribute__((always_inline)) void tiles(int two_a, int two_b, float c[4][TILE_ROWS][PANEL],
                                                            const uint16_t *x, const uint16_t *w, int kp)
{
    const uint16_t *w1 = w + (size_t)PANEL * kp;
    size_t a1 = (size_t)TILE_ROWS * kp, stride = (size_t)kp * sizeof *x;
    _tile_zero(0);
    if (two_b)
        _tile_zero(1);
    if (two_a) {
        _tile_zero(2);
        if (two_b)
            _tile_zero(3);
    }
    for (int t = 0; t < kp; t += TILE_K) {
        _tile_loadd(4, x + t, stride);
        _tile_loadd(6, w + (size_t)t * PANEL, NMT_TILE_BYTES);
        _tile_dpbf16ps(0, 4, 6);
        if (two_b) {
            _tile_loadd(7, w1 + (size_t)t * PANEL, NMT_TILE_BYTES);
            _tile_dpbf16ps(1, 4, 7);
        }
        if (two_a) {
            _tile_loadd(5, x + a1 + t, stride);
            _tile_dpbf16ps(2, 5, 6);
            if (two_b)
                _tile_dpbf16ps(3, 5, 7);
        }
    }
    _tile_stored(0, c[0], PANEL * sizeof(float));
    if (two_b)
        _tile_stored(1, c[1], PANEL * sizeof(float));
    if (two_a) {
        _tile_stored(2, c[2], PANEL * sizeof(float));
        if (two_b)
            _tile_stored(3, c[3], PANEL * sizeof(float));
    }
}

/* Rows i .. i+h0+h1-1 (h0 <= 16 in the first block, h1 <= 16 in the
 * second) over every panel, two at a time. */
AMX static void rows_amx(float *y, const uint16_t *xs, const nmt_bf16_matrix *m, const float *b, int i, int h0,
                         int h1)
{
    int n = m->n, kp = m->kp, np = (n + PANEL - 1) / PANEL;
    const uint16_t *x = xs + (size_t)i * kp;
    float c[4][TILE_ROWS][PANEL];
    for (int p = 0; p < np; p += 2) {
        const uint16_t *w = m->panels + (size_t)p * PANEL * kp;
        int two_b = p + 1 < np;
        if (h1 && two_b)
            tiles(1, 1, c, x, w, kp);
        else if (h1)
            tiles(1, 0, c, x, w, kp);
        else if (two_b)
            tiles(0, 1, c, x, w, kp);
        else
            tiles(0, 0, c, x, w, kp);
        for (int a = 0; a < 2; a++)
            for (int r = 0; r < (a ? h1 : h0); r++) {
                int row = i + a * TILE_ROWS + r;
                for (int e = 0; e < 1 + two_b; e++)
                    finish16(y + (size_t)row * n + (p + e) * PANEL, _mm512_loadu_ps(c[2 * a + e][r]), b,
                             (p + e) * PANEL, columns_of(m, p + e));
            }
    }
}

/* What rows_amx needs, through nmt_amx_row_blocks. */
typedef struct amx_job {
    float *y;
    const uint16_t *xs;
    const nmt_bf16_matrix *m;
    const float *b;
} amx_job;

static void amx_block(void *ctx, int i, int h0, int h1)
{
    const amx_job *j = ctx;
    rows_amx(j->y, j->xs, j->m, j->b, i, h0, h1);
}

void nmt_bf16_kernel_amx(float *y, const float *x, int rows, const nmt_bf16_matrix *m, const float *b)
{
    const uint16_t *xs = rounded(x, rows, m);
    if (!xs) {
        nmt_bf16_pairs_portable(y, x, rows, m, b);
        return;
    }
    amx_job job = {y, xs, m, b};
    int i = nmt_amx_row_blocks(rows, amx_block, &job);
    if (i < rows)
        rows_bf16(y, xs, i, rows, m, b);
}

#else
void nmt_bf16_kernel_avx512(float *y, const float *x, int rows, const nmt_bf16_matrix *m, const float *b)
{
    nmt_bf16_pairs_portable(y, x, rows, m, b);
}
void nmt_bf16_kernel_amx(float *y, const float *x, int rows, const nmt_bf16_matrix *m, const float *b)
{
    nmt_bf16_pairs_portable(y, x, rows, m, b);
}
#endif
