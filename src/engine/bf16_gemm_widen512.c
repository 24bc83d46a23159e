/* bf16_gemm_widen512.c: bfloat16 weights widened to fp32 on AVX-512 (F
 * and BW), the fused multiply-adds in the portable kernel's order (the
 * same bits as it and as the AVX2 kernel: bf16_gemm.h).  It reads the
 * pairs layout: a pair of steps of a panel is one zmm register, each lane
 * a column's two bfloat16 weights, so one VPSLLD (the first step's weight
 * shifted into the high half) and one VPANDD (the second's, the low half
 * cleared), each with its load folded in, give the two steps' 16 fp32
 * weights in column order -- cheaper than one VPERMW a step on cores that
 * issue VPERMW on a single port.
 *
 * This is bfloat16's kernel on cores whose VDPBF16PS is slow (dot_rate.h):
 * some issue it at a quarter of VFMADD231PS's rate, so that its two
 * products per lane come to half the fp32 rate, where this kernel keeps
 * nearly the fp32 rate and reads half the bytes of fp32 weights. */
#include "bf16_gemm_kernels.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define PANEL NMT_BF16_PANEL
#define KC NMT_BF16_KC
#define TARGET __attribute__((target("avx512f,avx512bw")))
#define INLINE static inline __attribute__((always_inline))

/* The 16 columns' weights of steps 2u and 2u + 1 (pair u of a panel, 64
 * bytes) as fp32. */
TARGET INLINE void widen_pair(const uint16_t *pair, __m512 *first, __m512 *second)
{
    *first = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_loadu_si512(pair), 16));
    *second = _mm512_castsi512_ps(_mm512_and_si512(_mm512_loadu_si512(pair), _mm512_set1_epi32((int)0xffff0000u)));
}

static int columns_of(const nmt_bf16_matrix *m, int p) { return m->n - p * PANEL < PANEL ? m->n - p * PANEL : PANEL; }

static const uint16_t *panel_at(const nmt_bf16_matrix *m, int p) { return m->panels + (size_t)p * m->kp * PANEL; }

/* y[0..nc) = a block's sums: added to the blocks before (add), the bias
 * last (b, NULL but on the last block) -- the portable kernel's order. */
TARGET INLINE void finish(float *y, __m512 acc, int nc, int add, const float *b)
{
    __mmask16 mask = (__mmask16)(nc >= PANEL ? 0xffff : (1u << nc) - 1);
    if (add)
        acc = _mm512_add_ps(_mm512_maskz_loadu_ps(mask, y), acc);
    if (b)
        acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(mask, b));
    _mm512_mask_storeu_ps(y, mask, acc);
}

/* mr (<= STRIP_ROWS) rows x np (1 or 2) panels from p over the k block
 * [k0, k0 + kc): up to 24 accumulators, each step's weights widened once
 * for all rows, each row's activation broadcast (mr and np constants once
 * inlined). */
