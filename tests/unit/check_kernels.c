/* check_kernels.c: every kernel of kernels.c against a naive double-precision
 * loop (the packed GEMM: check_gemm; attention: check_attention). */
#include <check.h>
#include <string.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>

#include "gemm.h"
#include "kernels.h"
#include "testutil.h"

static unsigned rng_state = 12345;
START_TEST(test_linear_matches_naive)
{
    /* n = 1 takes the gemv path, n > 1 the gemm path */
    static const int rows[] = {1, 3, 17};
    for (size_t c = 0; c < sizeof rows / sizeof rows[0]; c++) {
        int n = rows[c], in = 37, out = 29;
        float *x = malloc(sizeof(float) * n * in), *w = malloc(sizeof(float) * out * in), b[29],
              *y = malloc(sizeof(float) * n * out);
        tu_fill(x, (size_t)n * in, &rng_state);
        tu_fill(w, (size_t)out * in, &rng_state);
        tu_fill(b, 29, &rng_state);
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

/* Layers that read the same x, fp32 and int8: nmt_linear_shared gives
 * what one nmt_linear per layer gives, bit for bit (int8: x quantized once
 * is quantized as each call would). */
START_TEST(test_linear_shared_equals_separate)
{
    enum { N = 5, IN = 40, OUT = 24, L = 3 };
    float *x = malloc(sizeof(float) * N * IN), *w[L], b[L][OUT], *shared[L], *separate[L];
    nmt_linear_w lw_f32[L], lw_q8[L];
    nmt_q8_matrix q[L];
    nmt_err err;
    tu_fill(x, (size_t)N * IN, &rng_state);
    for (int l = 0; l < L; l++) {
        w[l] = malloc(sizeof(float) * OUT * IN);
        tu_fill(w[l], (size_t)OUT * IN, &rng_state);
        tu_fill(b[l], OUT, &rng_state);
        ck_assert(nmt_q8_quantize(&q[l], w[l], OUT, IN, nmt_q8_levels(), &err) == NMT_OK);
        lw_f32[l] = (nmt_linear_w){.w = w[l], .b = b[l]};
        lw_q8[l] = (nmt_linear_w){.b = l == 1 ? NULL : b[l], .q8 = &q[l]};
        shared[l] = malloc(sizeof(float) * N * OUT);
        separate[l] = malloc(sizeof(float) * N * OUT);
    }
    for (int kind = 0; kind < 2; kind++) {
        const nmt_linear_w *lws[L];
        for (int l = 0; l < L; l++)
            lws[l] = kind ? &lw_q8[l] : &lw_f32[l];
        nmt_linear_shared(shared, x, N, IN, OUT, lws, L);
        for (int l = 0; l < L; l++) {
            nmt_linear(separate[l], x, N, IN, OUT, lws[l]);
            ck_assert_msg(memcmp(shared[l], separate[l], sizeof(float) * N * OUT) == 0, "%s layer %d differs",
                          kind ? "int8" : "fp32", l);
        }
    }
    for (int l = 0; l < L; l++) {
        nmt_q8_free(&q[l]);
        free(w[l]);
        free(shared[l]);
        free(separate[l]);
    }
    free(x);
}
END_TEST

/* Where a sink copies the blocks back into one [n][out] matrix, and what it
 * checks on the way: blocks in column order, each whole panels wide. */
typedef struct gathered {
    float *y;
    int n, out, block, next_j0, calls;
} gathered;

static void gather(void *ctx, const float *y, int m, int j0, int nc)
{
    gathered *g = ctx;
    ck_assert_int_eq(m, g->n);
    ck_assert_int_eq(j0, g->next_j0);
    ck_assert_int_eq(nc, g->out - j0 < g->block ? g->out - j0 : g->block);
    for (int r = 0; r < m; r++)
        memcpy(g->y + (size_t)r * g->out + j0, y + (size_t)r * nc, sizeof(float) * nc);
    g->next_j0 = j0 + nc;
    g->calls++;
}

/* nmt_linear_blocks hands over nmt_linear's values for every form of
 * weights, one row and several, blocks that do and do not divide the
 * columns: bit for bit from our kernels (packed, int8, bfloat16), within
 * rounding from OpenBLAS (whose split of a narrower product may sum in
 * another order). */
START_TEST(test_linear_blocks_equal_linear)
{
    enum { IN = 40, OUT = 300 };
    static const int rows[] = {1, 7, 33}, blocks[] = {64, 128, 320};
    float *w = malloc(sizeof(float) * OUT * IN), b[OUT];
    float *packed = malloc(sizeof(float) * nmt_gemm_packed_size(OUT, IN));
    nmt_q8_matrix q;
    nmt_bf16_matrix bf;
    nmt_err err;
    tu_fill(w, (size_t)OUT * IN, &rng_state);
    tu_fill(b, OUT, &rng_state);
    nmt_gemm_pack(packed, w, OUT, IN);
    ck_assert_int_eq(nmt_q8_quantize(&q, w, OUT, IN, nmt_q8_levels(), &err), NMT_OK);
    ck_assert_int_eq(nmt_bf16_pack(&bf, w, OUT, IN, &err), NMT_OK);
    nmt_linear_w forms[4] = {{.w = w, .b = b}, {.b = b, .packed = packed}, {.b = b, .q8 = &q}, {.b = b, .bf16 = &bf}};
    int n_forms = nmt_gemm_packed_available() ? 4 : 3;
    if (n_forms == 3)
        forms[1] = forms[3];
    for (int f = 0; f < n_forms; f++)
        for (size_t c = 0; c < sizeof rows / sizeof rows[0]; c++)
            for (size_t k = 0; k < sizeof blocks / sizeof blocks[0]; k++) {
                int n = rows[c], block = blocks[k];
                float *x = malloc(sizeof(float) * n * IN), *whole = malloc(sizeof(float) * n * OUT),
                      *buf = malloc(sizeof(float) * n * block);
                tu_fill(x, (size_t)n * IN, &rng_state);
                gathered g = {.y = calloc((size_t)n * OUT, sizeof(float)), .n = n, .out = OUT, .block = block};
                nmt_linear(whole, x, n, IN, OUT, &forms[f]);
                nmt_linear_blocks(buf, x, n, IN, OUT, &forms[f], block, gather, &g);
                ck_assert_int_eq(g.next_j0, OUT);
                ck_assert_int_eq(g.calls, (OUT + block - 1) / block);
                if (f == 0)
                    for (size_t i = 0; i < (size_t)n * OUT; i++)
                        ck_assert_float_eq_tol(g.y[i], whole[i], 1e-5f * (1.0f + fabsf(whole[i])));
                else
                    ck_assert_msg(memcmp(whole, g.y, sizeof(float) * n * OUT) == 0, "form %d, %d rows, block %d", f,
                                  n, block);
                free(x);
                free(whole);
                free(buf);
                free(g.y);
            }
    nmt_q8_free(&q);
    nmt_bf16_free(&bf);
    free(packed);
    free(w);
}
END_TEST

typedef void (*layer_norm_fn)(float *, const float *, int, int, const float *, const float *, float);

/* fn against a double-precision layer norm, rows of D = 33 (two blocks of
 * 16 and a tail) and 512 */
static void check_layer_norm(layer_norm_fn fn)
{
    enum { N = 4, DMAX = 512 };
    static const int dims[] = {33, 512};
    static float x[N * DMAX], delta[N * DMAX], g[DMAX], b[DMAX], ref[N * DMAX], c[DMAX];
    for (size_t t = 0; t < 2; t++) {
        int D = dims[t];
        tu_fill(x, (size_t)N * D, &rng_state);
        tu_fill(delta, (size_t)N * D, &rng_state);
        tu_fill(g, (size_t)D, &rng_state);
        tu_fill(b, (size_t)D, &rng_state);
        for (int r = 0; r < N; r++) {
            double mean = 0, var = 0, v[DMAX];
            for (int i = 0; i < D; i++)
                mean += v[i] = (double)x[r * D + i] + delta[r * D + i];
            mean /= D;
            for (int i = 0; i < D; i++)
                var += (v[i] - mean) * (v[i] - mean);
            var /= D;
            for (int i = 0; i < D; i++)
                ref[r * D + i] = (float)((v[i] - mean) / sqrt(var + 1e-5) * g[i] + b[i]);
        }
        fn(x, delta, N, D, g, b, 1e-5f);
        for (int i = 0; i < N * D; i++)
            ck_assert_double_eq_tol(x[i], ref[i], 1e-5);
        /* delta NULL: a plain layer norm of a constant row is beta */
        for (int i = 0; i < D; i++)
            c[i] = 3.0f;
        fn(c, NULL, 1, D, g, b, 1e-5f);
        for (int i = 0; i < D; i++)
            ck_assert_double_eq_tol(c[i], b[i], 1e-6);
    }
}

START_TEST(test_add_layer_norm_matches_naive) { check_layer_norm(nmt_add_layer_norm); }
END_TEST

START_TEST(test_add_layer_norm_lanes_matches_naive) { check_layer_norm(nmt_add_layer_norm_lanes); }
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

/* Long rows (whole blocks of 64 and a tail): the first of two equal maxima
 * placed on each side of block edges, and banned, against a plain scan. */
static int naive_argmax(const float *x, int n, int ban_a, int ban_b)
{
    int arg = -1;
    for (int i = 0; i < n; i++)
        if (i != ban_a && i != ban_b && (arg < 0 || x[i] > x[arg]))
            arg = i;
    return arg;
}

START_TEST(test_argmax_long_rows)
{
    enum { N = 1000 };
    static const int spots[] = {0, 1, 62, 63, 64, 65, 127, 128, 500, 959, 960, 998, 999};
    static float x[N];
    int cases = (int)(sizeof spots / sizeof spots[0]);
    for (int a = 0; a < cases; a++)
        for (int b = 0; b < cases; b++) {
            tu_fill(x, N, &rng_state);
            x[spots[a]] = 5.0f;
            x[spots[b]] = 5.0f;
            int first = spots[a] < spots[b] ? spots[a] : spots[b];
            ck_assert_int_eq(nmt_argmax(x, N, -1, -1), first);
            ck_assert_int_eq(nmt_argmax(x, N, first, -1), naive_argmax(x, N, first, -1));
            ck_assert_int_eq(nmt_argmax(x, N - 1, -1, 7), naive_argmax(x, N - 1, -1, 7));
        }
}
END_TEST

static Suite *kernels_suite(void)
{
    Suite *s = suite_create("kernels");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_linear_matches_naive);
    tcase_add_test(tc, test_linear_shared_equals_separate);
    tcase_add_test(tc, test_linear_blocks_equal_linear);
    tcase_add_test(tc, test_add_layer_norm_matches_naive);
    tcase_add_test(tc, test_add_layer_norm_lanes_matches_naive);
    tcase_add_test(tc, test_softmax);
    tcase_add_test(tc, test_activations);
    tcase_add_test(tc, test_sinusoids_marian_layout);
    tcase_add_test(tc, test_argmax_bans_and_ties);
    tcase_add_test(tc, test_argmax_long_rows);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(kernels_suite());
}
