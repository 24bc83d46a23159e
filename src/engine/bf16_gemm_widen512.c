/* bf16_gemm_widen512.c: the widened layout's kernel (bf16_gemm.h) on
 * AVX-512 (F and BW).  A step's 16 weights of a panel become one zmm
 * register of fp32 with a single VPERMW (zero-masked: each bfloat16 into
 * the high half of its lane, the lanes in column order), and fp32
 * activations multiply them with fused multiply-adds in the order the
 * portable kernel sums: the same bits as it and as the AVX2 kernel.
 *
 * This is bfloat16's kernel on cores whose VDPBF16PS is slow (dot_rate.h):
 * some issue it at a quarter of VFMADD231PS's rate, so that its two
 * products per lane come to half the fp32 rate, where this kernel keeps
 * the fp32 rate and reads half the bytes of fp32 weights. */
#include "bf16_gemm_kernels.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define PANEL NMT_BF16_PANEL
#define KC NMT_BF16_KC
#define TARGET __attribute__((target("avx512f,avx512bw")))
#define INLINE static inline __attribute__((always_inline))

/* VPERMW's word indices: lane j's high half takes the word of column j
 * (column c < 8 sits in word 2c, column c >= 8 in word 2(c - 8) + 1), its
 * low half is masked to zero. */
static const short widen_words[32] __attribute__((aligned(64))) = {
    0, 0, 0, 2, 0, 4, 0, 6, 0, 8, 0, 10, 0, 12, 0, 14, 0, 1, 0, 3, 0, 5, 0, 7, 0, 9, 0, 11, 0, 13, 0, 15};

/* The 16 weights of one step (32 bytes) as fp32, columns in order. */
TARGET INLINE __m512 widen(const uint16_t *w, __m512i index)
{
    __m512i v = _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)w));
    return _mm512_castsi512_ps(_mm512_maskz_permutexvar_epi16(0xaaaaaaaau, index, v));
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
                         int p, int k0, int kc, __m512i index)
{
    int n = m->n, k = m->k, add = k0 > 0, last = k0 + kc == k;
    const uint16_t *w0 = panel_at(m, p) + (size_t)k0 * PANEL, *w1 = np > 1 ? panel_at(m, p + 1) + (size_t)k0 * PANEL : w0;
    const float *xr = x + (size_t)i * k + k0;
    __m512 acc[STRIP_ROWS][2];
#pragma GCC unroll 12
    for (int r = 0; r < STRIP_ROWS; r++)
        acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (int t = 0; t < kc; t++) {
        __m512 a = widen(w0 + (size_t)t * PANEL, index), c = np > 1 ? widen(w1 + (size_t)t * PANEL, index) : a;
#pragma GCC unroll 12
        for (int r = 0; r < STRIP_ROWS; r++)
            if (r < mr) {
                __m512 xb = _mm512_set1_ps(xr[(size_t)r * k + t]);
                acc[r][0] = _mm512_fmadd_ps(xb, a, acc[r][0]);
                if (np > 1)
                    acc[r][1] = _mm512_fmadd_ps(xb, c, acc[r][1]);
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
                              int k0, int kc, __m512i index)
{
    int add = k0 > 0, last = k0 + kc == m->k;
    __m512 acc[ROW_PANELS];
#pragma GCC unroll 8
    for (int c = 0; c < ROW_PANELS; c++)
        acc[c] = _mm512_setzero_ps();
    for (int t = k0; t < k0 + kc; t++) {
        __m512 xb = _mm512_set1_ps(x[t]);
#pragma GCC unroll 8
        for (int c = 0; c < ROW_PANELS; c++)
            if (c < np)
                acc[c] = _mm512_fmadd_ps(xb, widen(panel_at(m, p + c) + (size_t)t * PANEL, index), acc[c]);
    }
#pragma GCC unroll 8
    for (int c = 0; c < ROW_PANELS; c++)
        if (c < np) {
            int col = (p + c) * PANEL;
            finish(y + col, acc[c], columns_of(m, p + c), add, last && b ? b + col : NULL);
        }
}

TARGET static void one_row(float *y, const float *x, const nmt_bf16_matrix *m, const float *b, __m512i index)
{
    int np = (m->n + PANEL - 1) / PANEL;
    for (int p = 0; p < np; p += ROW_PANELS)
        for (int k0 = 0; k0 < m->k; k0 += KC) {
            int kc = m->k - k0 < KC ? m->k - k0 : KC;
            switch (np - p < ROW_PANELS ? np - p : ROW_PANELS) {
            case 8: row_panels(8, y, x, m, b, p, k0, kc, index); break;
            case 7: row_panels(7, y, x, m, b, p, k0, kc, index); break;
            case 6: row_panels(6, y, x, m, b, p, k0, kc, index); break;
            case 5: row_panels(5, y, x, m, b, p, k0, kc, index); break;
            case 4: row_panels(4, y, x, m, b, p, k0, kc, index); break;
            case 3: row_panels(3, y, x, m, b, p, k0, kc, index); break;
            case 2: row_panels(2, y, x, m, b, p, k0, kc, index); break;
            default: row_panels(1, y, x, m, b, p, k0, kc, index); break;
            }
        }
}

/* Rows ROW_CHUNK at a time (their activations stay in L2 while the panels
 * stream past: the encoder's hundreds of rows); per pair of panels, per k
 * block, strips as even as can be (32 rows: 11 11 10). */
enum { ROW_CHUNK = 96 };
TARGET void nmt_bf16_kernel_widen512(float *y, const float *x, int rows, const nmt_bf16_matrix *m, const float *b)
{
    __m512i index = _mm512_load_si512((const void *)widen_words);
    int np = (m->n + PANEL - 1) / PANEL;
    if (rows == 1) {
        one_row(y, x, m, b, index);
        return;
    }
    for (int i0 = 0; i0 < rows; i0 += ROW_CHUNK) {
        int chunk = rows - i0 < ROW_CHUNK ? rows - i0 : ROW_CHUNK, strips = (chunk + STRIP_ROWS - 1) / STRIP_ROWS;
        for (int p = 0; p < np; p += 2)
            for (int k0 = 0; k0 < m->k; k0 += KC) {
                int kc = m->k - k0 < KC ? m->k - k0 : KC, two = p + 1 < np;
                for (int s = 0, i = i0, h; s < strips; s++, i += h) {
                    h = chunk / strips + (s < chunk % strips);
#define STRIP(R) (two ? strip(R, 2, y, x, m, b, i, p, k0, kc, index) : strip(R, 1, y, x, m, b, i, p, k0, kc, index))
                    switch (h) {
                    case 12: STRIP(12); break;
                    case 11: STRIP(11); break;
                    case 10: STRIP(10); break;
                    case 9: STRIP(9); break;
                    case 8: STRIP(8); break;
                    case 7: STRIP(7); break;
                    case 6: STRIP(6); break;
                    case 5: STRIP(5); break;
                    case 4: STRIP(4); break;
                    case 3: STRIP(3); break;
                    case 2: STRIP(2); break;
                    default: STRIP(1); break;
                    }
#undef STRIP
                }
            }
    }
}

#else
void nmt_bf16_kernel_widen512(float *y, const float *x, int rows, const nmt_bf16_matrix *m, const float *b)
{
    nmt_bf16_widen_portable(y, x, rows, m, b);
}
#endif
