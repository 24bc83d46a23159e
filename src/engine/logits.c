/* logits.c: exact greedy choice through an int8 screen (see logits.h).
 *
 * Bound.  With x = sx*xq + dx (|dx| <= sx/2) and w = s*wq + dw (|dw| <= s/2):
 *   |sum x w - sx*s*sum xq wq| <= s/2 |x|_1 + sx/2 |w|_1 + K sx s / 4,
 * and the fp32 sum itself differs from the exact one by at most
 * (K + 4) 2^-23 (|b| + max|x| |w|_1).  The screen value a_i plus or minus
 * e_i (those terms, with a margin) brackets the fp32 logit f_i.  With
 * L = max over allowed i of (a_i - e_i), no token with a_i + e_i < L can be
 * the argmax, so only the others are computed exactly.
 *
 * Kernels.  vpdpbusd multiplies 4 unsigned bytes of x (xq + 128) by 4 signed
 * bytes of W and adds them to a 32-bit lane, exactly; the +128 is taken out
 * with the precomputed row sums.  Tiles of 8 rows x 32 columns, 16 int32
 * accumulators, panels of 16 columns x 4 k.  Where the int8 products run
 * on AMX (qgemm.h) and k4 is a multiple of 64, blocks of 4 to 32 rows go
 * through AMX tiles instead (TDPBUSD, exact as well: the same sums, the
 * same screen values).  With AVX2 alone, the panels (qgemm.h's layout)
 * go through qgemm.c's AVX2 kernel: VPMADDUBSW sums two products in int16,
 * so the activations keep 7 bits (+-63, offset by 64: 2 * 127 * 127 fits)
 * and sx, hence the bound, doubles; the rest of each step is the same
 * arithmetic on 8 lanes. */
#include "logits.h"

#include "cpu_features.h"
#include "gemm.h"
#include "huge_alloc.h"
#include "kernel_override.h"
#include "qgemm_kernels.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PW 16 /* columns per int8 panel */

/* Activation levels of each kernel: bytes of +-127 offset by 128 for
 * VPDPBUSD and TDPBUSD, +-63 offset by 64 for VPMADDUBSW. */
enum { WIDE_LEVELS = 127, AVX2_LEVELS = 63 };

static inline size_t panel_index(int vocab_row, int q4, int k4, int j)
{
    return (((size_t)(vocab_row / PW) * (size_t)(k4 / 4) + (size_t)q4) * PW + (size_t)(vocab_row % PW)) * 4 +
           (size_t)j;
}

nmt_code nmt_logits_screen_alloc(nmt_logits_screen *s, int vocab, int d, nmt_err *err)
{
    memset(s, 0, sizeof *s);
    s->vocab = vocab;
    s->d = d;
    s->k4 = (d + 3) / 4 * 4;
    size_t q_bytes = nmt_logits_screen_bytes_for(vocab, d) - (size_t)vocab * 16;
    s->wq = nmt_huge_alloc(q_bytes);
    s->scale = malloc((size_t)vocab * sizeof(float));
    s->l1 = malloc((size_t)vocab * sizeof(float));
    s->qsum = malloc((size_t)vocab * sizeof(int32_t));
    s->offset_sum = malloc((size_t)vocab * sizeof(int32_t));
    if (!s->wq || !s->scale || !s->l1 || !s->qsum || !s->offset_sum) {
        nmt_logits_screen_free(s);
        return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory for the output-layer screen");
    }
    s->bytes = nmt_logits_screen_bytes_for(vocab, d);
    return NMT_OK;
}

size_t nmt_logits_screen_bytes_for(int vocab, int d)
{
    size_t panels = (size_t)(vocab + PW - 1) / PW, k4 = (size_t)(d + 3) / 4 * 4;
    return panels * PW * k4 + (size_t)vocab * 16;
}

void nmt_logits_screen_set_rows(nmt_logits_screen *s, const float *w, int r0, int rows)
{
    int d = s->d;
    for (int i = r0; i < r0 + rows; i++) {
        const float *row = w + (size_t)(i - r0) * d;
        double l1 = 0.0;
        float maxabs = 0.0f;
        for (int k = 0; k < d; k++) {
            l1 += fabs((double)row[k]);
            if (fabsf(row[k]) > maxabs)
                maxabs = fabsf(row[k]);
        }
        float scale = maxabs > 0.0f ? maxabs / 127.0f : 1.0f;
        int32_t qsum = 0;
        for (int k = 0; k < d; k++) {
            long q = lrintf(row[k] / scale);
            q = q > 127 ? 127 : q < -127 ? -127 : q;
            s->wq[panel_index(i, k / 4, s->k4, k % 4)] = (int8_t)q;
            qsum += (int32_t)q;
        }
        /* the quantization step actually used: |w - scale*q| <= scale/2 holds
         * for this scale by construction (rounding to nearest, no clipping) */
        s->scale[i] = scale;
        s->l1[i] = nextafterf((float)l1, INFINITY);
        s->qsum[i] = qsum;
        s->offset_sum[i] = (AVX2_LEVELS + 1) * qsum;
    }
}

nmt_code nmt_logits_screen_build(nmt_logits_screen *s, const float *w, int vocab, int d, nmt_err *err)
{
    nmt_code rc = nmt_logits_screen_alloc(s, vocab, d, err);
    if (rc == NMT_OK)
        nmt_logits_screen_set_rows(s, w, 0, vocab);
    return rc;
}

void nmt_logits_choose_exact(const float *w, const float *b, const float *x, int n, int vocab, int d, int ban_a,
                             int ban_b, void (*read_row)(void *ctx, int i, float *dst), void *read_ctx, float *row,
                             float *best, int *out)
{
    for (int r = 0; r < n; r++)
        out[r] = -1;
    for (int i = 0; i < vocab; i++) {
        if (i == ban_a || i == ban_b)
            continue;
        const float *wi = w + (size_t)i * d;
        if (read_row) {
            read_row(read_ctx, i, row);
            wi = row;
        }
        for (int r = 0; r < n; r++) {
            const float *xr = x + (size_t)r * d;
            float acc = b ? b[i] : 0.0f;
            for (int k = 0; k < d; k++)
                acc = fmaf(xr[k], wi[k], acc);
            if (out[r] < 0 || acc > best[r]) { /* tokens ascend: the first index wins ties */
                out[r] = i;
                best[r] = acc;
            }
        }
    }
}

static int screen_is_avx2(void);

/* Columns of a block for n rows: about NMT_LOGITS_BLOCK_FLOATS values (in
 * L2 while they are bounded), a multiple of the panel width, the rows not
 * a multiple of 1 KB apart. */
