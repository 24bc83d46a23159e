/* check_qgemm.c: the int8 linear layer (qgemm.h).  Everywhere, in both
 * weight formats (+-127 and +-32): quantization round trips within half a
 * step, the portable kernel equals a naive loop over the same int8 values
 * exactly, and the product stays within the quantization error of the fp32
 * product; odd shapes included; inputs at the ends of the ranges give
 * exact sums (the AVX2 kernel's int16 sums would saturate past 32 levels
 * with four products, past 64 with two); each kernel names its format.
 * Each faster kernel the CPU has (cases "avx2", "avx512_vnni", "amx"; each
 * its own run in int8_kernels.sh, int8_vnni_kernel.sh and
 * int8_amx_kernel.sh, SKIP where the CPU lacks it) gives the portable
 * kernel's output bit for bit. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qgemm.h"
#include "testutil.h"

static unsigned rng_state = 777;

/* m rows, n outputs, k inputs: odd sizes, k not a multiple of 64, n across
 * panel edges, one row against one to nine panels, strips of 5 and 8 rows
 * and every remainder, decode and encoder-like shapes, more rows than the
 * row chunk (48), twice the chunk and one row more (a chunk of one row);
 * for AMX: whole 32-row blocks, a block of 16 + 1 to 3 rows, blocks of 4 to
 * 15 rows, a tail of 1 to 3 rows after them, an odd number of panels */
static const int shapes[][3] = {{1, 1, 1},     {1, 7, 5},     {3, 33, 17},    {4, 2, 16},   {5, 64, 48},
                                {9, 31, 100},  {32, 96, 64},  {13, 130, 512}, {70, 9, 40},  {1, 80, 33},
                                {1, 50, 64},   {1, 64, 2048}, {8, 17, 30},    {100, 20, 40}, {2, 40, 6},
                                {1, 150, 128}, {17, 48, 200}, {35, 33, 128},  {64, 64, 512}, {19, 16, 64},
                                {4, 200, 100}, {37, 500, 70}, {97, 35, 64}};

/* The two weight formats. */
static const int formats[] = {NMT_Q8_WIDE_LEVELS, NMT_Q8_NARROW_LEVELS};

/* One shape's random weights (quantized to levels), inputs and bias. */
typedef struct problem {
    int m, n, k;
    float *w, *x, *b;
    nmt_q8_matrix q;
} problem;

static problem problem_new(size_t shape, int levels)
{
    problem p = {.m = shapes[shape][0], .n = shapes[shape][1], .k = shapes[shape][2]};
    p.w = malloc(sizeof(float) * p.n * p.k);
    p.x = malloc(sizeof(float) * p.m * p.k);
    p.b = malloc(sizeof(float) * p.n);
    tu_fill(p.w, (size_t)p.n * p.k, &rng_state);
    tu_fill(p.x, (size_t)p.m * p.k, &rng_state);
    tu_fill(p.b, (size_t)p.n, &rng_state);
    nmt_err err;
    ck_assert(nmt_q8_quantize(&p.q, p.w, p.n, p.k, levels, &err) == NMT_OK);
    return p;
}

static void problem_free(problem *p)
{
    nmt_q8_free(&p->q);
    free(p->w);
    free(p->x);
    free(p->b);
}

START_TEST(test_quantize_round_trip)
{
    int n = 40, k = 37, levels = formats[_i];
    float *w = malloc(sizeof(float) * n * k);
    tu_fill(w, (size_t)n * k, &rng_state);
    memset(w + 5 * k, 0, sizeof(float) * k); /* an all-zero row */
    nmt_q8_matrix q;
    nmt_err err;
    ck_assert(nmt_q8_quantize(&q, w, n, k, levels, &err) == NMT_OK);
    ck_assert_int_eq(q.kp, 64);
    ck_assert_int_eq(q.levels, levels);
    ck_assert_uint_eq((uintptr_t)q.w % 64, 0); /* whole cache lines: an AMX tile row across two runs at half speed */
    for (int j = 0; j < n; j++) {
        float amax = 0;
        for (int t = 0; t < k; t++)
            amax = fmaxf(amax, fabsf(w[(size_t)j * k + t]));
        ck_assert_float_eq_tol(q.scale[j], amax > 0 ? amax / levels : 1.0f, 1e-7f);
        int32_t sum = 0, vmax = 0;
        for (int t = 0; t < q.kp; t++) {
            int8_t v = nmt_q8_weight(&q, j, t);
            sum += v;
            if (t >= k) {
                ck_assert_int_eq(v, 0); /* padding */
                continue;
            }
            vmax = abs(v) > vmax ? abs(v) : vmax;
            ck_assert_float_le(fabsf(v * q.scale[j] - w[(size_t)j * k + t]), 0.5f * q.scale[j] + 1e-6f);
        }
        ck_assert_int_eq(vmax, amax > 0 ? levels : 0); /* every level used */
        ck_assert_int_eq(q.offset_sum[j], 128 * sum);
    }
    for (int j = n; j < 48; j++) /* the last panel's columns past n */
        for (int t = 0; t < q.kp; t++)
            ck_assert_int_eq(nmt_q8_weight(&q, j, t), 0);
    ck_assert_uint_eq(nmt_q8_bytes(&q), (size_t)48 * 64 + (size_t)n * 8); /* 3 panels of 16 columns; 2 per column */
    nmt_q8_free(&q);
    free(w);
}
END_TEST

