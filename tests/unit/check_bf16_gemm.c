/* check_bf16_gemm.c: the bfloat16 linear layer (bf16_gemm.h) and the
 * rounding it stores weights with (float_convert.h).  Everywhere: rounding
 * to nearest even on ties, infinities, NaNs and overflow; the panel layout
 * holds every weight rounded and zeros past the last column; the portable
 * kernel equals the documented sum (fused multiply-adds over k in blocks,
 * the blocks added in order, the bias last) bit for bit and stays within
 * bfloat16's rounding of the fp32 product; odd shapes, several k blocks,
 * more rows than a row chunk, a row against several whole panels.  Where
 * the CPU has them, the AVX2 kernel (case "avx2", its own run
 * bf16_kernels.sh, SKIP elsewhere) and the widened AVX-512 one (case
 * "avx512", bf16_widen512_kernel.sh) give the portable kernel's output bit
 * for bit; the kernel that runs is the one the measured VDPBF16PS rate
 * picks (dot_rate.h).
 * The pairs layout: every weight where the layout says, zeros in the
 * padding; the portable pairs loop, and where the CPU has them the
 * AVX512_BF16 kernel (case "avx512_bf16", bf16_avx512_kernel.sh) and the
 * AMX one (case "amx", bf16_amx_kernel.sh), equal a plain sum of the
 * bfloat16-rounded activations times the weights within fp32 rounding,
 * on every shape, with and without a bias. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bf16_gemm.h"
#include "bf16_gemm_kernels.h"
#include "dot_rate.h"
#include "float_convert.h"
#include "testutil.h"

static unsigned rng_state = 4242;

/* m rows, n outputs, k inputs: odd sizes, n across panel edges, k over one
 * and several blocks (NMT_BF16_KC = 512), a single row against four and
 * more whole panels, more rows than the AVX2 kernel's row chunk (96). */
static const int shapes[][3] = {{1, 1, 1},     {1, 7, 5},      {2, 17, 3},    {3, 33, 17},  {6, 16, 64},
                                {7, 40, 100},  {1, 64, 512},   {1, 70, 1100}, {1, 150, 33}, {13, 130, 513},
                                {32, 96, 64},  {100, 20, 40},  {5, 48, 1536}, {17, 48, 200}, {35, 33, 128},
                                {64, 64, 512}, {19, 16, 64},   {4, 200, 100}, {37, 500, 70}, {24, 40, 520},
                                {12, 64, 48}};

static float bits_to_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

START_TEST(test_round_to_nearest_even)
{
    static const struct {
        uint32_t in;
        uint16_t want;
    } cases[] = {
        {0x3f800000u, 0x3f80}, /* 1.0 */
        {0x3f808000u, 0x3f80}, /* halfway, even below: down */
        {0x3f818000u, 0x3f82}, /* halfway, odd below: up */
        {0x3f808001u, 0x3f81}, /* just past halfway: up */
        {0x3f807fffu, 0x3f80}, /* just short of halfway: down */
        {0xbf808001u, 0xbf81}, /* negative: by magnitude */
        {0x00000001u, 0x0000}, /* the smallest subnormal: to zero */
        {0x80000000u, 0x8000}, /* -0 */
        {0x7f800000u, 0x7f80}, /* +inf */
        {0xff800000u, 0xff80}, /* -inf */
        {0x7f7fffffu, 0x7f80}, /* FLT_MAX: beyond bfloat16's range, to inf */
        {0x7f7f0000u, 0x7f7f}, /* bfloat16's largest: kept */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint16_t got = nmt_f32_to_bf16(bits_to_float(cases[i].in));
        ck_assert_msg(got == cases[i].want, "0x%08x -> 0x%04x, want 0x%04x", cases[i].in, got, cases[i].want);
    }
    /* NaNs stay NaNs, even one whose payload lies only in the dropped bits */
    static const uint32_t nans[] = {0x7fc00000u, 0x7f800001u, 0xffffffffu, 0x7fbfffffu};
    for (size_t i = 0; i < sizeof nans / sizeof nans[0]; i++)
        ck_assert_msg(isnan(nmt_bf16_to_f32(nmt_f32_to_bf16(bits_to_float(nans[i])))), "NaN 0x%08x lost", nans[i]);
    /* every bfloat16 value round-trips; every float lands on a neighbour */
    for (uint32_t h = 0; h < 0x10000u; h++) {
        float f = nmt_bf16_to_f32((uint16_t)h);
        if (!isnan(f))
            ck_assert_uint_eq(nmt_f32_to_bf16(f), h);
    }
    for (int i = 0; i < 100000; i++) {
        float f = tu_frand(&rng_state) * 1000.0f;
        float r = nmt_bf16_to_f32(nmt_f32_to_bf16(f));
        ck_assert_msg(fabsf(r - f) <= fabsf(f) * (1.0f / 256.0f), "%g -> %g", (double)f, (double)r);
    }
}
END_TEST