static int block_columns(int n)
{
    int cols = NMT_LOGITS_BLOCK_FLOATS / (n > 0 ? n : 1) / PW * PW;
    if (cols % 256 == 0 && cols > PW) /* rows 1 KB apart or a multiple: the same L1 sets */
        cols -= PW;
    return cols < PW ? PW : cols;
}


nmt_code nmt_logits_scratch_init(nmt_logits_scratch *sc, const nmt_logits_screen *s, int max_rows, nmt_err *err)
{
    memset(sc, 0, sizeof *sc);
    size_t R = (size_t)(max_rows > 0 ? max_rows : 1), V = (size_t)s->vocab, d = (size_t)s->d, k4 = (size_t)s->k4;
    size_t block = screen_is_avx2() ? R * (size_t)block_columns((int)R) : 1; /* AVX2's blocks of values */
    sc->xq = nmt_malloc_aligned(R, k4);
    sc->xmax = malloc(R * sizeof(float));
    sc->approx = malloc(V * sizeof(float)); /* touched only for a crowded row */
    sc->block = malloc(block * sizeof(float));
    sc->near = malloc(R * sizeof *sc->near);
    sc->near_index = malloc(R * NMT_LOGITS_NEAR * sizeof(int));
    sc->near_value = malloc(R * NMT_LOGITS_NEAR * sizeof(float));
    sc->cand = malloc(V * sizeof(int));
    sc->bounds = malloc(V * sizeof(float));
    sc->rows = malloc(16 * d * sizeof(float));
    sc->x16 = malloc(k4 * sizeof(int16_t));
    sc->bytes = R * k4 + R * sizeof(float) + (V + block) * sizeof(float) + R * sizeof *sc->near +
                R * NMT_LOGITS_NEAR * (sizeof(int) + sizeof(float)) + V * (sizeof(int) + sizeof(float)) +
                16 * d * sizeof(float) + k4 * sizeof(int16_t);
    if (!sc->xq || !sc->xmax || !sc->approx || !sc->block || !sc->near || !sc->near_index || !sc->near_value || !sc->cand ||
        !sc->bounds || !sc->rows || !sc->x16) {
        nmt_logits_scratch_free(sc);
        return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory for the output-layer screen's scratch (%zu rows)", R);
    }
    return NMT_OK;
}

void nmt_logits_scratch_free(nmt_logits_scratch *sc)
{
    if (!sc)
        return;
    free(sc->xq);
    free(sc->xmax);
    free(sc->approx);
    free(sc->block);
    free(sc->near);
    free(sc->near_index);
    free(sc->near_value);
    free(sc->cand);
    free(sc->bounds);
    free(sc->rows);
    free(sc->x16);
    memset(sc, 0, sizeof *sc);
}

void nmt_logits_screen_free(nmt_logits_screen *s)
{
    if (!s)
        return;
    nmt_huge_free(s->wq);
    free(s->scale);
    free(s->l1);
    free(s->qsum);
    free(s->offset_sum);
    memset(s, 0, sizeof *s);
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#include "prefetch_ahead.h"
#include "vnni.h"

#define TARGET __attribute__((target("avx512f,avx512bw,avx512dq,avx512vnni")))
#define AVX2 __attribute__((target("avx2,fma")))

/* The screen's kernels, chosen once: wherever the packed fp32 kernel runs
 * (the exact logits are its sums), VNNI (and AMX) where NMTD_KERNELS lets
 * AVX-512 run, else AVX2, which either packed kernel implies (cpu_features:
 * avx512 includes avx2_fma; NMTD_KERNELS=avx512 allows AVX2). */
typedef enum screen_kind { SCREEN_NONE, SCREEN_AVX2, SCREEN_VNNI, SCREEN_AMX } screen_kind;

static screen_kind chosen_kind(void)
{
    static _Atomic int cached = -1;
    if (cached < 0) {
        const nmt_cpu_features *cpu = nmt_cpu_features_get();
        cached = !nmt_gemm_packed_available() ? SCREEN_NONE
                 : nmt_kernel_override_allows(NMT_TIER_AVX512) && cpu->avx512_vnni
                     ? (strcmp(nmt_q8_kernel_name(), "amx") == 0 ? SCREEN_AMX : SCREEN_VNNI)
                                                                                : SCREEN_AVX2;
    }
    return (screen_kind)cached;
}

const char *nmt_logits_screen_kernel(void)
{
    switch (chosen_kind()) {
    case SCREEN_AMX: return "amx";
    case SCREEN_VNNI: return "avx512_vnni";
    case SCREEN_AVX2: return "avx2";
    default: return NULL;
    }
}

int nmt_logits_screen_available(void) { return chosen_kind() != SCREEN_NONE; }

static int screen_is_avx2(void) { return chosen_kind() == SCREEN_AVX2; }

/* Screen values of 16 tokens from c0 for one row: b + sx * scale * (acc -
 * 128 * qsum); *mask the tokens that exist. */
TARGET static inline __m512 screen_vector(const nmt_logits_screen *s, __m512i acc, int c0, float sx, const float *b,
                                          __mmask16 *mask)
{
    int nc = s->vocab - c0 < PW ? s->vocab - c0 : PW;
    *mask = (__mmask16)(nc == PW ? 0xffff : (1u << nc) - 1);
    __m512i qsum128 = _mm512_slli_epi32(_mm512_maskz_loadu_epi32(*mask, s->qsum + c0), 7);
    __m512 scale = _mm512_maskz_loadu_ps(*mask, s->scale + c0);
    __m512 bias = b ? _mm512_maskz_loadu_ps(*mask, b + c0) : _mm512_setzero_ps();
    __m512 dot = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc, qsum128));
    return _mm512_fmadd_ps(_mm512_mul_ps(dot, scale), _mm512_set1_ps(sx), bias);
}

/* Where the screen's values of a row go: all stored (values[row][vocab]),
 * or, with values NULL, only the tokens that may be candidates kept as they
 * come (sc->near: see step 3). */
typedef struct screen_sink {
    const nmt_logits_screen *s;
    const float *b;
    float *values;
    nmt_logits_scratch *sc;
    int ban_a, ban_b;
} screen_sink;

/* Token i's bound e_i for screen value ai (step 3), and 16 of them from c0
 * (the same operations, the same bits). */
static inline float token_bound(const nmt_logits_screen *s, const float *b, float c_s, float c_l1, float c_b,
                                float ai, int i)
{
    float bi = b ? fabsf(b[i]) : 0.0f;
    float e = c_s * s->scale[i];
    e = fmaf(c_l1, s->l1[i], e);
    e = fmaf(c_b, bi, e);
    e = fmaf(0x1p-21f, fmaf(2.0f, bi, fabsf(ai)), e);
    return fmaf(1.01f, e, 1e-30f);
}