/* The portable kernel against a naive loop that quantizes x the same way:
 * the int32 sums are exact, so the results agree to float rounding; and the
 * whole stays near the fp32 product. */
START_TEST(test_generic_matches_naive)
{
    for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++) {
        problem p = problem_new(c, formats[_i]);
        int m = p.m, n = p.n, k = p.k;
        const float *w = p.w, *x = p.x, *b = p.b;
        const nmt_q8_matrix q = p.q;
        float *y = malloc(sizeof(float) * m * n);
        nmt_q8_linear_with(NMT_Q8_KERNEL_GENERIC, y, x, m, &q, b);
        for (int i = 0; i < m; i++) {
            const float *xr = x + (size_t)i * k;
            float amax = 0;
            for (int t = 0; t < k; t++)
                amax = fmaxf(amax, fabsf(xr[t]));
            float sx = amax > 0 ? amax / 127 : 1.0f;
            for (int j = 0; j < n; j++) {
                long acc = 0;
                double exact = b[j], bound = 0;
                for (int t = 0; t < k; t++) {
                    long xq = lrintf(xr[t] * (1.0f / sx));
                    acc += xq * nmt_q8_weight(&q, j, t);
                    exact += (double)xr[t] * w[(size_t)j * k + t];
                    bound += 0.5 * sx * fabs(w[(size_t)j * k + t]) + 0.5 * q.scale[j] * fabs(xr[t]) +
                             0.25 * sx * q.scale[j];
                }
                float want = (float)acc * (sx * q.scale[j]) + b[j], got = y[(size_t)i * n + j];
                ck_assert_msg(fabsf(got - want) <= 1e-5f * (1 + fabsf(want)), "shape %zu [%d][%d]: %g vs %g", c, i,
                              j, (double)got, (double)want);
                ck_assert_msg(fabs(got - exact) <= bound + 1e-4, "shape %zu [%d][%d]: %g vs fp32 %g (bound %g)", c,
                              i, j, (double)got, exact, bound);
            }
        }
        problem_free(&p);
        free(y);
    }
}
END_TEST

/* Rows of +-1 (activations quantized to +-127, unsigned bytes 255 and 1)
 * against rows of +-1 (weights +-levels): sums of 127 * levels * k, exact,
 * so y is k times the sign patterns' agreement.  Four products of 255 and
 * 33 reach 33660 and two of 255 and 65 33150: an AVX2 kernel that added
 * four at 33 levels, or two at 65, would wrap or clamp them in int16. */