/* One shape's random weights (packed), inputs and bias. */
typedef struct problem {
    int m, n, k;
    float *w, *x, *b;
    nmt_bf16_matrix h;
} problem;

static problem problem_for(size_t shape, nmt_bf16_kernel kernel)
{
    problem p = {.m = shapes[shape][0], .n = shapes[shape][1], .k = shapes[shape][2]};
    p.w = malloc(sizeof(float) * p.n * p.k);
    p.x = malloc(sizeof(float) * p.m * p.k);
    p.b = malloc(sizeof(float) * p.n);
    tu_fill(p.w, (size_t)p.n * p.k, &rng_state);
    tu_fill(p.x, (size_t)p.m * p.k, &rng_state);
    tu_fill(p.b, (size_t)p.n, &rng_state);
    nmt_err err;
    ck_assert(nmt_bf16_pack_for(kernel, &p.h, p.w, p.n, p.k, &err) == NMT_OK);
    return p;
}

/* The widened layout, which the portable and AVX2 kernels read. */
static problem problem_new(size_t shape) { return problem_for(shape, NMT_BF16_KERNEL_GENERIC); }

static void problem_free(problem *p)
{
    nmt_bf16_free(&p->h);
    free(p->w);
    free(p->x);
    free(p->b);
}

START_TEST(test_pack_layout)
{
    for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++) {
        problem p = problem_new(c);
        for (int j = 0; j < p.n; j++)
            for (int t = 0; t < p.k; t++) {
                float want = nmt_bf16_to_f32(nmt_f32_to_bf16(p.w[(size_t)j * p.k + t]));
                ck_assert_msg(nmt_bf16_weight(&p.h, j, t) == want, "shape %zu W[%d][%d]", c, j, t);
            }
        /* the last panel's columns past n are zeros */
        int np = (p.n + NMT_BF16_PANEL - 1) / NMT_BF16_PANEL;
        const uint16_t *last = p.h.panels + (size_t)(np - 1) * p.k * NMT_BF16_PANEL;
        long nonzero = 0, expected = 0;
        for (int t = 0; t < p.k; t++)
            for (int e = 0; e < NMT_BF16_PANEL; e++)
                nonzero += last[(size_t)t * NMT_BF16_PANEL + e] != 0;
        expected = (long)(p.n - (np - 1) * NMT_BF16_PANEL) * p.k;
        ck_assert_msg(nonzero <= expected, "shape %zu: %ld values in the last panel, %ld columns' worth", c,
                      nonzero, expected);
        /* the layout of the kernel that runs (NMTD_KERNELS may hold it back) */
        int pairs = strcmp(nmt_bf16_kernel_name(), "avx2") != 0 && strcmp(nmt_bf16_kernel_name(), "generic") != 0;
        int kp = pairs ? (p.k + 31) / 32 * 32 : p.k;
        ck_assert_uint_eq(nmt_bf16_bytes_for(p.n, p.k), (size_t)np * NMT_BF16_PANEL * kp * 2);
        problem_free(&p);
    }
}
END_TEST

