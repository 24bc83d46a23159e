/* bf16_gemm.c: bfloat16 weight panels in both layouts; against fp32
 * activations a portable kernel and an AVX2+FMA one that sum in the same
 * order, the portable loop of the pairs layout, and the choice among them
 * and those of bf16_gemm_avx512.c and bf16_gemm_widen512.c (see
 * bf16_gemm.h). */
#include "bf16_gemm.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "bf16_gemm_kernels.h"
#include "cpu_features.h"
#include "dot_rate.h"
#include "float_convert.h"
#include "huge_alloc.h"
#include "kernel_override.h"
#include "log.h"
#include "util.h"

enum { PANEL = NMT_BF16_PANEL, KC = NMT_BF16_KC };

static int panels_for(int n) { return (n + PANEL - 1) / PANEL; }

/* Where column c (< 16) of a panel sits among a step's 16 values. */
static int slot_of(int c) { return c < 8 ? 2 * c : 2 * (c - 8) + 1; }

static const uint16_t *panel_at(const nmt_bf16_matrix *m, int p) { return m->panels + (size_t)p * m->kp * PANEL; }

/* k as layout stores it. */
static int stored_k(nmt_bf16_layout layout, int k)
{
    return layout == NMT_BF16_PAIRS ? (k + NMT_BF16_PAIR_KP - 1) / NMT_BF16_PAIR_KP * NMT_BF16_PAIR_KP : k;
}

/* Where W[j][t] sits in its panel. */
static size_t offset_in_panel(const nmt_bf16_matrix *m, int j, int t)
{
    int c = j % PANEL;
    if (m->layout == NMT_BF16_PAIRS)
        return ((size_t)(t / 2) * PANEL + (size_t)c) * 2 + (size_t)(t % 2);
    return (size_t)t * PANEL + (size_t)slot_of(c);
}

static nmt_code alloc_layout(nmt_bf16_matrix *m, int n, int k, nmt_bf16_layout layout, nmt_err *err)
{
    memset(m, 0, sizeof *m);
    m->n = n;
    m->k = k;
    m->kp = stored_k(layout, k);
    m->layout = layout;
    m->panels = nmt_huge_alloc((size_t)panels_for(n) * m->kp * PANEL * sizeof *m->panels);
    if (!m->panels)
        return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory converting a %d x %d matrix to bfloat16", n, k);
    return NMT_OK;
}

static nmt_bf16_kernel chosen_kind(void);

nmt_code nmt_bf16_alloc(nmt_bf16_matrix *m, int n, int k, nmt_err *err)
{
    return alloc_layout(m, n, k, nmt_bf16_layout_of(chosen_kind()), err);
}

void nmt_bf16_set_rows(nmt_bf16_matrix *m, const float *w, int j0, int count)
{
    int k = m->k;
    for (int r = 0; r < count; r++) {
        int j = j0 + r;
        uint16_t *panel = m->panels + (size_t)(j / PANEL) * m->kp * PANEL;
        const float *row = w + (size_t)r * k;
        for (int t = 0; t < k; t++)
            panel[offset_in_panel(m, j, t)] = nmt_f32_to_bf16(row[t]);
    }
}

nmt_code nmt_bf16_pack_for(nmt_bf16_kernel kernel, nmt_bf16_matrix *m, const float *w, int n, int k, nmt_err *err)
{
    nmt_code rc = alloc_layout(m, n, k, nmt_bf16_layout_of(kernel), err);
    if (rc == NMT_OK)
        nmt_bf16_set_rows(m, w, 0, n);
    return rc;
}

nmt_code nmt_bf16_pack(nmt_bf16_matrix *m, const float *w, int n, int k, nmt_err *err)
{
    return nmt_bf16_pack_for(chosen_kind(), m, w, n, k, err);
}

void nmt_bf16_free(nmt_bf16_matrix *m)
{
    nmt_huge_free(m->panels);
    m->panels = NULL;
}

size_t nmt_bf16_bytes_for(int n, int k)
{
    return (size_t)panels_for(n) * PANEL * (size_t)stored_k(nmt_bf16_layout_of(chosen_kind()), k) *
           sizeof(uint16_t);
}

float nmt_bf16_weight(const nmt_bf16_matrix *m, int j, int t)
{
    return nmt_bf16_to_f32(panel_at(m, j / PANEL)[offset_in_panel(m, j, t)]);
}

/* ---- kernels -------------------------------------------------------- */

typedef void (*bf16_kernel)(float *y, const float *x, int rows, const nmt_bf16_matrix *m, const float *b);

