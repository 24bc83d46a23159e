/* qgemm_avx512.c: the int8 kernels of AVX-512 CPUs (see qgemm.h): VPDPBUSD
 * on zmm registers (AVX-512 VNNI), and AMX tiles (TDPBUSD) for blocks of
 * rows.  qgemm.h's panels are already what both want: a quad of k of 16
 * columns is one zmm register of signed weights, and 16 quads of a panel
 * (1 KiB, contiguous) are one AMX B tile; the unsigned activation bytes
 * are VPDPBUSD's and TDPBUSD's first operand as they are.  Neither
 * saturates, so the int32 sums are exact and equal the portable kernel's;
 * the epilogue does the portable kernel's float operations in its order. */
#include "qgemm_kernels.h"

#include "amx_tiles.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#include <string.h>

#include "prefetch_ahead.h"
#include "vnni.h"

#define PANEL NMT_Q8_PANEL
#define QUAD NMT_Q8_QUAD
#define VNNI __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni")))
#define AMX __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,amx-tile,amx-int8")))

/* ---- quantization -------------------------------------------------- */

VNNI float nmt_q8_quantize_avx512(const float *x, int k, int kp, int levels, int offset, uint8_t *dst)
{
    __m512 vmax = _mm512_setzero_ps();
    for (int t = 0; t < k; t += 16) {
        __mmask16 m = (__mmask16)(k - t >= 16 ? 0xffff : (1u << (k - t)) - 1);
        vmax = _mm512_max_ps(vmax, _mm512_abs_ps(_mm512_maskz_loadu_ps(m, x + t)));
    }
    float amax = _mm512_reduce_max_ps(vmax);
    float scale = amax > 0.0f ? amax / (float)levels : 1.0f, inv = 1.0f / scale;
    const __m512 vinv = _mm512_set1_ps(inv);
    const __m512i lo = _mm512_set1_epi32(-levels), hi = _mm512_set1_epi32(levels), shift = _mm512_set1_epi32(offset);
    for (int t = 0; t < kp; t += 16) { /* kp is a multiple of 16; past k the value is 0 */
        __mmask16 m = (__mmask16)(k - t >= 16 ? 0xffff : k > t ? (1u << (k - t)) - 1 : 0);
        __m512i v = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + t), vinv));
        v = _mm512_add_epi32(_mm512_min_epi32(_mm512_max_epi32(v, lo), hi), shift);
        _mm_storeu_si128((__m128i *)(dst + t), _mm512_cvtepi32_epi8(v)); /* the low byte: modulo 256 */
    }
    return scale;
}

/* ---- AVX-512 VNNI ----------------------------------------------------- */

/* The quad x[t .. t+3] in every 32-bit lane. */
VNNI static inline __m512i quad(const uint8_t *x)
{
    int32_t v;
    memcpy(&v, x, sizeof v);
    return _mm512_set1_epi32(v);
}

static int columns_of(const nmt_q8_matrix *q, int p) { return q->n - p * PANEL < PANEL ? q->n - p * PANEL : PANEL; }

/* What the scaling back needs of panel p's columns, loaded once for all
 * rows: offset_sum, scale and bias (zeros past n), and the mask of the
 * columns that exist. */
typedef struct panel_columns {
    __mmask16 mask;
    __m512i offset;
    __m512 scale, bias;
    int has_bias;
} panel_columns;

VNNI static inline panel_columns columns_at(const nmt_q8_matrix *q, const float *b, int p)
{
    int j0 = p * PANEL, nc = columns_of(q, p);
    panel_columns c = {.mask = (__mmask16)(nc >= PANEL ? 0xffff : (1u << nc) - 1), .has_bias = b != NULL};
    c.offset = _mm512_maskz_loadu_epi32(c.mask, q->offset_sum + j0);
    c.scale = _mm512_maskz_loadu_ps(c.mask, q->scale + j0);
    c.bias = b ? _mm512_maskz_loadu_ps(c.mask, b + j0) : _mm512_setzero_ps();
    return c;
}

/* y[c] = (acc_c - offset_sum[j]) * (sx * scale[j]) + b[j] for the panel's
 * columns, in the portable kernel's operations. */
VNNI static inline void finish16(float *y, __m512i acc, float sx, const panel_columns *c)
{
    __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(acc, c->offset)),
                             _mm512_mul_ps(_mm512_set1_ps(sx), c->scale));
    if (c->has_bias)
        v = _mm512_add_ps(v, c->bias);
    _mm512_mask_storeu_ps(y, c->mask, v);
}