enum { STRIP_ROWS = 12 };
TARGET INLINE void strip(int mr, int np, float *y, const float *x, const nmt_bf16_matrix *m, const float *b, int i,
                         int p, int k0, int kc)
{
    int n = m->n, k = m->k, add = k0 > 0, last = k0 + kc == k;
    const uint16_t *w0 = panel_at(m, p) + (size_t)k0 * PANEL, *w1 = np > 1 ? panel_at(m, p + 1) + (size_t)k0 * PANEL : w0;
    const float *xr = x + (size_t)i * k + k0;
    __m512 acc[STRIP_ROWS][2];
#pragma GCC unroll 12
    for (int r = 0; r < STRIP_ROWS; r++)
        acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (int t = 0; t < kc; t += 2) { /* k0 even: t, t + 1 are a pair */
        __m512 a0, a1, c0, c1;
        widen_pair(w0 + (size_t)t * PANEL, &a0, &a1);
        if (np > 1)
            widen_pair(w1 + (size_t)t * PANEL, &c0, &c1);
        else
            c0 = c1 = a0;
        int both = t + 1 < kc; /* an odd k's last step has no second */
#pragma GCC unroll 12
        for (int r = 0; r < STRIP_ROWS; r++)
            if (r < mr) {
                __m512 xb = _mm512_set1_ps(xr[(size_t)r * k + t]);
                acc[r][0] = _mm512_fmadd_ps(xb, a0, acc[r][0]);
                if (np > 1)
                    acc[r][1] = _mm512_fmadd_ps(xb, c0, acc[r][1]);
            }
        if (!both)
            break;
#pragma GCC unroll 12
        for (int r = 0; r < STRIP_ROWS; r++)
            if (r < mr) {
                __m512 xb = _mm512_set1_ps(xr[(size_t)r * k + t + 1]);
                acc[r][0] = _mm512_fmadd_ps(xb, a1, acc[r][0]);
                if (np > 1)
                    acc[r][1] = _mm512_fmadd_ps(xb, c1, acc[r][1]);
            }
    }
#pragma GCC unroll 12
    for (int r = 0; r < STRIP_ROWS; r++)
        if (r < mr)
            for (int e = 0; e < np; e++) {
                int col = (p + e) * PANEL;
                finish(y + (size_t)(i + r) * n + col, acc[r][e], columns_of(m, p + e), add, last && b ? b + col : NULL);
            }
}

/* One row x np (<= ROW_PANELS) panels from p over one k block: eight
 * accumulators while the weights stream in (a decode step at batch 1
 * reads each weight once). */
enum { ROW_PANELS = 8 };
TARGET INLINE void row_panels(int np, float *y, const float *x, const nmt_bf16_matrix *m, const float *b, int p,
                              int k0, int kc)
{
    int add = k0 > 0, last = k0 + kc == m->k;
    __m512 acc[ROW_PANELS];
#pragma GCC unroll 8
    for (int c = 0; c < ROW_PANELS; c++)
        acc[c] = _mm512_setzero_ps();
    for (int t = k0; t < k0 + kc; t += 2) {
        __m512 w[ROW_PANELS][2];
#pragma GCC unroll 8
        for (int c = 0; c < ROW_PANELS; c++)
            if (c < np)
                widen_pair(panel_at(m, p + c) + (size_t)t * PANEL, &w[c][0], &w[c][1]);
        __m512 xb = _mm512_set1_ps(x[t]);
#pragma GCC unroll 8
        for (int c = 0; c < ROW_PANELS; c++)
            if (c < np)
                acc[c] = _mm512_fmadd_ps(xb, w[c][0], acc[c]);
        if (t + 1 == k0 + kc) /* an odd k's last step */
            break;
        xb = _mm512_set1_ps(x[t + 1]);
#pragma GCC unroll 8
        for (int c = 0; c < ROW_PANELS; c++)
            if (c < np)
                acc[c] = _mm512_fmadd_ps(xb, w[c][1], acc[c]);
    }
#pragma GCC unroll 8
    for (int c = 0; c < ROW_PANELS; c++)
        if (c < np) {
            int col = (p + c) * PANEL;
            finish(y + col, acc[c], columns_of(m, p + c), add, last && b ? b + col : NULL);
        }
}

TARGET static void one_row(float *y, const float *x, const nmt_bf16_matrix *m, const float *b)
{
    int np = (m->n + PANEL - 1) / PANEL;
    for (int p = 0; p < np; p += ROW_PANELS)
        for (int k0 = 0; k0 < m->k; k0 += KC) {
            int kc = m->k - k0 < KC ? m->k - k0 : KC;
            switch (np - p < ROW_PANELS ? np - p : ROW_PANELS) {
            case 8: row_panels(8, y, x, m, b, p, k0, kc); break;
            case 7: row_panels(7, y, x, m, b, p, k0, kc); break;
            case 6: row_panels(6, y, x, m, b, p, k0, kc); break;
            case 5: row_panels(5, y, x, m, b, p, k0, kc); break;
            case 4: row_panels(4, y, x, m, b, p, k0, kc); break;
            case 3: row_panels(3, y, x, m, b, p, k0, kc); break;
            case 2: row_panels(2, y, x, m, b, p, k0, kc); break;
            default: row_panels(1, y, x, m, b, p, k0, kc); break;
            }
        }
}