/* The sum bf16_gemm.h documents, written out here from the stored weights. */
static float documented_sum(const problem *p, int i, int j, int with_bias)
{
    const float *xr = p->x + (size_t)i * p->k;
    float sum = 0.0f;
    for (int k0 = 0; k0 < p->k; k0 += NMT_BF16_KC) {
        float acc = 0.0f;
        for (int t = k0; t < p->k && t < k0 + NMT_BF16_KC; t++)
            acc = fmaf(xr[t], nmt_bf16_weight(&p->h, j, t), acc);
        sum = k0 == 0 ? acc : sum + acc;
    }
    return with_bias ? sum + p->b[j] : sum;
}

START_TEST(test_generic_matches_documented_sum)
{
    for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++) {
        problem p = problem_new(c);
        float *y = malloc(sizeof(float) * p.m * p.n);
        for (int with_bias = 0; with_bias < 2; with_bias++) {
            nmt_bf16_linear_with(NMT_BF16_KERNEL_GENERIC, y, p.x, p.m, &p.h, with_bias ? p.b : NULL);
            for (int i = 0; i < p.m; i++)
                for (int j = 0; j < p.n; j++) {
                    float want = documented_sum(&p, i, j, with_bias), got = y[(size_t)i * p.n + j];
                    ck_assert_msg(memcmp(&got, &want, sizeof got) == 0, "shape %zu [%d][%d]: %.9g vs %.9g", c, i,
                                  j, (double)got, (double)want);
                    /* and within bfloat16's rounding of the fp32 weights (8 significant bits: 2^-8 relative) */
                    double exact = with_bias ? p.b[j] : 0, bound = 0;
                    for (int t = 0; t < p.k; t++) {
                        double xw = (double)p.x[(size_t)i * p.k + t] * p.w[(size_t)j * p.k + t];
                        exact += xw;
                        bound += fabs(xw);
                    }
                    ck_assert_msg(fabs(got - exact) <= bound / 256 + 1e-5 * (1 + fabs(exact)),
                                  "shape %zu [%d][%d]: %g vs fp32 %g (bound %g)", c, i, j, (double)got, exact, bound / 256);
                }
        }
        problem_free(&p);
        free(y);
    }
}
END_TEST

/* kernel (widened layout) gives the portable kernel's output bit for
 * bit, without and with a bias, on every shape. */
static void check_widened_kernel(nmt_bf16_kernel kernel)
{
    for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++) {
        problem p = problem_new(c);
        int m = p.m, n = p.n;
        float *y1 = malloc(sizeof(float) * m * n), *y2 = malloc(sizeof(float) * m * n);
        nmt_bf16_matrix own; /* the same weights in kernel's own layout */
        nmt_err err;
        ck_assert(nmt_bf16_pack_for(kernel, &own, p.w, n, p.k, &err) == NMT_OK);
        for (int with_bias = 0; with_bias < 2; with_bias++) {
            nmt_bf16_linear_with(kernel, y1, p.x, m, &own, with_bias ? p.b : NULL);
            nmt_bf16_linear_with(NMT_BF16_KERNEL_GENERIC, y2, p.x, m, &p.h, with_bias ? p.b : NULL);
            for (size_t e = 0; e < (size_t)m * n; e++)
                ck_assert_msg(memcmp(&y1[e], &y2[e], sizeof(float)) == 0, "shape %zu (bias %d) [%zu][%zu]: %.9g vs %.9g",
                              c, with_bias, e / n, e % n, (double)y1[e], (double)y2[e]);
        }
        nmt_bf16_free(&own);
        problem_free(&p);
        free(y1);
        free(y2);
    }
}

START_TEST(test_avx2_matches_generic) { check_widened_kernel(NMT_BF16_KERNEL_AVX2); }
END_TEST

START_TEST(test_avx512_matches_generic) { check_widened_kernel(NMT_BF16_KERNEL_AVX512); }
END_TEST