/* mr (<= STRIP_ROWS) rows x np (1 or 2) panels from p: up to 16
 * accumulators; each quad step loads np weight vectors once for all rows
 * and broadcasts each row's activation quad, and sends a line of ahead
 * (two with dual) on its way to L2. */
enum { STRIP_ROWS = 8 };
VNNI static inline __attribute__((always_inline)) void strip(int mr, int np, float *y, const uint8_t *xq,
                                                             const float *sx, const nmt_q8_matrix *q, const float *b,
                                                             int i, int p, const char *ahead, int ahead_lines,
                                                             int dual)
{
    int n = q->n, kp = q->kp;
    const int8_t *w = q->w + (size_t)p * PANEL * kp;
    const uint8_t *x = xq + (size_t)i * kp;
    __m512i acc[STRIP_ROWS][2];
#pragma GCC unroll 8
    for (int r = 0; r < STRIP_ROWS; r++)
        acc[r][0] = acc[r][1] = _mm512_setzero_si512();
    int line = 0;
    for (int t = 0; t < kp; t += QUAD, w += QUAD * PANEL) {
        nmt_prefetch_ahead_step(ahead, &line, ahead_lines, dual);
        __m512i w0 = _mm512_loadu_si512(w), w1 = np > 1 ? _mm512_loadu_si512(w + (size_t)PANEL * kp) : w0;
#pragma GCC unroll 8
        for (int r = 0; r < STRIP_ROWS; r++)
            if (r < mr) {
                __m512i xb = quad(x + (size_t)r * kp + t);
                acc[r][0] = nmt_dpbusd(acc[r][0], xb, w0);
                if (np > 1)
                    acc[r][1] = nmt_dpbusd(acc[r][1], xb, w1);
            }
    }
    for (int c = 0; c < np; c++) {
        panel_columns cols = columns_at(q, b, p + c);
#pragma GCC unroll 8
        for (int r = 0; r < STRIP_ROWS; r++)
            if (r < mr)
                finish16(y + (size_t)(i + r) * n + (p + c) * PANEL, acc[r][c], sx[i + r], &cols);
    }
}

/* One row x np (<= 8) panels from p: eight accumulators, enough chains
 * while the weights stream in (at batch 1 a decode step reads each weight
 * once). */
enum { ROW_PANELS = 8 };
VNNI static inline __attribute__((always_inline)) void row_panels(int np, float *y, const uint8_t *xq,
                                                                  const float *sx, const nmt_q8_matrix *q,
                                                                  const float *b, int i, int p)
{
    int kp = q->kp;
    const int8_t *w = q->w + (size_t)p * PANEL * kp;
    const uint8_t *x = xq + (size_t)i * kp;
    __m512i acc[ROW_PANELS];
#pragma GCC unroll 8
    for (int c = 0; c < ROW_PANELS; c++)
        acc[c] = _mm512_setzero_si512();
    for (int t = 0; t < kp; t += QUAD) {
        __m512i xb = quad(x + t);
#pragma GCC unroll 8
        for (int c = 0; c < ROW_PANELS; c++)
            if (c < np)
                acc[c] = nmt_dpbusd(acc[c], xb,
                                             _mm512_loadu_si512(w + (size_t)c * PANEL * kp + (size_t)t * PANEL));
    }
#pragma GCC unroll 8
    for (int c = 0; c < ROW_PANELS; c++)
        if (c < np) {
            panel_columns cols = columns_at(q, b, p + c);
            finish16(y + (size_t)i * q->n + (p + c) * PANEL, acc[c], sx[i], &cols);
        }
}

VNNI static void one_row(float *y, const uint8_t *xq, const float *sx, const nmt_q8_matrix *q, const float *b, int i)
{
    int np = (q->n + PANEL - 1) / PANEL, p = 0;
    for (; p + ROW_PANELS <= np; p += ROW_PANELS)
        row_panels(ROW_PANELS, y, xq, sx, q, b, i, p);
    switch (np - p) {
    case 7: row_panels(7, y, xq, sx, q, b, i, p); break;
    case 6: row_panels(6, y, xq, sx, q, b, i, p); break;
    case 5: row_panels(5, y, xq, sx, q, b, i, p); break;
    case 4: row_panels(4, y, xq, sx, q, b, i, p); break;
    case 3: row_panels(3, y, xq, sx, q, b, i, p); break;
    case 2: row_panels(2, y, xq, sx, q, b, i, p); break;
    case 1: row_panels(1, y, xq, sx, q, b, i, p); break;
    default: break;
    }
}

/* A strip of h (1 .. 8) rows x np (1 or 2) panels from p; two lines of
 * ahead a step where they outnumber the steps (a single strip). */