TARGET static inline __m512 lanes_bound(const nmt_logits_screen *s, const float *b, float c_s, float c_l1, float c_b,
                                        __m512 ai, int c0, __mmask16 m)
{
    __m512 bi = b ? _mm512_abs_ps(_mm512_maskz_loadu_ps(m, b + c0)) : _mm512_setzero_ps();
    __m512 e = _mm512_mul_ps(_mm512_set1_ps(c_s), _mm512_maskz_loadu_ps(m, s->scale + c0));
    e = _mm512_fmadd_ps(_mm512_set1_ps(c_l1), _mm512_maskz_loadu_ps(m, s->l1 + c0), e);
    e = _mm512_fmadd_ps(_mm512_set1_ps(c_b), bi, e);
    e = _mm512_fmadd_ps(_mm512_set1_ps(0x1p-21f), _mm512_fmadd_ps(_mm512_set1_ps(2.0f), bi, _mm512_abs_ps(ai)), e);
    return _mm512_fmadd_ps(_mm512_set1_ps(1.01f), e, _mm512_set1_ps(1e-30f));
}

/* The row's kept tokens that still reach its lower bound; returns how
 * many are left. */
static int drop_below_lower(const screen_sink *k, nmt_logits_near *nl, int *index, float *value)
{
    int kept = 0;
    for (int j = 0; j < nl->count; j++)
        if (value[j] + token_bound(k->s, k->b, nl->c_s, nl->c_l1, nl->c_b, value[j], index[j]) >= nl->lower) {
            index[kept] = index[j];
            value[kept++] = value[j];
        }
    return nl->count = kept;
}

/* The allowed tokens of hit (bit j: token c0 + j, screen value vals[j],
 * bound bounds[j]) whose a_i + e_i reaches the row's lower bound so far,
 * kept in order, each raising it to its a_i - e_i.  A row with more than
 * NMT_LOGITS_NEAR of them at once is marked crowded and left to step 3's
 * scan of all its values. */
static void keep_tokens(const screen_sink *k, int row, const float *vals, const float *bounds, unsigned hit, int c0)
{
    nmt_logits_near *nl = &k->sc->near[row];
    int *index = k->sc->near_index + (size_t)row * NMT_LOGITS_NEAR;
    float *value = k->sc->near_value + (size_t)row * NMT_LOGITS_NEAR;
    while (hit) {
        int j = __builtin_ctz(hit), i = c0 + j;
        hit &= hit - 1;
        if (i == k->ban_a || i == k->ban_b || !(vals[j] + bounds[j] >= nl->lower))
            continue;
        if (nl->count == NMT_LOGITS_NEAR && drop_below_lower(k, nl, index, value) > NMT_LOGITS_NEAR * 3 / 4) {
            nl->crowded = 1;
            nl->lower = NAN; /* no more comparisons succeed */
            return;
        }
        index[nl->count] = i;
        value[nl->count++] = vals[j];
        nl->lower = vals[j] - bounds[j] > nl->lower ? vals[j] - bounds[j] : nl->lower;
    }
}

TARGET __attribute__((noinline)) static void keep_near(const screen_sink *k, int row, __m512 v, __m512 e,
                                                       __mmask16 hit, int c0)
{
    float vals[PW], bounds[PW];
    _mm512_storeu_ps(vals, v);
    _mm512_storeu_ps(bounds, e);
    keep_tokens(k, row, vals, bounds, hit, c0);
}

/* A row's 16 screen values from c0 into the sink. */
TARGET static inline void sink_values(const screen_sink *k, int row, __m512 v, __mmask16 mask, int c0)
{
    if (k->values) {
        _mm512_mask_storeu_ps(k->values + (size_t)row * (size_t)k->s->vocab + c0, mask, v);
        return;
    }
    const nmt_logits_near *nl = &k->sc->near[row];
    __m512 e = lanes_bound(k->s, k->b, nl->c_s, nl->c_l1, nl->c_b, v, c0, mask);
    __mmask16 hit = _mm512_mask_cmp_ps_mask(mask, _mm512_add_ps(v, e), _mm512_set1_ps(nl->lower), _CMP_GE_OQ);
    if (hit)
        keep_near(k, row, v, e, hit, c0);
}

/* acc[r][0..1] for rows x[0..7] (pointers may repeat for a partial tile)
 * against panels p0 and p1 (32 columns), then converted to screen values
 * of rows row0.. into the sink; on the way, ahead_lines cache lines from
 * ahead on their way into L2, one a step (two with dual:
 * prefetch_ahead.h). */
TARGET static inline __attribute__((always_inline)) void tile_of(const screen_sink *sink, const uint8_t *const *xq,
                                                                 const float *sx, int rows, int col0, int row0,
                                                                 const char *ahead, int ahead_lines, int dual)
{
    const nmt_logits_screen *s = sink->s;
    int k4 = s->k4, quads = k4 / 4;
    const int8_t *p0 = s->wq + (size_t)(col0 / PW) * PW * k4;
    int have1 = col0 + PW < s->vocab;
    const int8_t *p1 = have1 ? p0 + (size_t)PW * k4 : p0;
    __m512i acc[8][2];
#pragma GCC unroll 8
    for (int r = 0; r < 8; r++)
        acc[r][0] = acc[r][1] = _mm512_setzero_si512();
    int line = 0;
    for (int q = 0; q < quads; q++) {
        nmt_prefetch_ahead_step(ahead, &line, ahead_lines, dual);
        __m512i w0 = _mm512_loadu_si512(p0 + (size_t)q * 64), w1 = _mm512_loadu_si512(p1 + (size_t)q * 64);
#pragma GCC unroll 8
        for (int r = 0; r < 8; r++) {
            int32_t quad;
            memcpy(&quad, xq[r] + 4 * q, 4);
            __m512i a = _mm512_set1_epi32(quad);
            acc[r][0] = nmt_dpbusd(acc[r][0], a, w0);
            acc[r][1] = nmt_dpbusd(acc[r][1], a, w1);
        }
    }
    for (int h = 0; h < 2 && col0 + h * PW < s->vocab; h++)
        for (int r = 0; r < rows; r++) {
            __mmask16 mask;
            __m512 v = screen_vector(s, acc[r][h], col0 + h * PW, sx[r], sink->b, &mask);
            sink_values(sink, row0 + r, v, mask, col0 + h * PW);
        }
}

TARGET static void screen_tile(const screen_sink *sink, const uint8_t *const *xq, const float *sx, int rows, int col0,
                               int row0, const char *ahead, int ahead_lines)
{
    if (ahead_lines > sink->s->k4 / 4)
        tile_of(sink, xq, sx, rows, col0, row0, ahead, ahead_lines, 1);
    else
        tile_of(sink, xq, sx, rows, col0, row0, ahead, ahead_lines, 0);
}