/* The pairs layout's sums in plain C: the activations rounded to
 * bfloat16, products exact, fp32 sums in k order, the bias last (what the
 * AVX512_BF16 and AMX kernels compute, in their own order; also where
 * they go when out of memory for their scratch). */
void nmt_bf16_pairs_portable(float *y, const float *x, int rows, const nmt_bf16_matrix *m, const float *b)
{
    for (int i = 0; i < rows; i++) {
        const float *xr = x + (size_t)i * m->k;
        for (int j = 0; j < m->n; j++) {
            float acc = 0.0f;
            for (int t = 0; t < m->k; t++)
                acc += nmt_bf16_to_f32(nmt_f32_to_bf16(xr[t])) * nmt_bf16_weight(m, j, t);
            y[(size_t)i * m->n + j] = b ? acc + b[j] : acc;
        }
    }
}

void nmt_bf16_widen_portable(float *y, const float *x, int rows, const nmt_bf16_matrix *m, const float *b)
{
    int n = m->n, k = m->k;
    for (int i = 0; i < rows; i++) {
        const float *xr = x + (size_t)i * k;
        for (int j = 0; j < n; j++) {
            const uint16_t *w = panel_at(m, j / PANEL) + slot_of(j % PANEL);
            float sum = 0.0f;
            for (int k0 = 0; k0 < k; k0 += KC) {
                int k1 = k0 + KC < k ? k0 + KC : k;
                float acc = 0.0f;
                for (int t = k0; t < k1; t++)
                    acc = fmaf(xr[t], nmt_bf16_to_f32(w[(size_t)t * PANEL]), acc);
                sum = k0 == 0 ? acc : sum + acc;
            }
            y[(size_t)i * n + j] = b ? sum + b[j] : sum;
        }
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma")))
#define INLINE static inline __attribute__((always_inline))

/* A step's 16 weights as fp32: columns 0..7 (the low halves of the eight
 * 32-bit lanes, shifted up) and 8..15 (the high halves, masked). */
AVX2 INLINE void widen(const uint16_t *p, __m256 *lo, __m256 *hi)
{
    __m256i w = _mm256_loadu_si256((const __m256i *)p);
    *lo = _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
    *hi = _mm256_castsi256_ps(_mm256_and_si256(w, _mm256_set1_epi32((int)0xffff0000u)));
}

/* One row's sums of a block, columns 0..7 in lo and 8..15 in hi, into
 * yrow[0..nc): added to the blocks before (add), the bias last (b, NULL
 * but on the last block). */
AVX2 INLINE void finish(float *yrow, __m256 lo, __m256 hi, int nc, int add, const float *b)
{
    float part[PANEL] = {0}, bias[PANEL] = {0};
    float *dst = nc == PANEL ? yrow : part;
    if (nc < PANEL && add)
        memcpy(part, yrow, (size_t)nc * sizeof *part);
    if (add) {
        lo = _mm256_add_ps(_mm256_loadu_ps(dst), lo);
        hi = _mm256_add_ps(_mm256_loadu_ps(dst + 8), hi);
    }
    if (b) {
        const float *bb = b;
        if (nc < PANEL) {
            memcpy(bias, b, (size_t)nc * sizeof *bias);
            bb = bias;
        }
        lo = _mm256_add_ps(lo, _mm256_loadu_ps(bb));
        hi = _mm256_add_ps(hi, _mm256_loadu_ps(bb + 8));
    }
    _mm256_storeu_ps(dst, lo);
    _mm256_storeu_ps(dst + 8, hi);
    if (nc < PANEL)
        memcpy(yrow, part, (size_t)nc * sizeof *part);
}

/* mr (<= 6, a constant once inlined) rows x one panel over one k block of
 * kc steps: twelve accumulators, each step's weights widened once for all
 * rows, each row's activation broadcast. */
AVX2 INLINE void strip(int mr, float *y, int ldy, const float *x, int ldx, int kc, const uint16_t *w, int nc,
                       int add, const float *b)
{
    __m256 acc[6][2];
#pragma GCC unroll 6
    for (int r = 0; r < 6; r++)
        acc[r][0] = acc[r][1] = _mm256_setzero_ps();
    for (int t = 0; t < kc; t++) {
        __m256 lo, hi;
        widen(w + (size_t)t * PANEL, &lo, &hi);
#pragma GCC unroll 6
        for (int r = 0; r < 6; r++)
            if (r < mr) {
                __m256 xb = _mm256_broadcast_ss(x + (size_t)r * ldx + t);
                acc[r][0] = _mm256_fmadd_ps(xb, lo, acc[r][0]);
                acc[r][1] = _mm256_fmadd_ps(xb, hi, acc[r][1]);
            }
    }
#pragma GCC unroll 6
    for (int r = 0; r < 6; r++)
        if (r < mr)
            finish(y + (size_t)r * ldy, acc[r][0], acc[r][1], nc, add, b);
}

/* One row against four whole panels over one k block: eight accumulators,
 * enough chains to keep the FMA units busy while the weights stream in
 * (a decode step at batch 1 reads each weight once). */
AVX2 INLINE void row_4panels(float *y, const float *x, int k, int k0, int kc, const uint16_t *w0, const float *b)
{
    __m256 acc[8];
#pragma GCC unroll 8
    for (int c = 0; c < 8; c++)
        acc[c] = _mm256_setzero_ps();
    for (int t = 0; t < kc; t++) {
        __m256 xb = _mm256_broadcast_ss(x + t);
#pragma GCC unroll 4
        for (int p = 0; p < 4; p++) {
            __m256 lo, hi;
            widen(w0 + ((size_t)p * k + k0 + t) * PANEL, &lo, &hi);
            acc[2 * p] = _mm256_fmadd_ps(xb, lo, acc[2 * p]);
            acc[2 * p + 1] = _mm256_fmadd_ps(xb, hi, acc[2 * p + 1]);
        }
    }
#pragma GCC unroll 4
    for (int p = 0; p < 4; p++)
        finish(y + p * PANEL, acc[2 * p], acc[2 * p + 1], PANEL, k0 > 0, b ? b + p * PANEL : NULL);
}

/* Rows at most ROW_CHUNK at a time (their activations stay in L2 while
 * the panels stream past: the encoder's hundreds of rows); per panel, per
 * k block, strips of at most 6 rows. */
enum { ROW_CHUNK = 96 };

AVX2 static void kernel_avx2(float *y, const float *x, int rows, const nmt_bf16_matrix *m, const float *b)
{
    int n = m->n, k = m->k, np = panels_for(n);
    if (rows == 1) {
        int whole = n / PANEL, p = 0;
        for (; p + 4 <= whole; p += 4)
            for (int k0 = 0; k0 < k; k0 += KC) {
                int kc = k - k0 < KC ? k - k0 : KC, last = k0 + kc == k;
                row_4panels(y + p * PANEL, x + k0, k, k0, kc, panel_at(m, p), last && b ? b + p * PANEL : NULL);
            }
        for (; p < np; p++) {
            int col = p * PANEL, nc = n - col < PANEL ? n - col : PANEL;
            for (int k0 = 0; k0 < k; k0 += KC) {
                int kc = k - k0 < KC ? k - k0 : KC, last = k0 + kc == k;
                strip(1, y + col, n, x + k0, k, kc, panel_at(m, p) + (size_t)k0 * PANEL, nc, k0 > 0,
                      last && b ? b + col : NULL);
            }
        }
        return;
    }
    for (int i0 = 0; i0 < rows; i0 += ROW_CHUNK) {
        int i1 = i0 + ROW_CHUNK < rows ? i0 + ROW_CHUNK : rows;
        for (int p = 0; p < np; p++) {
            int col = p * PANEL, nc = n - col < PANEL ? n - col : PANEL;
            for (int k0 = 0; k0 < k; k0 += KC) {
                int kc = k - k0 < KC ? k - k0 : KC, add = k0 > 0;
                const float *bias = k0 + kc == k && b ? b + col : NULL;
                const uint16_t *w = panel_at(m, p) + (size_t)k0 * PANEL;
                /* strips as even as can be (32 rows: 6 6 5 5 5 5, not 6 x 5 + 2: a
                 * strip of 2 keeps too few sums in flight to hide the FMA latency) */
                int chunk = i1 - i0, strips = (chunk + 5) / 6;
#define STRIP(R) strip(R, y + (size_t)i * n + col, n, x + (size_t)i * k + k0, k, kc, w, nc, add, bias)
                for (int s = 0, i = i0, h; s < strips; s++, i += h) {
                    h = chunk / strips + (s < chunk % strips);
                    switch (h) {
                    case 6: STRIP(6); break;
                    case 5: STRIP(5); break;
                    case 4: STRIP(4); break;
                    case 3: STRIP(3); break;
                    case 2: STRIP(2); break;
                    default: STRIP(1); break;
                    }
                }
#undef STRIP
            }
        }
    }
}

#else
static void kernel_avx2(float *y, const float *x, int rows, const nmt_bf16_matrix *m, const float *b)
{
    nmt_bf16_widen_portable(y, x, rows, m, b);
}
#endif

int nmt_bf16_kernel_available(nmt_bf16_kernel kernel)
{
    const nmt_cpu_features *cpu = nmt_cpu_features_get();
    switch (kernel) {
    case NMT_BF16_KERNEL_GENERIC: return 1;
    case NMT_BF16_KERNEL_AVX2: return cpu->avx2_fma;
    case NMT_BF16_KERNEL_AVX512: return cpu->avx512;
    case NMT_BF16_KERNEL_AVX512_BF16: return cpu->avx512_bf16;
    case NMT_BF16_KERNEL_AMX: return cpu->avx512_bf16 && cpu->amx_bf16;
    }
    return 0;
}

nmt_bf16_layout nmt_bf16_layout_of(nmt_bf16_kernel kernel)
{
    return kernel == NMT_BF16_KERNEL_AMX || kernel == NMT_BF16_KERNEL_AVX512_BF16 || kernel == NMT_BF16_KERNEL_AVX512
               ? NMT_BF16_PAIRS
               : NMT_BF16_WIDEN;
}

static nmt_bf16_kernel choose(void)
{
    if (nmt_kernel_override_allows(NMT_TIER_AMX) && nmt_bf16_kernel_available(NMT_BF16_KERNEL_AMX))
        return NMT_BF16_KERNEL_AMX;
    if (nmt_kernel_override_allows(NMT_TIER_AVX512) && nmt_bf16_kernel_available(NMT_BF16_KERNEL_AVX512_BF16)) {
        double rate = nmt_bf16_dot_rate();
        int pairs = rate >= NMT_BF16_DOT_RATE_MIN;
        nmt_info("bf16", "VDPBF16PS does %.2fx the multiply-adds of VFMADD231PS on this core: kernel %s", rate,
                 pairs ? "avx512_bf16 (bfloat16 pairs)" : "avx512 (weights widened to fp32)");
        return pairs ? NMT_BF16_KERNEL_AVX512_BF16 : NMT_BF16_KERNEL_AVX512;
    }
    if (nmt_kernel_override_allows(NMT_TIER_AVX512) && nmt_bf16_kernel_available(NMT_BF16_KERNEL_AVX512))
        return NMT_BF16_KERNEL_AVX512;
    if (nmt_kernel_override_allows(NMT_TIER_AVX2) && nmt_bf16_kernel_available(NMT_BF16_KERNEL_AVX2))
        return NMT_BF16_KERNEL_AVX2;
    return NMT_BF16_KERNEL_GENERIC;
}

static nmt_bf16_kernel chosen;

static void choose_once(void) { chosen = choose(); }

static nmt_bf16_kernel chosen_kind(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, choose_once);
    return chosen;
}

const char *nmt_bf16_kernel_name(void)
{
    switch (chosen_kind()) {
    case NMT_BF16_KERNEL_AMX: return "amx";
    case NMT_BF16_KERNEL_AVX512_BF16: return "avx512_bf16";
    case NMT_BF16_KERNEL_AVX512: return "avx512";
    case NMT_BF16_KERNEL_AVX2: return "avx2";
    case NMT_BF16_KERNEL_GENERIC: break;
    }
    return "generic";
}

nmt_bf16_matrix nmt_bf16_columns(const nmt_bf16_matrix *m, int j0, int nc)
{
    nmt_bf16_matrix v = *m;
    v.panels = m->panels + (size_t)(j0 / PANEL) * m->kp * PANEL;
    v.n = nc;
    return v;
}

void nmt_bf16_linear_with(nmt_bf16_kernel kernel, float *y, const float *x, int rows, const nmt_bf16_matrix *m,
                          const float *b)
{
    if (rows <= 0)
        return;
    switch (kernel) {
    case NMT_BF16_KERNEL_AMX: nmt_bf16_kernel_amx(y, x, rows, m, b); break;
    case NMT_BF16_KERNEL_AVX512_BF16: nmt_bf16_kernel_avx512(y, x, rows, m, b); break;
    case NMT_BF16_KERNEL_AVX512: nmt_bf16_kernel_widen512(y, x, rows, m, b); break;
    case NMT_BF16_KERNEL_AVX2: kernel_avx2(y, x, rows, m, b); break;
    case NMT_BF16_KERNEL_GENERIC: nmt_bf16_widen_portable(y, x, rows, m, b); break;
    }
}

void nmt_bf16_linear(float *y, const float *x, int rows, const nmt_bf16_matrix *m, const float *b)
{
    nmt_bf16_linear_with(chosen_kind(), y, x, rows, m, b);
}