#define STRIP_CASE(h)                                                                                                  \
    case h:                                                                                                            \
        if (np == 1)                                                                                                   \
            strip(h, 1, y, xq, sx, q, b, i, p, ahead, ahead_lines, 0);                                                 \
        else if (ahead_lines > q->kp / QUAD)                                                                           \
            strip(h, 2, y, xq, sx, q, b, i, p, ahead, ahead_lines, 1);                                                 \
        else                                                                                                           \
            strip(h, 2, y, xq, sx, q, b, i, p, ahead, ahead_lines, 0);                                                 \
        break

VNNI static void strip_of(int h, int np, float *y, const uint8_t *xq, const float *sx, const nmt_q8_matrix *q,
                          const float *b, int i, int p, const char *ahead, int ahead_lines)
{
    switch (h) {
        STRIP_CASE(8);
        STRIP_CASE(7);
        STRIP_CASE(6);
        STRIP_CASE(5);
        STRIP_CASE(4);
        STRIP_CASE(3);
        STRIP_CASE(2);
    default: /* one row */
        if (np == 2)
            row_panels(2, y, xq, sx, q, b, i, p);
        else
            row_panels(1, y, xq, sx, q, b, i, p);
        break;
    }
}

/* Rows i0 .. i1-1: ROW_CHUNK rows at a time, in strips as even as can be;
 * each pair of panels goes past every strip of the chunk while it is in L1,
 * so the weights are read from memory once per chunk rather than once per
 * strip (a batch of 32 is one chunk).  48 rows: at k = 512 their 24 KB of
 * activations and a pair of panels (16 KB) share L1; 96 rows thrashed it
 * (the encoder's M = 640 at 70% of 48's rate). */
enum { ROW_CHUNK = 48, MAX_STRIPS = (ROW_CHUNK + STRIP_ROWS - 1) / STRIP_ROWS };
VNNI static void rows_vnni(float *y, const uint8_t *xq, const float *sx, int i0, int i1, const nmt_q8_matrix *q,
                           const float *b)
{
    int np = (q->n + PANEL - 1) / PANEL;
    if (i1 - i0 == 1) {
        one_row(y, xq, sx, q, b, i0);
        return;
    }
    for (int c0 = i0; c0 < i1; c0 += ROW_CHUNK) {
        int c1 = c0 + ROW_CHUNK < i1 ? c0 + ROW_CHUNK : i1;
        int rows = c1 - c0, strips = (rows + STRIP_ROWS - 1) / STRIP_ROWS;
        int first[MAX_STRIPS], height[MAX_STRIPS];
        for (int s = 0, i = c0; s < strips; s++) {
            first[s] = i;
            height[s] = rows / strips + (s < rows % strips);
            i += height[s];
        }
        for (int p = 0; p < np; p += 2) {
            /* the next pair of panels (contiguous) on its way to L2 while
             * this one is used, a share during each strip: the hardware
             * prefetcher stops when the later strips miss nothing */
            size_t ahead = p + 2 < np ? (size_t)(np - p - 2 >= 2 ? 2 : 1) * PANEL * (size_t)q->kp : 0;
            const char *next = (const char *)(q->w + (size_t)(p + 2) * PANEL * (size_t)q->kp);
            for (int s = 0; s < strips; s++) {
                size_t from = ahead * (size_t)s / (size_t)strips / 64 * 64, to = ahead * (size_t)(s + 1) / (size_t)strips;
                strip_of(height[s], np - p >= 2 ? 2 : 1, y, xq, sx, q, b, first[s], p, next + from,
                         (int)((to - from + 63) / 64));
            }
        }
    }
}

void nmt_q8_kernel_vnni(float *y, const uint8_t *xq, const float *sx, int m, const nmt_q8_matrix *q, const float *b)
{
    rows_vnni(y, xq, sx, 0, m, q, b);
}

/* ---- AMX -------------------------------------------------------------- */

enum { TILE_K = NMT_TILE_BYTES, TILE_ROWS = NMT_TILE_ROWS }; /* k of int8 per tile row */

/* The sums of row block(s) x panel(s) from p into c (tiles 0-3 at
 * c[tile][16][16]; amx_tiles.h has the tiles' roles): two_a, two_b
 * constants once inlined. */