/* The same for a single row (batch 1): two accumulators, no wasted rows. */
TARGET static inline __attribute__((always_inline)) void row_of(const screen_sink *sink, const uint8_t *xq, float sx,
                                                                int col0, int row, const char *ahead, int ahead_lines,
                                                                int dual)
{
    const nmt_logits_screen *s = sink->s;
    const float *b = sink->b;
    int k4 = s->k4, quads = k4 / 4;
    const int8_t *p0 = s->wq + (size_t)(col0 / PW) * PW * k4;
    int have1 = col0 + PW < s->vocab;
    const int8_t *p1 = have1 ? p0 + (size_t)PW * k4 : p0;
    __m512i acc0 = _mm512_setzero_si512(), acc1 = _mm512_setzero_si512();
    int line = 0;
    for (int q = 0; q < quads; q++) {
        nmt_prefetch_ahead_step(ahead, &line, ahead_lines, dual);
        int32_t quad;
        memcpy(&quad, xq + 4 * q, 4);
        __m512i a = _mm512_set1_epi32(quad);
        acc0 = nmt_dpbusd(acc0, a, _mm512_loadu_si512(p0 + (size_t)q * 64));
        acc1 = nmt_dpbusd(acc1, a, _mm512_loadu_si512(p1 + (size_t)q * 64));
    }
    __mmask16 mask;
    __m512 v = screen_vector(s, acc0, col0, sx, b, &mask);
    sink_values(sink, row, v, mask, col0);
    if (have1) {
        v = screen_vector(s, acc1, col0 + PW, sx, b, &mask);
        sink_values(sink, row, v, mask, col0 + PW);
    }
}

TARGET static void screen_row(const screen_sink *sink, const uint8_t *xq, float sx, int col0, int row,
                              const char *ahead, int ahead_lines)
{
    if (ahead_lines > sink->s->k4 / 4)
        row_of(sink, xq, sx, col0, row, ahead, ahead_lines, 1);
    else
        row_of(sink, xq, sx, col0, row, ahead, ahead_lines, 0);
}

/* Exact fp32 logits of up to 16 candidate rows (rows[j][d]) into vals: per
 * lane, fma in k order from the bias, as the packed GEMM computes them. */
TARGET static void exact16(const float *rows, const float *b, const float *x, int d, const int *idx, int count,
                           float *vals)
{
    __mmask16 mask = (__mmask16)(count >= 16 ? 0xffff : (1u << count) - 1);
    __m512i tok = _mm512_maskz_loadu_epi32(mask, idx);
    __m512i offs = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                      _mm512_set1_epi32(d));
    __m512 acc = b ? _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mask, tok, b, 4) : _mm512_setzero_ps();
    for (int k = 0; k < d; k++) {
        __m512 wk = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mask, offs, rows + k, 4);
        acc = _mm512_fmadd_ps(_mm512_set1_ps(x[k]), wk, acc);
    }
    _mm512_storeu_ps(vals, acc);
}

/* The same for up to 8 candidates on AVX2: the same chain, the same bits. */
AVX2 static void exact8(const float *rows, const float *b, const float *x, int d, const int *idx, int count,
                        float *vals)
{
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(count), lanes);
    __m256 maskf = _mm256_castsi256_ps(mask);
    __m256i tok = _mm256_maskload_epi32(idx, mask), offs = _mm256_mullo_epi32(lanes, _mm256_set1_epi32(d));
    __m256 acc = b ? _mm256_mask_i32gather_ps(_mm256_setzero_ps(), b, tok, maskf, 4) : _mm256_setzero_ps();
    for (int k = 0; k < d; k++) {
        __m256 wk = _mm256_mask_i32gather_ps(_mm256_setzero_ps(), rows + k, offs, maskf, 4);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(x[k]), wk, acc);
    }
    _mm256_storeu_ps(vals, acc);
}

/* Step 1: each row quantized to bytes, xq = round(x / step) + levels + 1
 * with step = max|x| / levels; the row's max|x| is kept for the later
 * steps. */
static void quantize_rows(const nmt_logits_screen *s, const float *x, int n, int levels, nmt_logits_scratch *sc)
{
    int d = s->d, k4 = s->k4;
    for (int r = 0; r < n; r++) {
        const float *xr = x + (size_t)r * d;
        float mx = 0.0f;
        for (int k = 0; k < d; k++)
            mx = fabsf(xr[k]) > mx ? fabsf(xr[k]) : mx;
        sc->xmax[r] = mx;
        float step = mx > 0.0f ? mx / (float)levels : 1.0f;
        uint8_t *q = sc->xq + (size_t)r * k4;
        for (int k = 0; k < d; k++) {
            long v = lrintf(xr[k] / step);
            v = v > levels ? levels : v < -levels ? -levels : v;
            q[k] = (uint8_t)(v + levels + 1);
        }
        for (int k = d; k < k4; k++)
            q[k] = (uint8_t)(levels + 1);
    }
}

/* Rows r0 .. r0+h0+h1-1 (h0, h1 <= 16) on AMX tiles, the tiles
 * configured for h0, h1. */
TARGET static void screen_block_amx(const screen_sink *sink, int r0, int h0, int h1)
{
    const nmt_logits_screen *s = sink->s;
    int V = s->vocab, k4 = s->k4, np = (V + PW - 1) / PW;
    int32_t c[4][NMT_TILE_ROWS][PW];
    const nmt_logits_scratch *sc = sink->sc;
    const uint8_t *x = sc->xq + (size_t)r0 * k4;
    for (int p = 0; p < np; p += 2) {
        int two_b = p + 1 < np;
        nmt_q8_amx_sums(c, x, s->wq + (size_t)p * PW * k4, k4, h1 > 0, two_b);
        for (int a = 0; a < 2; a++)
            for (int r = 0; r < (a ? h1 : h0); r++) {
                int row = r0 + a * NMT_TILE_ROWS + r;
                float sx = sc->xmax[row] > 0.0f ? sc->xmax[row] / (float)WIDE_LEVELS : 1.0f;
                for (int e = 0; e < 1 + two_b; e++) {
                    __mmask16 mask;
                    __m512 v = screen_vector(s, _mm512_loadu_si512(c[2 * a + e][r]), (p + e) * PW, sx, sink->b,
                                             &mask);
                    sink_values(sink, row, v, mask, (p + e) * PW);
                }
            }
    }
}

/* screen_block_amx through nmt_amx_row_blocks (ctx: the sink). */
static void screen_block(void *ctx, int r0, int h0, int h1) { screen_block_amx(ctx, r0, h0, h1); }

/* Step 2: the screen value of every token for every row, into the sink:
 * blocks of up to 32 rows on AMX where the int8 products use it, the rest
 * in tiles of 8 rows. */