/* With AVX512_BF16 (no AMX, NMTD_KERNELS unset), the kernel that runs is
 * the one the measured rate of VDPBF16PS picks; the pairs kernel only
 * where the CPU has the instruction. */
START_TEST(test_choice_follows_dot_rate)
{
    const char *name = nmt_bf16_kernel_name();
    if (!nmt_bf16_kernel_available(NMT_BF16_KERNEL_AVX512_BF16))
        ck_assert_str_ne(name, "avx512_bf16");
    const char *forced = getenv("NMTD_KERNELS");
    if (nmt_bf16_kernel_available(NMT_BF16_KERNEL_AVX512_BF16) && !nmt_bf16_kernel_available(NMT_BF16_KERNEL_AMX) &&
        (!forced || !forced[0])) {
        double rate = nmt_bf16_dot_rate();
        ck_assert_str_eq(name, rate >= NMT_BF16_DOT_RATE_MIN ? "avx512_bf16" : "avx512");
        printf("VDPBF16PS: %.2fx VFMADD231PS's multiply-adds; bfloat16 kernel %s\n", rate, name);
    }
}
END_TEST

/* The pairs layout holds every weight rounded, where nmt_bf16_weight
 * reads it, and zeros in the padding of k and of the last panel. */
START_TEST(test_pairs_layout)
{
    for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++) {
        problem p = problem_for(c, NMT_BF16_KERNEL_AVX512_BF16);
        ck_assert_int_eq(p.h.layout, NMT_BF16_PAIRS);
        ck_assert_int_eq(p.h.kp, (p.k + 31) / 32 * 32);
        ck_assert_uint_eq((uintptr_t)p.h.panels % 64, 0); /* whole cache lines for the tile rows */
        int np = (p.n + NMT_BF16_PANEL - 1) / NMT_BF16_PANEL;
        long nonzero = 0;
        for (int j = 0; j < p.n; j++)
            for (int t = 0; t < p.k; t++) {
                uint16_t want = nmt_f32_to_bf16(p.w[(size_t)j * p.k + t]);
                const uint16_t *at = p.h.panels + (size_t)(j / 16) * p.h.kp * 16 + ((size_t)(t / 2) * 16 + j % 16) * 2 + t % 2;
                ck_assert_msg(*at == want && nmt_bf16_weight(&p.h, j, t) == nmt_bf16_to_f32(want),
                              "shape %zu W[%d][%d]", c, j, t);
                nonzero += want != 0;
            }
        long stored = 0;
        for (size_t e = 0; e < (size_t)np * p.h.kp * 16; e++)
            stored += p.h.panels[e] != 0;
        ck_assert_msg(stored == nonzero, "shape %zu: %ld values stored, %ld weights", c, stored, nonzero);
        problem_free(&p);
    }
}
END_TEST

/* kernel (pairs layout) against a plain sum in double of the activations
 * rounded to bfloat16 times the stored weights: fp32 sums of exact
 * products, so within a few fp32 roundings of the sum of magnitudes. */
typedef void (*pairs_linear)(float *y, const float *x, int rows, const nmt_bf16_matrix *m, const float *b);

static void check_pairs_kernel(pairs_linear linear)
{
    for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++) {
        problem p = problem_for(c, NMT_BF16_KERNEL_AVX512_BF16);
        float *y = malloc(sizeof(float) * p.m * p.n);
        for (int with_bias = 0; with_bias < 2; with_bias++) {
            linear(y, p.x, p.m, &p.h, with_bias ? p.b : NULL);
            for (int i = 0; i < p.m; i++)
                for (int j = 0; j < p.n; j++) {
                    double want = with_bias ? p.b[j] : 0, mag = with_bias ? fabs(p.b[j]) : 0;
                    for (int t = 0; t < p.k; t++) {
                        double xw = (double)nmt_bf16_to_f32(nmt_f32_to_bf16(p.x[(size_t)i * p.k + t])) *
                                    nmt_bf16_weight(&p.h, j, t);
                        want += xw;
                        mag += fabs(xw);
                    }
                    float got = y[(size_t)i * p.n + j];
                    ck_assert_msg(fabs(got - want) <= mag * 1e-5 + 1e-7, "shape %zu (bias %d) [%d][%d]: %.9g vs %.9g",
                                  c, with_bias, i, j, (double)got, want);
                }
        }
        problem_free(&p);
        free(y);
    }
}