AMX static inline __attribute__((always_inline)) void tiles(int two_a, int two_b, int32_t c[4][TILE_ROWS][PANEL],
                                                            const uint8_t *x, const int8_t *w, int kp)
{
    const int8_t *w1 = w + (size_t)PANEL * kp;
    size_t a1 = (size_t)TILE_ROWS * kp;
    _tile_zero(0);
    if (two_b)
        _tile_zero(1);
    if (two_a) {
        _tile_zero(2);
        if (two_b)
            _tile_zero(3);
    }
    for (int t = 0; t < kp; t += TILE_K) {
        _tile_loadd(4, x + t, kp);
        _tile_loadd(6, w + (size_t)t * PANEL, QUAD * PANEL);
        _tile_dpbusd(0, 4, 6);
        if (two_b) {
            _tile_loadd(7, w1 + (size_t)t * PANEL, QUAD * PANEL);
            _tile_dpbusd(1, 4, 7);
        }
        if (two_a) {
            _tile_loadd(5, x + a1 + t, kp);
            _tile_dpbusd(2, 5, 6);
            if (two_b)
                _tile_dpbusd(3, 5, 7);
        }
    }
    _tile_stored(0, c[0], PANEL * sizeof(int32_t));
    if (two_b)
        _tile_stored(1, c[1], PANEL * sizeof(int32_t));
    if (two_a) {
        _tile_stored(2, c[2], PANEL * sizeof(int32_t));
        if (two_b)
            _tile_stored(3, c[3], PANEL * sizeof(int32_t));
    }
}

/* Rows i .. i+h0+h1-1 (h0 <= 16 in the first block, h1 <= 16 in the
 * second) over every panel, two at a time. */
AMX static void rows_amx(float *y, const uint8_t *xq, const float *sx, const nmt_q8_matrix *q, const float *b, int i,
                         int h0, int h1)
{
    int n = q->n, kp = q->kp, np = (n + PANEL - 1) / PANEL;
    const uint8_t *x = xq + (size_t)i * kp;
    int32_t c[4][TILE_ROWS][PANEL];
    for (int p = 0; p < np; p += 2) {
        const int8_t *w = q->w + (size_t)p * PANEL * kp;
        int two_b = p + 1 < np;
        nmt_q8_amx_sums(c, x, w, kp, h1 > 0, two_b);
        for (int e = 0; e < 1 + two_b; e++) {
            panel_columns cols = columns_at(q, b, p + e);
            for (int a = 0; a < 2; a++)
                for (int r = 0; r < (a ? h1 : h0); r++) {
                    int row = i + a * TILE_ROWS + r;
                    finish16(y + (size_t)row * n + (p + e) * PANEL, _mm512_loadu_si512(c[2 * a + e][r]), sx[row],
                             &cols);
                }
        }
    }
}

AMX void nmt_q8_amx_sums(int32_t c[4][NMT_TILE_ROWS][NMT_Q8_PANEL], const uint8_t *x, const int8_t *w, int kp,
                         int two_a, int two_b)
{
    if (two_a && two_b)
        tiles(1, 1, c, x, w, kp);
    else if (two_a)
        tiles(1, 0, c, x, w, kp);
    else if (two_b)
        tiles(0, 1, c, x, w, kp);
    else
        tiles(0, 0, c, x, w, kp);
}

/* What rows_amx needs, through nmt_amx_row_blocks. */
typedef struct amx_job {
    float *y;
    const uint8_t *xq;
    const float *sx;
    const nmt_q8_matrix *q;
    const float *b;
} amx_job;

static void amx_block(void *ctx, int i, int h0, int h1)
{
    const amx_job *j = ctx;
    rows_amx(j->y, j->xq, j->sx, j->q, j->b, i, h0, h1);
}

void nmt_q8_kernel_amx(float *y, const uint8_t *xq, const float *sx, int m, const nmt_q8_matrix *q, const float *b)
{
    amx_job job = {y, xq, sx, q, b};
    int i = nmt_amx_row_blocks(m, amx_block, &job);
    if (i < m)
        rows_vnni(y, xq, sx, i, m, q, b);
}

#else
void nmt_q8_amx_sums(int32_t c[4][NMT_TILE_ROWS][NMT_Q8_PANEL], const uint8_t *x, const int8_t *w, int kp,
                     int two_a, int two_b)
{
    (void)c, (void)x, (void)w, (void)kp, (void)two_a, (void)two_b;
}
void nmt_q8_kernel_vnni(float *y, const uint8_t *xq, const float *sx, int m, const nmt_q8_matrix *q, const float *b)
{
    (void)y, (void)xq, (void)sx, (void)m, (void)q, (void)b;
}
void nmt_q8_kernel_amx(float *y, const uint8_t *xq, const float *sx, int m, const nmt_q8_matrix *q, const float *b)
{
    (void)y, (void)xq, (void)sx, (void)m, (void)q, (void)b;
}
#endif