static void check_extremes(nmt_q8_kernel kernel, int levels)
{
    enum { M = 20, N = 40, K = 256 };
    float *w = malloc(sizeof(float) * N * K), *x = malloc(sizeof(float) * M * K), *y = malloc(sizeof(float) * M * N);
    for (int j = 0; j < N; j++)
        for (int t = 0; t < K; t++)
            w[j * K + t] = j % 3 == 0 ? 1.0f : j % 3 == 1 ? -1.0f : (t % 2 ? 1.0f : -1.0f);
    for (int i = 0; i < M; i++)
        for (int t = 0; t < K; t++)
            x[i * K + t] = i % 4 == 0   ? 1.0f
                           : i % 4 == 1 ? -1.0f
                           : i % 4 == 2 ? (t % 2 ? -1.0f : 1.0f)
                                        : (t < K / 2 ? 1.0f : -1.0f);
    nmt_q8_matrix q;
    nmt_err err;
    ck_assert(nmt_q8_quantize(&q, w, N, K, levels, &err) == NMT_OK);
    nmt_q8_linear_with(kernel, y, x, M, &q, NULL);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double want = 0;
            for (int t = 0; t < K; t++)
                want += (double)x[i * K + t] * w[j * K + t];
            ck_assert_msg(fabs(y[i * N + j] - want) <= 1e-3, "levels %d [%d][%d]: %g, want %g", levels, i, j,
                          (double)y[i * N + j], want);
        }
    nmt_q8_free(&q);
    free(w);
    free(x);
    free(y);
}

/* kernel gives the portable kernel's output bit for bit, without and with
 * a bias, on every shape, with weights of levels. */
static void check_matches_generic(nmt_q8_kernel kernel, int levels)
{
    for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++) {
        problem p = problem_new(c, levels);
        int m = p.m, n = p.n;
        float *y1 = malloc(sizeof(float) * m * n), *y2 = malloc(sizeof(float) * m * n);
        for (int with_bias = 0; with_bias < 2; with_bias++) {
            nmt_q8_linear_with(kernel, y1, p.x, m, &p.q, with_bias ? p.b : NULL);
            nmt_q8_linear_with(NMT_Q8_KERNEL_GENERIC, y2, p.x, m, &p.q, with_bias ? p.b : NULL);
            ck_assert_msg(memcmp(y1, y2, sizeof(float) * m * n) == 0, "levels %d: shape %zu differs", levels, c);
        }
        problem_free(&p);
        free(y1);
        free(y2);
    }
}

START_TEST(test_generic_extremes) { check_extremes(NMT_Q8_KERNEL_GENERIC, formats[_i]); }
END_TEST

/* The AVX2 kernel: four products in int16 up to 32 levels, two past it (64
 * with bytes to 255; the output screen's 127 with bytes to 127). */
static const int avx2_levels[] = {NMT_Q8_NARROW_LEVELS, NMT_Q8_NARROW_LEVELS + 1, 64};

START_TEST(test_avx2_extremes) { check_extremes(NMT_Q8_KERNEL_AVX2, avx2_levels[_i]); }
END_TEST

START_TEST(test_avx2_matches_generic) { check_matches_generic(NMT_Q8_KERNEL_AVX2, avx2_levels[_i]); }
END_TEST

START_TEST(test_vnni_extremes) { check_extremes(NMT_Q8_KERNEL_AVX512_VNNI, formats[_i]); }
END_TEST

START_TEST(test_vnni_matches_generic) { check_matches_generic(NMT_Q8_KERNEL_AVX512_VNNI, formats[_i]); }
END_TEST

START_TEST(test_amx_extremes) { check_extremes(NMT_Q8_KERNEL_AMX, formats[_i]); }
END_TEST

START_TEST(test_amx_matches_generic) { check_matches_generic(NMT_Q8_KERNEL_AMX, formats[_i]); }
END_TEST

/* Each kernel's format: narrow for AVX2, wide for VNNI and AMX, the best
 * kernel's for the portable one; nmt_q8_levels is the running kernel's. */
START_TEST(test_formats_of_kernels)
{
    ck_assert_int_eq(nmt_q8_weight_levels(NMT_Q8_KERNEL_AVX2), NMT_Q8_NARROW_LEVELS);
    ck_assert_int_eq(nmt_q8_weight_levels(NMT_Q8_KERNEL_AVX512_VNNI), NMT_Q8_WIDE_LEVELS);
    ck_assert_int_eq(nmt_q8_weight_levels(NMT_Q8_KERNEL_AMX), NMT_Q8_WIDE_LEVELS);
    int best_narrow = nmt_q8_kernel_available(NMT_Q8_KERNEL_AVX2) &&
                      !nmt_q8_kernel_available(NMT_Q8_KERNEL_AVX512_VNNI);
    ck_assert_int_eq(nmt_q8_weight_levels(NMT_Q8_KERNEL_GENERIC),
                     best_narrow ? NMT_Q8_NARROW_LEVELS : NMT_Q8_WIDE_LEVELS);
    const char *name = nmt_q8_kernel_name();
    int running = strcmp(name, "avx2") == 0 ? NMT_Q8_NARROW_LEVELS
                  : strcmp(name, "generic") == 0 ? nmt_q8_weight_levels(NMT_Q8_KERNEL_GENERIC)
                                                 : NMT_Q8_WIDE_LEVELS;
    ck_assert_int_eq(nmt_q8_levels(), running);
}
END_TEST