static void avx512_bf16_linear(float *y, const float *x, int rows, const nmt_bf16_matrix *m, const float *b)
{
    nmt_bf16_linear_with(NMT_BF16_KERNEL_AVX512_BF16, y, x, rows, m, b);
}

static void amx_linear(float *y, const float *x, int rows, const nmt_bf16_matrix *m, const float *b)
{
    nmt_bf16_linear_with(NMT_BF16_KERNEL_AMX, y, x, rows, m, b);
}

START_TEST(test_pairs_portable) { check_pairs_kernel(nmt_bf16_pairs_portable); }
END_TEST

START_TEST(test_avx512_bf16_kernel) { check_pairs_kernel(avx512_bf16_linear); }
END_TEST

START_TEST(test_amx_kernel) { check_pairs_kernel(amx_linear); }
END_TEST

static Suite *bf16_suite(void)
{
    Suite *s = suite_create("bf16_gemm");
    TCase *tc = tcase_create("portable");
    tcase_add_test(tc, test_round_to_nearest_even);
    tcase_add_test(tc, test_pack_layout);
    tcase_add_test(tc, test_generic_matches_documented_sum);
    suite_add_tcase(s, tc);
    tcase_add_test(tc, test_pairs_layout);
    tcase_add_test(tc, test_pairs_portable);
    tcase_add_test(tc, test_choice_follows_dot_rate);
    if (nmt_bf16_kernel_available(NMT_BF16_KERNEL_AVX2)) {
        TCase *k = tcase_create("avx2");
        tcase_add_test(k, test_avx2_matches_generic);
        suite_add_tcase(s, k);
    }
    if (nmt_bf16_kernel_available(NMT_BF16_KERNEL_AVX512)) {
        TCase *k = tcase_create("avx512");
        tcase_add_test(k, test_avx512_matches_generic);
        suite_add_tcase(s, k);
    }
    if (nmt_bf16_kernel_available(NMT_BF16_KERNEL_AVX512_BF16)) {
        TCase *k = tcase_create("avx512_bf16");
        tcase_add_test(k, test_avx512_bf16_kernel);
        suite_add_tcase(s, k);
    }
    if (nmt_bf16_kernel_available(NMT_BF16_KERNEL_AMX)) {
        TCase *k = tcase_create("amx");
        tcase_add_test(k, test_amx_kernel);
        suite_add_tcase(s, k);
    }
    return s;
}

int main(void)
{
    static const struct {
        const char *name;
        nmt_bf16_kernel kernel;
        const char *lacks;
    } fast[] = {
        {"avx2", NMT_BF16_KERNEL_AVX2, "AVX2+FMA"},
        {"avx512", NMT_BF16_KERNEL_AVX512, "AVX-512 (F, BW, DQ, VL)"},
        {"avx512_bf16", NMT_BF16_KERNEL_AVX512_BF16, "AVX512_BF16"},
        {"amx", NMT_BF16_KERNEL_AMX, "AMX-BF16 (or Linux did not grant the tile state)"},
    };
    const char *only = getenv("CK_RUN_CASE");
    for (size_t i = 0; only && i < sizeof fast / sizeof fast[0]; i++)
        if (strcmp(only, fast[i].name) == 0 && !nmt_bf16_kernel_available(fast[i].kernel)) {
            printf("SKIP: this CPU lacks %s: the %s bfloat16 kernel cannot run here\n", fast[i].lacks, fast[i].name);
            return 77;
        }
    return tu_run(bf16_suite());
}