TARGET static void screen_values(const screen_sink *sink, int n, int amx)
{
    const nmt_logits_screen *s = sink->s;
    int V = s->vocab, k4 = s->k4, r_amx = 0;
    const nmt_logits_scratch *sc = sink->sc;
    if (amx && k4 % 64 == 0)
        r_amx = nmt_amx_row_blocks(n, screen_block, (void *)sink);
    /* up to GROUPS tiles of 8 rows go past each pair of panels while it is
     * in L1: the int8 rows are read from memory once per GROUPS * 8 rows */
    enum { GROUPS = 8 };
    size_t pair = (size_t)2 * PW * (size_t)k4, total = (size_t)((V + PW - 1) / PW) * PW * (size_t)k4;
    float sx[GROUPS][8];
    const uint8_t *xq[GROUPS][8];
    for (int c0 = r_amx; c0 < n; c0 += GROUPS * 8) {
        int groups = (n - c0 + 7) / 8 < GROUPS ? (n - c0 + 7) / 8 : GROUPS;
        for (int g = 0; g < groups; g++) {
            int r0 = c0 + 8 * g, rows = n - r0 < 8 ? n - r0 : 8;
            for (int r = 0; r < 8; r++) {
                int rr = r0 + (r < rows ? r : 0);
                xq[g][r] = sc->xq + (size_t)rr * k4;
                sx[g][r] = sc->xmax[rr] > 0.0f ? sc->xmax[rr] / (float)WIDE_LEVELS : 1.0f;
            }
        }
        for (int c = 0; c < V; c += 2 * PW) {
            /* the next pair of panels (contiguous) on its way to L2, a
             * share during each tile, as in qgemm_avx512.c's rows_vnni */
            size_t at_pair = (size_t)(c / PW) * PW * (size_t)k4 + pair;
            size_t ahead = at_pair < total ? (total - at_pair < pair ? total - at_pair : pair) : 0;
            const char *next = (const char *)(s->wq + at_pair);
            for (int g = 0; g < groups; g++) {
                size_t from = ahead * (size_t)g / (size_t)groups / 64 * 64, to = ahead * (size_t)(g + 1) / (size_t)groups;
                int r0 = c0 + 8 * g, rows = n - r0 < 8 ? n - r0 : 8;
                if (rows == 1)
                    screen_row(sink, xq[g][0], sx[g][0], c, r0, next + from, (int)((to - from + 63) / 64));
                else
                    screen_tile(sink, xq[g], sx[g], rows, c, r0, next + from, (int)((to - from + 63) / 64));
            }
        }
    }
}

/* One row's screen values (row r of sc->xq) for every token into
 * values[vocab], on VNNI (the same sums as AMX) or AVX2. */
static void row_values_avx2(const nmt_logits_screen *s, const float *b, int r, nmt_logits_scratch *sc, float *values);

TARGET static void row_values(const nmt_logits_screen *s, const float *b, int r, int avx2, nmt_logits_scratch *sc,
                              float *values)
{
    if (avx2) {
        row_values_avx2(s, b, r, sc, values);
        return;
    }
    screen_sink sink = {.s = s, .b = b, .values = values, .sc = sc, .ban_a = -1, .ban_b = -1};
    float sx = sc->xmax[r] > 0.0f ? sc->xmax[r] / (float)WIDE_LEVELS : 1.0f;
    for (int c = 0; c < s->vocab; c += 2 * PW)
        screen_row(&sink, sc->xq + (size_t)r * s->k4, sx, c, 0, NULL, 0); /* crowded rows: rare */
}

/* Step 2 with AVX2: qgemm.c's kernel on the screen's panels from column
 * c0 on (ncols of them, the output's rows ncols apart), its y = (acc - 64
 * qsum) * (sx * scale) + b the screen values (the same products; the
 * bound's rounding term covers either order), rows r0 .. r0 + rows - 1
 * into values[rows][ncols]. */
static void screen_rows_avx2(const nmt_logits_screen *s, const float *b, int r0, int rows, int c0, int ncols,
                             nmt_logits_scratch *sc, float *values)
{
    enum { ROWS = 64 };
    const nmt_q8_matrix panels = {.w = s->wq + (size_t)c0 * s->k4, .scale = s->scale + c0,
                                  .offset_sum = s->offset_sum + c0, .n = ncols, .k = s->d, .kp = s->k4,
                                  .levels = NMT_Q8_WIDE_LEVELS};
    float sx[ROWS];
    for (int at = 0; at < rows; at += ROWS) {
        int m = rows - at < ROWS ? rows - at : ROWS;
        for (int r = 0; r < m; r++) {
            float mx = sc->xmax[r0 + at + r];
            sx[r] = mx > 0.0f ? mx / (float)AVX2_LEVELS : 1.0f;
        }
        nmt_q8_kernel_avx2(values + (size_t)at * ncols, sc->xq + (size_t)(r0 + at) * s->k4, sx, m, &panels,
                           b ? b + c0 : NULL);
    }
}

static void row_values_avx2(const nmt_logits_screen *s, const float *b, int r, nmt_logits_scratch *sc, float *values)
{
    screen_rows_avx2(s, b, r, 1, 0, s->vocab, sc, values);
}

/* 8 tokens' bounds from c0 (token_bound's operations, the same bits). */
AVX2 static inline __m256 lanes_bound_avx2(const nmt_logits_screen *s, const float *b, float c_s, float c_l1,
                                           float c_b, __m256 ai, int c0)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 bi = b ? _mm256_andnot_ps(sign, _mm256_loadu_ps(b + c0)) : _mm256_setzero_ps();
    __m256 e = _mm256_mul_ps(_mm256_set1_ps(c_s), _mm256_loadu_ps(s->scale + c0));
    e = _mm256_fmadd_ps(_mm256_set1_ps(c_l1), _mm256_loadu_ps(s->l1 + c0), e);
    e = _mm256_fmadd_ps(_mm256_set1_ps(c_b), bi, e);
    e = _mm256_fmadd_ps(_mm256_set1_ps(0x1p-21f),
                        _mm256_fmadd_ps(_mm256_set1_ps(2.0f), bi, _mm256_andnot_ps(sign, ai)), e);
    return _mm256_fmadd_ps(_mm256_set1_ps(1.01f), e, _mm256_set1_ps(1e-30f));
}

/* A block's values of one row (vals[ncols], tokens from c0) bounded 8 at
 * a time into the sink's near lists. */