/* nmt_q8_linear runs the best kernel the CPU has: the one named. */
START_TEST(test_best_is_named)
{
    const char *name = nmt_q8_kernel_name();
    nmt_q8_kernel best = nmt_q8_kernel_available(NMT_Q8_KERNEL_AMX)           ? NMT_Q8_KERNEL_AMX
                         : nmt_q8_kernel_available(NMT_Q8_KERNEL_AVX512_VNNI) ? NMT_Q8_KERNEL_AVX512_VNNI
                         : nmt_q8_kernel_available(NMT_Q8_KERNEL_AVX2)        ? NMT_Q8_KERNEL_AVX2
                                                                               : NMT_Q8_KERNEL_GENERIC;
    const char *want = best == NMT_Q8_KERNEL_AMX           ? "amx"
                       : best == NMT_Q8_KERNEL_AVX512_VNNI ? "avx512_vnni"
                       : best == NMT_Q8_KERNEL_AVX2        ? "avx2"
                                                           : "generic";
    const char *force = getenv("NMTD_KERNELS");
    if (!force || !*force)
        ck_assert_str_eq(name, want);
}
END_TEST

/* The kernels past the portable one, each with the case name its script
 * runs. */
static const struct {
    const char *name;
    nmt_q8_kernel kernel;
    const char *lacks;
} fast_kernels[] = {
    {"avx2", NMT_Q8_KERNEL_AVX2, "AVX2"},
    {"avx512_vnni", NMT_Q8_KERNEL_AVX512_VNNI, "AVX-512 VNNI"},
    {"amx", NMT_Q8_KERNEL_AMX, "AMX-INT8 (or Linux did not grant the tile state)"},
};

static Suite *qgemm_suite(void)
{
    Suite *s = suite_create("qgemm");
    TCase *tc = tcase_create("portable");
    int nf = (int)(sizeof formats / sizeof formats[0]), na = (int)(sizeof avx2_levels / sizeof avx2_levels[0]);
    tcase_add_loop_test(tc, test_quantize_round_trip, 0, nf);
    tcase_add_loop_test(tc, test_generic_matches_naive, 0, nf);
    tcase_add_loop_test(tc, test_generic_extremes, 0, nf);
    tcase_add_test(tc, test_best_is_named);
    tcase_add_test(tc, test_formats_of_kernels);
    suite_add_tcase(s, tc);
    if (nmt_q8_kernel_available(NMT_Q8_KERNEL_AVX2)) {
        TCase *k = tcase_create("avx2");
        tcase_add_loop_test(k, test_avx2_matches_generic, 0, na);
        tcase_add_loop_test(k, test_avx2_extremes, 0, na);
        suite_add_tcase(s, k);
    }
    if (nmt_q8_kernel_available(NMT_Q8_KERNEL_AVX512_VNNI)) {
        TCase *k = tcase_create("avx512_vnni");
        tcase_add_loop_test(k, test_vnni_matches_generic, 0, nf);
        tcase_add_loop_test(k, test_vnni_extremes, 0, nf);
        suite_add_tcase(s, k);
    }
    if (nmt_q8_kernel_available(NMT_Q8_KERNEL_AMX)) {
        TCase *k = tcase_create("amx");
        tcase_add_loop_test(k, test_amx_matches_generic, 0, nf);
        tcase_add_loop_test(k, test_amx_extremes, 0, nf);
        suite_add_tcase(s, k);
    }
    return s;
}

int main(void)
{
    const char *only = getenv("CK_RUN_CASE");
    for (size_t i = 0; only && i < sizeof fast_kernels / sizeof fast_kernels[0]; i++)
        if (strcmp(only, fast_kernels[i].name) == 0 && !nmt_q8_kernel_available(fast_kernels[i].kernel)) {
            printf("SKIP: this CPU lacks %s: the %s int8 kernel cannot run here\n", fast_kernels[i].lacks,
                   fast_kernels[i].name);
            return 77;
        }
    return tu_run(qgemm_suite());
}