/* One function per strip height, with its one- and two-panel forms: kept
 * apart rather than all inlined into one caller, whose size made clang
 * with sanitizers take many minutes over this file. */
#define STRIP_OF(R)                                                                                                    \
    TARGET static __attribute__((noinline)) void strip_##R(int two, float *y, const float *x,                          \
                                                           const nmt_bf16_matrix *m, const float *b, int i, int p,   \
                                                           int k0, int kc)                                            \
    {                                                                                                                  \
        if (two)                                                                                                       \
            strip(R, 2, y, x, m, b, i, p, k0, kc);                                                                     \
        else                                                                                                           \
            strip(R, 1, y, x, m, b, i, p, k0, kc);                                                                     \
    }
STRIP_OF(1)
STRIP_OF(2)
STRIP_OF(3)
STRIP_OF(4)
STRIP_OF(5)
STRIP_OF(6)
STRIP_OF(7)
STRIP_OF(8)
STRIP_OF(9)
STRIP_OF(10)
STRIP_OF(11)
STRIP_OF(12)
#undef STRIP_OF

typedef void (*strip_fn)(int two, float *y, const float *x, const nmt_bf16_matrix *m, const float *b, int i, int p,
                         int k0, int kc);
static const strip_fn strip_of_height[STRIP_ROWS + 1] = {
    NULL, strip_1, strip_2, strip_3, strip_4, strip_5, strip_6, strip_7, strip_8, strip_9, strip_10, strip_11, strip_12};

/* Rows ROW_CHUNK at a time (their activations stay in L2 while the panels
 * stream past: the encoder's hundreds of rows); per pair of panels, per k
 * block, strips as even as can be (32 rows: 11 11 10). */
enum { ROW_CHUNK = 96 };
TARGET void nmt_bf16_kernel_widen512(float *y, const float *x, int rows, const nmt_bf16_matrix *m, const float *b)
{
    if (rows == 1) {
        one_row(y, x, m, b);
        return;
    }
    int np = (m->n + PANEL - 1) / PANEL;
    for (int i0 = 0; i0 < rows; i0 += ROW_CHUNK) {
        int chunk = rows - i0 < ROW_CHUNK ? rows - i0 : ROW_CHUNK, strips = (chunk + STRIP_ROWS - 1) / STRIP_ROWS;
        for (int p = 0; p < np; p += 2)
            for (int k0 = 0; k0 < m->k; k0 += KC) {
                int kc = m->k - k0 < KC ? m->k - k0 : KC;
                for (int s = 0, i = i0, h; s < strips; s++, i += h) {
                    h = chunk / strips + (s < chunk % strips);
                    strip_of_height[h](p + 1 < np, y, x, m, b, i, p, k0, kc);
                }
            }
    }
}

#else
#include <math.h>

/* Never chosen without x86's AVX-512; the same sums in plain C. */
void nmt_bf16_kernel_widen512(float *y, const float *x, int rows, const nmt_bf16_matrix *m, const float *b)
{
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < m->n; j++) {
            float sum = 0.0f;
            for (int k0 = 0; k0 < m->k; k0 += NMT_BF16_KC) {
                float acc = 0.0f;
                for (int t = k0; t < m->k && t < k0 + NMT_BF16_KC; t++)
                    acc = fmaf(x[(size_t)i * m->k + t], nmt_bf16_weight(m, j, t), acc);
                sum = k0 == 0 ? acc : sum + acc;
            }
            y[(size_t)i * m->n + j] = b ? sum + b[j] : sum;
        }
}
#endif