AVX2 static void keep_block_avx2(const screen_sink *k, int row, const float *vals, int c0, int ncols)
{
    const nmt_logits_screen *s = k->s;
    const nmt_logits_near *nl = &k->sc->near[row];
    int j = 0;
    for (; j + 8 <= ncols; j += 8) {
        __m256 a = _mm256_loadu_ps(vals + j), e = lanes_bound_avx2(s, k->b, nl->c_s, nl->c_l1, nl->c_b, a, c0 + j);
        unsigned hit = (unsigned)_mm256_movemask_ps(
            _mm256_cmp_ps(_mm256_add_ps(a, e), _mm256_set1_ps(nl->lower), _CMP_GE_OQ));
        if (hit) {
            float bounds[8];
            _mm256_storeu_ps(bounds, e);
            keep_tokens(k, row, vals + j, bounds, hit, c0 + j);
        }
    }
    for (; j < ncols; j++) {
        float e = token_bound(s, k->b, nl->c_s, nl->c_l1, nl->c_b, vals[j], c0 + j);
        keep_tokens(k, row, vals + j, &e, 1u, c0 + j);
    }
}

/* Steps 2 and 3 with AVX2: a block of columns for all rows at a time, its
 * values kept near each row's top as on AVX-512. */
static void screen_values_avx2(const screen_sink *sink, int n)
{
    const nmt_logits_screen *s = sink->s;
    int V = s->vocab, cols = block_columns(n);
    for (int c0 = 0; c0 < V; c0 += cols) {
        int nc = V - c0 < cols ? V - c0 : cols;
        screen_rows_avx2(s, sink->b, 0, n, c0, nc, sink->sc, sink->sc->block);
        for (int r = 0; r < n; r++)
            keep_block_avx2(sink, r, sink->sc->block + (size_t)r * nc, c0, nc);
    }
}

/* Step 3, for one row: every token's error bound e_i = 1.01 (c_s s_i +
 * c_l1 |w_i|_1 + c_b |b_i| + 2^-21 (|a_i| + 2 |b_i|)) + tiny, the lower
 * bound L = max over allowed i of (a_i - e_i) that the argmax's fp32 logit
 * reaches, and the candidates: the allowed i with a_i + e_i >= L.
 * With AVX-512 this happens as the screen goes (sink_values): the bounds of
 * each 16 values while they are in registers, and a token kept only when
 * its a_i + e_i reaches L so far (the kept tokens a superset of the
 * candidates, L so far never above L, and the token that sets L kept: its
 * a + e >= a - e); settle_candidates then takes L over the kept tokens and
 * the candidates among them.  No row's 58k values are stored or read
 * again.  With AVX2 (and for a crowded row) the stored values are bounded
 * 8 (16) at a time into sc->bounds and scanned. */
typedef struct bound_terms {
    float c_s, c_l1, c_b;
} bound_terms;

/* |x|_1 of a row, in double. */
static double row_l1(const float *xr, int d)
{
    double l1x = 0.0;
    for (int k = 0; k < d; k++)
        l1x += fabs((double)xr[k]);
    return l1x;
}

/* The row's terms of e_i (l1x its |x|_1), for activations on levels
 * levels. */
static bound_terms row_terms(const nmt_logits_screen *s, double l1x, float xmax, int levels)
{
    int d = s->d;
    const double rel = (double)(d + 4) * ldexp(1.0, -23), mx = (double)xmax;
    double step = mx > 0.0 ? mx / levels : 1.0;
    return (bound_terms){(float)(0.5 * l1x + 0.25 * d * step), (float)(0.5 * step + rel * mx), (float)rel};
}

/* Banned tokens may not set the lower bound: L again without them, only
 * when one of them did. */
static float lower_without_bans(int V, const float *a, const float *bounds, float lower, int ban_a, int ban_b)
{
    int banned_sets = 0;
    for (int t = 0; t < 2; t++) {
        int i = t ? ban_b : ban_a;
        if (i >= 0 && i < V && a[i] - bounds[i] >= lower)
            banned_sets = 1;
    }
    if (banned_sets) {
        lower = -INFINITY;
        for (int i = 0; i < V; i++)
            if (i != ban_a && i != ban_b && a[i] - bounds[i] > lower)
                lower = a[i] - bounds[i];
    }
    return lower;
}

TARGET static float row_bounds(const nmt_logits_screen *s, const float *b, bound_terms t, const float *a, int ban_a,
                               int ban_b, float *bounds)
{
    int V = s->vocab;
    __m512 vlower = _mm512_set1_ps(-INFINITY);
    for (int i = 0; i < V; i += 16) {
        __mmask16 m = (__mmask16)(V - i >= 16 ? 0xffff : (1u << (V - i)) - 1);
        __m512 ai = _mm512_maskz_loadu_ps(m, a + i), e = lanes_bound(s, b, t.c_s, t.c_l1, t.c_b, ai, i, m);
        _mm512_mask_storeu_ps(bounds + i, m, e);
        vlower = _mm512_mask_max_ps(vlower, m, vlower, _mm512_sub_ps(ai, e));
    }
    return lower_without_bans(V, a, bounds, _mm512_reduce_max_ps(vlower), ban_a, ban_b);
}

AVX2 static float row_bounds_avx2(const nmt_logits_screen *s, const float *b, bound_terms t, const float *a,
                                  int ban_a, int ban_b, float *bounds)
{
    int V = s->vocab, i = 0;
    __m256 vlower = _mm256_set1_ps(-INFINITY);
    for (; i + 8 <= V; i += 8) {
        __m256 ai = _mm256_loadu_ps(a + i), e = lanes_bound_avx2(s, b, t.c_s, t.c_l1, t.c_b, ai, i);
        _mm256_storeu_ps(bounds + i, e);
        vlower = _mm256_max_ps(vlower, _mm256_sub_ps(ai, e));
    }
    float lanes[8], lower = -INFINITY;
    _mm256_storeu_ps(lanes, vlower);
    for (int l = 0; l < 8; l++)
        lower = lanes[l] > lower ? lanes[l] : lower;
    for (; i < V; i++) {
        bounds[i] = token_bound(s, b, t.c_s, t.c_l1, t.c_b, a[i], i);
        lower = a[i] - bounds[i] > lower ? a[i] - bounds[i] : lower;
    }
    return lower_without_bans(V, a, bounds, lower, ban_a, ban_b);
}

/* Step 4, for one row: the allowed tokens whose a_i + e_i reaches L, in
 * ascending order; returns their count. */
TARGET static int collect_candidates(const nmt_logits_screen *s, const float *a, const float *bounds, float lower,
                                     int ban_a, int ban_b, int *cand)
{
    int V = s->vocab, nc = 0;
    const __m512 vlow = _mm512_set1_ps(lower);
    for (int i = 0; i < V; i += 16) {
        __mmask16 m = (__mmask16)(V - i >= 16 ? 0xffff : (1u << (V - i)) - 1);
        __m512 hi = _mm512_add_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, bounds + i));
        __mmask16 keep = _mm512_mask_cmp_ps_mask(m, hi, vlow, _CMP_GE_OQ);
        while (keep) {
            int j = __builtin_ctz(keep);
            keep &= (__mmask16)(keep - 1);
            if (i + j != ban_a && i + j != ban_b)
                cand[nc++] = i + j;
        }
    }
    return nc;
}

