/* check_kernels.c: every kernel against a naive double-precision loop. */
#include <check.h>
#include <string.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>

#include "attention.h"
#include "gemm.h"
#include "kernels.h"
#include "testutil.h"

static unsigned rng_state = 12345;
static float frand(void) /* uniform in [-1, 1) */
{
    rng_state = rng_state * 1103515245u + 12345u;
    return (float)((rng_state >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static void fill(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = frand();
}

START_TEST(test_linear_matches_naive)
{
    /* n = 1 takes the gemv path, n > 1 the gemm path */
    static const int rows[] = {1, 3, 17};
    for (size_t c = 0; c < sizeof rows / sizeof rows[0]; c++) {
        int n = rows[c], in = 37, out = 29;
        float *x = malloc(sizeof(float) * n * in), *w = malloc(sizeof(float) * out * in), b[29],
              *y = malloc(sizeof(float) * n * out);
        fill(x, (size_t)n * in);
        fill(w, (size_t)out * in);
        fill(b, 29);
        nmt_linear_w lw = {.w = w, .b = b, .packed = NULL};
        nmt_linear(y, x, n, in, out, &lw);
        for (int r = 0; r < n; r++)
            for (int j = 0; j < out; j++) {
                double s = b[j];
                for (int k = 0; k < in; k++)
                    s += (double)x[r * in + k] * w[j * in + k];
                ck_assert_double_eq_tol(y[r * out + j], s, 1e-4);
            }
        lw.b = NULL;
        nmt_linear(y, x, n, in, out, &lw);
        double s = 0;
        for (int k = 0; k < in; k++)
            s += (double)x[k] * w[k];
        ck_assert_double_eq_tol(y[0], s, 1e-4);
        free(x);
        free(w);
        free(y);
    }
}
END_TEST

/* The packed GEMM: edge panels (n % 32), row tiles and leftover rows (m % 8),
 * k blocks (k > 128), one row; each row's result must not depend on the
 * other rows, and nmt_linear must use it when weights are packed. */
START_TEST(test_gemm_packed_matches_naive)
{
    static const int shapes[][3] = {{1, 32, 13}, {5, 48, 7}, {19, 300, 70}, {8, 16, 32}, {3, 7, 5}};
    for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++) {
        int m = shapes[c][0], k = shapes[c][1], n = shapes[c][2];
        float *x = malloc(sizeof(float) * m * k), *w = malloc(sizeof(float) * n * k), *b = malloc(sizeof(float) * n),
              *y = malloc(sizeof(float) * m * n), *y1 = malloc(sizeof(float) * n), *y2 = malloc(sizeof(float) * m * n),
              *packed = malloc(sizeof(float) * nmt_gemm_packed_size(n, k));
        fill(x, (size_t)m * k);
        fill(w, (size_t)n * k);
        fill(b, (size_t)n);
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

START_TEST(test_add_layer_norm_matches_naive)
{
    enum { N = 4, D = 33 };
    float x[N * D], delta[N * D], g[D], b[D], ref[N * D];
    fill(x, N * D);
    fill(delta, N * D);
    fill(g, D);
    fill(b, D);
    for (int r = 0; r < N; r++) {
        double mean = 0, var = 0, v[D];
        for (int i = 0; i < D; i++)
            mean += v[i] = (double)x[r * D + i] + delta[r * D + i];
        mean /= D;
        for (int i = 0; i < D; i++)
            var += (v[i] - mean) * (v[i] - mean);
        var /= D;
        for (int i = 0; i < D; i++)
            ref[r * D + i] = (float)((v[i] - mean) / sqrt(var + 1e-5) * g[i] + b[i]);
    }
    nmt_add_layer_norm(x, delta, N, D, g, b, 1e-5f);
    for (int i = 0; i < N * D; i++)
        ck_assert_double_eq_tol(x[i], ref[i], 1e-5);
    /* delta NULL: a plain layer norm of a constant row is beta */
    float c[D];
    for (int i = 0; i < D; i++)
        c[i] = 3.0f;
    nmt_add_layer_norm(c, NULL, 1, D, g, b, 1e-5f);
    for (int i = 0; i < D; i++)
        ck_assert_double_eq_tol(c[i], b[i], 1e-6);
}
END_TEST

START_TEST(test_softmax)
{
    float x[5] = {1.0f, 2.0f, -INFINITY, 0.5f, 2.0f};
    double sum = exp(1.0) + exp(2.0) + exp(0.5) + exp(2.0);
    nmt_softmax(x, 5);
    ck_assert_double_eq_tol(x[0], exp(1.0) / sum, 1e-6);
    ck_assert_double_eq_tol(x[1], exp(2.0) / sum, 1e-6);
    ck_assert_float_eq(x[2], 0.0f);
    ck_assert_double_eq_tol(x[3], exp(0.5) / sum, 1e-6);
    /* large values do not overflow */
    float big[2] = {1000.0f, 1000.0f};
    nmt_softmax(big, 2);
    ck_assert_double_eq_tol(big[0], 0.5, 1e-6);
}
END_TEST

START_TEST(test_activations)
{
    const float in[5] = {-3.0f, -0.5f, 0.0f, 0.7f, 4.0f};
    float x[5];
    for (int act = NMT_ACT_SWISH; act <= NMT_ACT_GELU_TANH; act++) {
        for (int i = 0; i < 5; i++)
            x[i] = in[i];
        nmt_activate(x, 5, (nmt_activation)act);
        for (int i = 0; i < 5; i++) {
            double v = in[i], want = 0;
            switch (act) {
            case NMT_ACT_SWISH: want = v / (1 + exp(-v)); break;
            case NMT_ACT_RELU: want = v > 0 ? v : 0; break;
            case NMT_ACT_GELU: want = 0.5 * v * (1 + erf(v / sqrt(2.0))); break;
            case NMT_ACT_GELU_TANH:
                want = 0.5 * v * (1 + tanh(sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
                break;
            }
            ck_assert_double_eq_tol(x[i], want, 1e-5);
        }
    }
}
END_TEST

START_TEST(test_sinusoids_marian_layout)
{
    enum { P = 7, D = 10 };
    float t[P * D];
    nmt_sinusoid_table(t, P, D);
    for (int p = 0; p < P; p++)
        for (int i = 0; i < D / 2; i++) {
            double angle = p / pow(10000.0, 2.0 * i / D);
            ck_assert_double_eq_tol(t[p * D + i], sin(angle), 1e-6);         /* first half sin */
            ck_assert_double_eq_tol(t[p * D + D / 2 + i], cos(angle), 1e-6); /* second half cos */
        }
    ck_assert_float_eq(t[0], 0.0f);
    ck_assert_float_eq(t[D / 2], 1.0f);
    /* odd width: ceil(d/2) sin columns */
    float o[2 * 5];
    nmt_sinusoid_table(o, 2, 5);
    ck_assert_double_eq_tol(o[5 + 2], sin(1.0 / pow(10000.0, 4.0 / 5)), 1e-6);
    ck_assert_double_eq_tol(o[5 + 3], cos(1.0), 1e-6);
    ck_assert_double_eq_tol(o[5 + 4], cos(1.0 / pow(10000.0, 2.0 / 5)), 1e-6);
}
END_TEST

START_TEST(test_argmax_bans_and_ties)
{
    float x[6] = {0.1f, 5.0f, 5.0f, 9.0f, -1.0f, 9.0f};
    ck_assert_int_eq(nmt_argmax(x, 6, -1, -1), 3); /* first of the tied maxima */
    ck_assert_int_eq(nmt_argmax(x, 6, 3, -1), 5);
    ck_assert_int_eq(nmt_argmax(x, 6, 3, 5), 1);
    float one[1] = {2.0f};
    ck_assert_int_eq(nmt_argmax(one, 1, 0, -1), -1);
}
END_TEST

/* Naive multi-head attention with an explicit mask: key j visible to query r
 * iff j < n_keys[r]; keys beyond are filled with garbage that must not matter. */
START_TEST(test_attention_matches_naive_masked)
{
    enum { D = 12, H = 3, HD = 4, Q = 3, K = 6 };
    float q[Q * D], k[Q][K * D], v[Q][K * D], ctx[Q * D], scores[K];
    const float *kr[Q], *vr[Q];
    int nk[Q] = {1, 4, 6};
    fill(q, Q * D);
    for (int r = 0; r < Q; r++) {
        fill(k[r], K * D);
        fill(v[r], K * D);
        for (int j = nk[r]; j < K; j++)
            for (int i = 0; i < D; i++)
                k[r][j * D + i] = v[r][j * D + i] = 1e6f; /* masked: must not leak */
        kr[r] = k[r];
        vr[r] = v[r];
    }
    nmt_attention(ctx, q, Q, kr, vr, nk, D, H, scores);
    for (int r = 0; r < Q; r++)
        for (int h = 0; h < H; h++) {
            double w[K], sum = 0, max = -1e300;
            for (int j = 0; j < nk[r]; j++) {
                w[j] = 0;
                for (int i = 0; i < HD; i++)
                    w[j] += (double)q[r * D + h * HD + i] * k[r][j * D + h * HD + i];
                if (w[j] > max)
                    max = w[j];
            }
            for (int j = 0; j < nk[r]; j++)
                sum += w[j] = exp(w[j] - max);
            for (int i = 0; i < HD; i++) {
                double o = 0;
                for (int j = 0; j < nk[r]; j++)
                    o += w[j] / sum * v[r][j * D + h * HD + i];
                ck_assert_double_eq_tol(ctx[r * D + h * HD + i], o, 1e-5);
            }
        }
}
END_TEST

static Suite *kernels_suite(void)
{
    Suite *s = suite_create("kernels");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_linear_matches_naive);
    tcase_add_test(tc, test_add_layer_norm_matches_naive);
    tcase_add_test(tc, test_softmax);
    tcase_add_test(tc, test_activations);
    tcase_add_test(tc, test_sinusoids_marian_layout);
    tcase_add_test(tc, test_argmax_bans_and_ties);
    tcase_add_test(tc, test_attention_matches_naive_masked);
    suite_add_tcase(s, tc);
    /* the AVX-512 kernels only where the CPU has them; their own run
     * (avx512_kernels.sh) reports SKIP elsewhere */
    if (nmt_gemm_packed_available()) {
        TCase *avx = tcase_create("avx512");
        tcase_add_test(avx, test_gemm_packed_matches_naive);
        suite_add_tcase(s, avx);
    }
    return s;
}

int main(void)
{
    const char *only = getenv("CK_RUN_CASE");
    if (only && strcmp(only, "avx512") == 0 && !nmt_gemm_packed_available()) {
        printf("SKIP: this CPU lacks AVX-512F: the packed GEMM cannot run here (nmt_linear uses OpenBLAS)\n");
        return 77;
    }
    return tu_run(kernels_suite());
}
