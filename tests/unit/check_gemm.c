/* check_gemm.c: the packed weight layout (everywhere) and the packed kernel
 * this CPU runs (AVX-512, or AVX2 + FMA) against a naive loop and against
 * the chain of fused multiply-adds gemm.h documents, bit for bit (only
 * where the CPU has one: its own run, packed_gemm.sh, reports SKIP
 * elsewhere). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gemm.h"
#include "kernels.h"
#include "testutil.h"

static unsigned rng_state = 4242;
/* Every row comes back from the packed layout unchanged, the padding of the
 * last panel is zero, and the size covers whole panels. */
START_TEST(test_pack_layout_round_trip)
{
    static const int shapes[][2] = {{1, 1}, {31, 5}, {32, 8}, {33, 3}, {70, 19}};
    for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++) {
        int n = shapes[c][0], k = shapes[c][1];
        size_t size = nmt_gemm_packed_size(n, k);
        ck_assert_uint_eq(size, (size_t)((n + NMT_GEMM_PANEL - 1) / NMT_GEMM_PANEL) * NMT_GEMM_PANEL * k);
        float *w = malloc(sizeof(float) * n * k), *packed = malloc(sizeof(float) * size), *row = malloc(sizeof(float) * k);
        tu_fill(w, (size_t)n * k, &rng_state);
        memset(packed, 0xff, sizeof(float) * size); /* NaNs where nothing is written */
        nmt_gemm_pack(packed, w, n, k);
        for (int r = 0; r < n; r++) {
            nmt_gemm_packed_row(row, packed, k, r);
            ck_assert_mem_eq(row, w + (size_t)r * k, sizeof(float) * k);
        }
        int padded = (int)(size / (size_t)k);
        for (int r = n; r < padded; r++) {
            nmt_gemm_packed_row(row, packed, k, r);
            for (int i = 0; i < k; i++)
                ck_assert_float_eq(row[i], 0.0f);
        }
        free(w);
        free(packed);
        free(row);
    }
}
END_TEST

/* The packed GEMM: edge panels (n % 32, and n % 16 for AVX2's half panels),
 * row tiles of every height (AVX-512: 1 to 12 rows, AVX2: 1 to 6), k
 * blocks (k > 128), one row;
 * each output is fmaf(x, w, ...) from the bias, k in order, exactly (so the
 * AVX-512 and AVX2 kernels agree bit for bit); each row's result does not
 * depend on the other rows, and nmt_linear uses it when weights are packed. */
START_TEST(test_gemm_packed_matches_naive)
{
    static const int shapes[][3] = {{1, 32, 13},  {5, 48, 7},   {19, 300, 70}, {8, 16, 32}, {3, 7, 5},
                                    {13, 40, 24}, {29, 9, 100}, {24, 20, 40},  {45, 33, 64}, {2, 140, 17},
                                    {4, 9, 33}};
    for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++) {
        int m = shapes[c][0], k = shapes[c][1], n = shapes[c][2];
        float *x = malloc(sizeof(float) * m * k), *w = malloc(sizeof(float) * n * k), *b = malloc(sizeof(float) * n),
              *y = malloc(sizeof(float) * m * n), *y1 = malloc(sizeof(float) * n), *y2 = malloc(sizeof(float) * m * n),
              *packed = malloc(sizeof(float) * nmt_gemm_packed_size(n, k));
        tu_fill(x, (size_t)m * k, &rng_state);
        tu_fill(w, (size_t)n * k, &rng_state);
        tu_fill(b, (size_t)n, &rng_state);
        nmt_gemm_pack(packed, w, n, k);
        nmt_gemm_packed(y, x, m, k, packed, n, b);
        nmt_linear_w lw = {.w = NULL, .b = b, .packed = packed};
        nmt_linear(y2, x, m, k, n, &lw);
        for (int r = 0; r < m; r++) {
            for (int j = 0; j < n; j++) {
                double s = b[j];
                for (int i = 0; i < k; i++)
                    s += (double)x[r * k + i] * w[j * k + i];
                ck_assert_double_eq_tol(y[r * n + j], s, 1e-4);
                float chain = b[j];
                for (int i = 0; i < k; i++)
                    chain = fmaf(x[r * k + i], w[j * k + i], chain);
                ck_assert_msg(memcmp(&chain, &y[r * n + j], sizeof chain) == 0, "shape %zu [%d][%d]: %.9g vs %.9g",
                              c, r, j, (double)y[r * n + j], (double)chain);
                ck_assert_float_eq(y2[r * n + j], y[r * n + j]);
            }
            nmt_gemm_packed(y1, x + r * k, 1, k, packed, n, b); /* the same row alone: bit-identical */
            for (int j = 0; j < n; j++)
                ck_assert_float_eq(y1[j], y[r * n + j]);
        }
        free(x);
        free(w);
        free(b);
        free(y);
        free(y1);
        free(y2);
        free(packed);
    }
}
END_TEST

static Suite *gemm_suite(void)
{
    Suite *s = suite_create("gemm");
    TCase *tc = tcase_create("layout");
    tcase_add_test(tc, test_pack_layout_round_trip);
    suite_add_tcase(s, tc);
    if (nmt_gemm_packed_available()) {
        TCase *k = tcase_create("packed");
        tcase_add_test(k, test_gemm_packed_matches_naive);
        suite_add_tcase(s, k);
    }
    return s;
}

int main(void)
{
    const char *only = getenv("CK_RUN_CASE");
    if (only && strcmp(only, "packed") == 0 && !nmt_gemm_packed_available()) {
        printf("SKIP: this CPU lacks AVX-512F and AVX2+FMA (or NMTD_KERNELS=generic): no packed GEMM runs here\n");
        return 77;
    }
    return tu_run(gemm_suite());
}