AVX2 static int collect_candidates_avx2(const nmt_logits_screen *s, const float *a, const float *bounds,
                                        float lower, int ban_a, int ban_b, int *cand)
{
    int V = s->vocab, nc = 0, i = 0;
    const __m256 vlow = _mm256_set1_ps(lower);
    for (; i + 8 <= V; i += 8) {
        __m256 hi = _mm256_add_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(bounds + i));
        unsigned keep = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(hi, vlow, _CMP_GE_OQ));
        while (keep) {
            int j = __builtin_ctz(keep);
            keep &= keep - 1;
            if (i + j != ban_a && i + j != ban_b)
                cand[nc++] = i + j;
        }
    }
    for (; i < V; i++)
        if (a[i] + bounds[i] >= lower && i != ban_a && i != ban_b)
            cand[nc++] = i;
    return nc;
}


/* From the n tokens a row kept as the screen went (ascending, values
 * value[]): L into *lower and the candidates into cand; returns their
 * count. */
static int settle_candidates(const nmt_logits_screen *s, const float *b, bound_terms t, const int *index,
                             const float *value, int n, int *cand, float *lower)
{
    float low = -INFINITY;
    for (int j = 0; j < n; j++) {
        float e = token_bound(s, b, t.c_s, t.c_l1, t.c_b, value[j], index[j]);
        low = value[j] - e > low ? value[j] - e : low;
    }
    int nc = 0;
    for (int j = 0; j < n; j++)
        if (value[j] + token_bound(s, b, t.c_s, t.c_l1, t.c_b, value[j], index[j]) >= low)
            cand[nc++] = index[j];
    *lower = low;
    return nc;
}

/* Step 4b: the nc candidates of the first look looked at again with the
 * row on finer levels, x16 = round(x / step), step = max|x| / levels, no
 * offset (VPMADDWD on their weights widened to 16 bits: second_dot_*).
 * The AVX2 screen's first look has 7 bits, its second 8 (levels 127); on
 * AVX-512 the first has 8 and the second as many levels as int32 sums allow
 * (32767 for d <= 516), which leaves in the bound little but the weights'
 * rounding: on random opus-mt-en-de weights, whose logits crowd the top,
 * 37 candidates a row on average became 6.1, each an fp32 row read from
 * the file.  Kept, in order: those whose new a_i + e_i reaches both lower
 * bounds, the first look's and the new one (the largest a_i - e_i among
 * them).  Returns how many are left in sc->cand; sc->bounds is
 * overwritten. */

/* sum_t w[t] x16[t] over quads quads, w a token's quads in a panel (quad q
 * at w + 64 q). */
typedef int32_t (*second_dot_fn)(const int8_t *w, const int16_t *x16, int quads);

AVX2 static int32_t second_dot_avx2(const int8_t *w, const int16_t *x16, int quads)
{
    const __m256i quad_offsets = _mm256_setr_epi32(0, 64, 128, 192, 256, 320, 384, 448); /* 8 quads of a panel */
    __m256i acc = _mm256_setzero_si256();
    int q = 0;
    for (; q + 8 <= quads; q += 8) {
        __m256i w32 = _mm256_i32gather_epi32((const int *)(const void *)(w + (size_t)q * 64), quad_offsets, 1);
        __m256i lo = _mm256_cvtepi8_epi16(_mm256_castsi256_si128(w32)),
                hi16 = _mm256_cvtepi8_epi16(_mm256_extracti128_si256(w32, 1));
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(lo, _mm256_loadu_si256((const __m256i *)(x16 + 4 * q))));
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(hi16, _mm256_loadu_si256((const __m256i *)(x16 + 4 * q + 16))));
    }
    int32_t lanes[8], dot = 0;
    _mm256_storeu_si256((__m256i *)lanes, acc);
    for (int l = 0; l < 8; l++)
        dot += lanes[l];
    for (; q < quads; q++)
        for (int e = 0; e < 4; e++)
            dot += (int32_t)w[(size_t)q * 64 + e] * x16[4 * q + e];
    return dot;
}

TARGET static int32_t second_dot_avx512(const int8_t *w, const int16_t *x16, int quads)
{
    const __m512i quad_offsets = _mm512_setr_epi32(0, 64, 128, 192, 256, 320, 384, 448, 512, 576, 640, 704, 768, 832,
                                                   896, 960); /* 16 quads of a panel */
    __m512i acc = _mm512_setzero_si512();
    int q = 0;
    for (; q + 16 <= quads; q += 16) {
        __m512i w64 = _mm512_i32gather_epi32(quad_offsets, (const void *)(w + (size_t)q * 64), 1);
        __m512i lo = _mm512_cvtepi8_epi16(_mm512_castsi512_si256(w64)),
                hi16 = _mm512_cvtepi8_epi16(_mm512_extracti64x4_epi64(w64, 1));
        acc = _mm512_add_epi32(acc, _mm512_madd_epi16(lo, _mm512_loadu_si512(x16 + 4 * q)));
        acc = _mm512_add_epi32(acc, _mm512_madd_epi16(hi16, _mm512_loadu_si512(x16 + 4 * q + 32)));
    }
    int32_t dot = _mm512_reduce_add_epi32(acc);
    for (; q < quads; q++)
        for (int e = 0; e < 4; e++)
            dot += (int32_t)w[(size_t)q * 64 + e] * x16[4 * q + e];
    return dot;
}

static int second_look(const nmt_logits_screen *s, const float *b, const float *xr, double l1x, float xmax,
                       float lower, int nc, int levels, second_dot_fn dot_of, nmt_logits_scratch *sc)
{
    int d = s->d, k4 = s->k4;
    float step = xmax > 0.0f ? xmax / (float)levels : 1.0f;
    for (int k = 0; k < d; k++) {
        long v = lrintf(xr[k] / step);
        sc->x16[k] = (int16_t)(v > levels ? levels : v < -levels ? -levels : v);
    }
    for (int k = d; k < k4; k++)
        sc->x16[k] = 0;
    bound_terms t = row_terms(s, l1x, xmax, levels);
    float *hi = sc->bounds;
    for (int j = 0; j < nc; j++) {
        int c = sc->cand[j];
        const int8_t *w = s->wq + (size_t)(c / PW) * PW * k4 + (size_t)(c % PW) * 4;
        if (j + 1 < nc) { /* the next candidate's quads (a line each) on their way */
            int c1 = sc->cand[j + 1];
            const char *w1 = (const char *)(s->wq + (size_t)(c1 / PW) * PW * k4 + (size_t)(c1 % PW) * 4);
            for (int q = 0; q < k4 / 4; q++)
                _mm_prefetch(w1 + (size_t)q * 64, _MM_HINT_T0);
        }
        float a = (float)dot_of(w, sc->x16, k4 / 4) * (step * s->scale[c]) + (b ? b[c] : 0.0f),
              e = token_bound(s, b, t.c_s, t.c_l1, t.c_b, a, c);
        hi[j] = a + e;
        lower = a - e > lower ? a - e : lower;
    }
    int kept = 0;
    for (int j = 0; j < nc; j++)
        if (hi[j] >= lower)
            sc->cand[kept++] = sc->cand[j];
    return kept;
}

/* The second look's levels on AVX-512: as many as keep |sum| <= k4 * 127 *
 * levels below 2^31, at most 32767 (x16 is int16). */
static int avx512_second_levels(int k4)
{
    long most = 2147483647L / (127L * (long)k4);
    return most > 32767 ? 32767 : (int)most;
}

/* Exact logits of up to 16 candidates (exact16 or exact8, width of them). */
typedef void (*exact_fn)(const float *rows, const float *b, const float *x, int d, const int *idx, int count,
                         float *vals);

/* Step 5, for one row: the candidate with the largest exact fp32 logit, the
 * first on ties. */
static int exact_choice(const nmt_logits_screen *s, const float *w, const float *b, const float *xr, int nc,
                        nmt_logits_scratch *sc, exact_fn exact, int width)
{
    int d = s->d, best = -1;
    float best_v = 0.0f;
    for (int c = 0; c < nc; c += width) {
        int count = nc - c < width ? nc - c : width;
        float vals[16];
        for (int j = 0; j < count; j++) {
            if (sc->read_row)
                sc->read_row(sc->read_ctx, sc->cand[c + j], sc->rows + (size_t)j * d);
            else
                memcpy(sc->rows + (size_t)j * d, w + (size_t)sc->cand[c + j] * d, (size_t)d * sizeof(float));
        }
        exact(sc->rows, b, xr, d, sc->cand + c, count, vals);
        for (int j = 0; j < count; j++) /* candidates ascend: first index wins ties */
            if (best < 0 || vals[j] > best_v) {
                best = sc->cand[c + j];
                best_v = vals[j];
            }
    }
    return best;
}

void nmt_logits_choose(const nmt_logits_screen *s, const float *w, const float *b, const float *x, int n, int ban_a,
                       int ban_b, nmt_logits_scratch *sc, int *out, long *candidates)
{
    screen_kind kind = chosen_kind();
    int avx2 = kind == SCREEN_AVX2, levels = avx2 ? AVX2_LEVELS : WIDE_LEVELS;
    if (kind == SCREEN_NONE) { /* not reached: no screen is built without a kernel */
        for (int r = 0; r < n; r++)
            out[r] = -1;
        return;
    }
    quantize_rows(s, x, n, levels, sc);
    for (int r = 0; r < n; r++) {
        nmt_logits_near *nl = &sc->near[r];
        double l1x = row_l1(x + (size_t)r * s->d, s->d);
        bound_terms t = row_terms(s, l1x, sc->xmax[r], levels);
        *nl = (nmt_logits_near){.l1x = l1x, .c_s = t.c_s, .c_l1 = t.c_l1, .c_b = t.c_b, .lower = -INFINITY};
    }
    screen_sink sink = {.s = s, .b = b, .values = NULL, .sc = sc, .ban_a = ban_a, .ban_b = ban_b};
    if (avx2)
        screen_values_avx2(&sink, n);
    else
        screen_values(&sink, n, kind == SCREEN_AMX);
    for (int r = 0; r < n; r++) {
        const float *xr = x + (size_t)r * s->d;
        const nmt_logits_near *nl = &sc->near[r];
        bound_terms t = {nl->c_s, nl->c_l1, nl->c_b};
        float lower;
        int nc;
        if (nl->crowded) { /* every value of the row again, scanned */
            row_values(s, b, r, avx2, sc, sc->approx);
            lower = avx2 ? row_bounds_avx2(s, b, t, sc->approx, ban_a, ban_b, sc->bounds)
                         : row_bounds(s, b, t, sc->approx, ban_a, ban_b, sc->bounds);
            nc = avx2 ? collect_candidates_avx2(s, sc->approx, sc->bounds, lower, ban_a, ban_b, sc->cand)
                      : collect_candidates(s, sc->approx, sc->bounds, lower, ban_a, ban_b, sc->cand);
        } else {
            nc = settle_candidates(s, b, t, sc->near_index + (size_t)r * NMT_LOGITS_NEAR,
                                   sc->near_value + (size_t)r * NMT_LOGITS_NEAR, nl->count, sc->cand, &lower);
        }
        if (nc > 1)
            nc = avx2 ? second_look(s, b, xr, nl->l1x, sc->xmax[r], lower, nc, WIDE_LEVELS, second_dot_avx2, sc)
                      : second_look(s, b, xr, nl->l1x, sc->xmax[r], lower, nc, avx512_second_levels(s->k4),
                                    second_dot_avx512, sc);
        if (candidates)
            *candidates += nc;
        out[r] = avx2 ? exact_choice(s, w, b, xr, nc, sc, exact8, 8) : exact_choice(s, w, b, xr, nc, sc, exact16, 16);
    }
}

void nmt_logits_screen_row(const nmt_logits_screen *s, const float *b, const float *x, nmt_logits_scratch *sc,
                           float *values)
{
    screen_kind kind = chosen_kind();
    if (kind == SCREEN_NONE)
        return;
    quantize_rows(s, x, 1, kind == SCREEN_AVX2 ? AVX2_LEVELS : WIDE_LEVELS, sc);
    row_values(s, b, 0, kind == SCREEN_AVX2, sc, values);
}

#else

const char *nmt_logits_screen_kernel(void) { return NULL; }

int nmt_logits_screen_available(void) { return 0; }

static int screen_is_avx2(void) { return 0; }

void nmt_logits_choose(const nmt_logits_screen *s, const float *w, const float *b, const float *x, int n,
                       int ban_a, int ban_b, nmt_logits_scratch *scratch, int *out, long *candidates)
{
    (void)s, (void)w, (void)b, (void)x, (void)n, (void)ban_a, (void)ban_b, (void)scratch, (void)candidates;
    for (int r = 0; r < n; r++)
        out[r] = -1;
}

void nmt_logits_screen_row(const nmt_logits_screen *s, const float *b, const float *x, nmt_logits_scratch *sc,
                           float *values)
{
    (void)s, (void)b, (void)x, (void)sc, (void)values;
}

#endif
