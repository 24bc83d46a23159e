/* check_attention.c: multi-head attention over per-query key ranges
 * (attention.c) and the attention sub-layer built on it (sublayer.c), each
 * against a naive double-precision computation. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "activations.h"
#include "attention.h"
#include "float_convert.h"
#include "kernels.h"
#include "sublayer.h"
#include "testutil.h"

static unsigned rng_state = 777;
/* One head of one query, naively: sum_j softmax_j(q . k_j) v_j. */
static void naive_head(double *out, const float *q, const float *k, const float *v, int n_keys, int hd, int stride)
{
    double w[64], sum = 0, max = -1e300;
    for (int j = 0; j < n_keys; j++) {
        w[j] = 0;
        for (int i = 0; i < hd; i++)
            w[j] += (double)q[i] * k[j * stride + i];
        if (w[j] > max)
            max = w[j];
    }
    for (int j = 0; j < n_keys; j++)
        sum += w[j] = exp(w[j] - max);
    for (int i = 0; i < hd; i++) {
        out[i] = 0;
        for (int j = 0; j < n_keys; j++)
            out[i] += w[j] / sum * v[j * stride + i];
    }
}

/* Naive multi-head attention with an explicit mask: key j visible to query r
 * iff j < n_keys[r]; keys beyond are filled with garbage that must not matter. */
START_TEST(test_attention_matches_naive_masked)
{
    enum { D = 12, H = 3, HD = 4, Q = 3, K = 6 };
    float q[Q * D], k[Q][K * D], v[Q][K * D], ctx[Q * D], scores[H * K];
    const void *kr[Q], *vr[Q];
    int nk[Q] = {1, 4, 6};
    tu_fill(q, Q * D, &rng_state);
    for (int r = 0; r < Q; r++) {
        tu_fill(k[r], K * D, &rng_state);
        tu_fill(v[r], K * D, &rng_state);
        for (int j = nk[r]; j < K; j++)
            for (int i = 0; i < D; i++)
                k[r][j * D + i] = v[r][j * D + i] = 1e6f; /* masked: must not leak */
        kr[r] = k[r];
        vr[r] = v[r];
    }
    nmt_attention(ctx, q, Q, kr, vr, nk, D, H, 0, scores);
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

/* A query's result depends only on its own keys: computed alone, or beside
 * other queries over other keys, it is bit-identical (what lets sentences of
 * a batch, and rows joining a running batch, not disturb each other). */
START_TEST(test_attention_rows_independent)
{
    enum { D = 16, H = 2, Q = 4, K = 9 };
    float q[Q * D], keys[Q][K * D], vals[Q][K * D], together[Q * D], alone[D], scores[H * K];
    const void *kr[Q], *vr[Q];
    int nk[Q] = {9, 2, 5, 1};
    tu_fill(q, Q * D, &rng_state);
    for (int r = 0; r < Q; r++) {
        tu_fill(keys[r], K * D, &rng_state);
        tu_fill(vals[r], K * D, &rng_state);
        kr[r] = keys[r];
        vr[r] = vals[r];
    }
    nmt_attention(together, q, Q, kr, vr, nk, D, H, 0, scores);
    for (int r = 0; r < Q; r++) {
        nmt_attention(alone, q + r * D, 1, kr + r, vr + r, nk + r, D, H, 0, scores);
        ck_assert_mem_eq(alone, together + r * D, sizeof alone);
    }
}
END_TEST

/* Keys and values stored as bfloat16 give, bit for bit, what float keys
 * and values of the same (widened) values give: head sizes with and
 * without a tail past 16, one key and many. */
START_TEST(test_attention_bf16_is_widened)
{
    static const int shapes[][2] = {{40, 2}, {128, 2}, {24, 4}}; /* d, heads: head sizes 20, 64, 6 */
    enum { Q = 3, K = 37, DMAX = 128 };
    for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++) {
        int D = shapes[c][0], H = shapes[c][1];
        float q[Q * DMAX], wide_k[K * DMAX], wide_v[K * DMAX], from_half[Q * DMAX], from_float[Q * DMAX], scores[4 * K];
        uint16_t half_k[K * DMAX], half_v[K * DMAX];
        tu_fill(q, (size_t)Q * D, &rng_state);
        tu_fill(wide_k, (size_t)K * D, &rng_state);
        tu_fill(wide_v, (size_t)K * D, &rng_state);
        for (int i = 0; i < K * D; i++) {
            half_k[i] = nmt_f32_to_bf16(wide_k[i]);
            half_v[i] = nmt_f32_to_bf16(wide_v[i]);
            wide_k[i] = nmt_bf16_to_f32(half_k[i]);
            wide_v[i] = nmt_bf16_to_f32(half_v[i]);
        }
        const void *hk[Q] = {half_k, half_k + D, half_k}, *hv[Q] = {half_v, half_v + D, half_v};
        const void *fk[Q] = {wide_k, wide_k + D, wide_k}, *fv[Q] = {wide_v, wide_v + D, wide_v};
        int nk[Q] = {K, K - 1, 1};
        nmt_attention(from_half, q, Q, hk, hv, nk, D, H, 1, scores);
        nmt_attention(from_float, q, Q, fk, fv, nk, D, H, 0, scores);
        ck_assert_msg(memcmp(from_half, from_float, sizeof(float) * Q * D) == 0, "d %d heads %d differ", D, H);
    }
}
END_TEST

/* nmt_attend_heads's order, written out: each score 16 partial sums
 * (lane l: the products of i = l, l + 16, ... added in that order, no fused
 * multiply-add) added lane 0 to 15, then the products past the last 16;
 * nmt_softmax; each output element 0 + p_0 v_0 + p_1 v_1 + ...  */
static void documented_heads(float *out, const float *q, const float *k, const float *v, int n_keys, int heads, int hd,
                             int stride, float *scores)
{
    for (int h = 0; h < heads; h++) {
        for (int j = 0; j < n_keys; j++) {
            const float *qh = q + h * hd, *kj = k + (size_t)j * stride + h * hd;
            float acc[16] = {0}, sum = 0.0f;
            int i = 0;
            for (; i + 16 <= hd; i += 16)
                for (int l = 0; l < 16; l++) {
                    float product = qh[i + l] * kj[i + l];
                    acc[l] = acc[l] + product;
                }
            for (int l = 0; l < 16; l++)
                sum = sum + acc[l];
            for (; i < hd; i++) {
                float product = qh[i] * kj[i];
                sum = sum + product;
            }
            scores[j] = sum;
        }
        nmt_softmax(scores, n_keys);
        for (int i = 0; i < hd; i++) {
            float o = 0.0f;
            for (int j = 0; j < n_keys; j++) {
                float product = scores[j] * v[(size_t)j * stride + h * hd + i];
                o = o + product;
            }
            out[h * hd + i] = o;
        }
    }
}

/* The kernel gives the documented order's bits (the AVX-512 path adds up
 * 16 keys' partial sums at once after a transpose), fp32 and bfloat16 keys
 * and values, 1 to 40 keys (whole and partial blocks of 16), head sizes
 * with and without a tail past 16. */
START_TEST(test_attention_heads_bit_for_bit)
{
    /* d, heads: head sizes 64, 20, 32; 16 heads of 32 (the most the AVX-512
     * scores keep partial sums for), 17 (more: dot() for each) */
    static const int shapes[][2] = {{512, 8}, {40, 2}, {96, 3}, {512, 16}, {544, 17}};
    enum { K = 40, DMAX = 544, HMAX = 17 };
    static float q[DMAX], k[K * DMAX], v[K * DMAX], got[DMAX], want[DMAX], scores[HMAX * K];
    static uint16_t kh[K * DMAX], vh[K * DMAX];
    for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++) {
        int D = shapes[c][0], H = shapes[c][1];
        tu_fill(q, (size_t)D, &rng_state);
        tu_fill(k, (size_t)K * D, &rng_state);
        tu_fill(v, (size_t)K * D, &rng_state);
        for (int i = 0; i < K * D; i++) {
            kh[i] = nmt_f32_to_bf16(k[i]);
            vh[i] = nmt_f32_to_bf16(v[i]);
        }
        for (int nk = 1; nk <= K; nk++) {
            nmt_attend_heads(got, q, k, v, nk, H, D / H, (size_t)D, scores);
            documented_heads(want, q, k, v, nk, H, D / H, D, scores);
            ck_assert_msg(memcmp(got, want, sizeof(float) * D) == 0, "fp32 d %d heads %d keys %d", D, H, nk);
        }
        for (int i = 0; i < K * D; i++) {
            k[i] = nmt_bf16_to_f32(kh[i]);
            v[i] = nmt_bf16_to_f32(vh[i]);
        }
        for (int nk = 1; nk <= K; nk++) {
            nmt_attend_heads_bf16(got, q, kh, vh, nk, H, D / H, (size_t)D, scores);
            documented_heads(want, q, k, v, nk, H, D / H, D, scores);
            ck_assert_msg(memcmp(got, want, sizeof(float) * D) == 0, "bf16 d %d heads %d keys %d", D, H, nk);
        }
    }
}
END_TEST

/* The sub-layer: x <- LN(x + W_o MultiHead(scaled W_q x, keys)) + the
 * caller's key ranges, against the same formula in double. */
START_TEST(test_attention_sublayer_matches_naive)
{
    enum { D = 8, H = 2, HD = 4, N = 3, K = 5 };
    nmt_hparams hp = {.d_model = D, .enc_heads = H, .dec_heads = H, .enc_ffn = 4, .dec_ffn = 4, .max_pos = 16};
    nmt_activations act;
    nmt_err err;
    ck_assert(nmt_activations_init(&act, &hp, N, K, &err) == NMT_OK);
    float wq[D * D], bq[D], wo[D * D], bo[D], gamma[D], beta[D], keys[K * D], vals[K * D], x0[N * D];
    float *filled[] = {wq, bq, wo, bo, gamma, beta, keys, vals, x0};
    size_t sizes[] = {D * D, D, D * D, D, D, D, K * D, K * D, N * D};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        tu_fill(filled[i], sizes[i], &rng_state);
    nmt_attn_w w = {.q = {.w = wq, .b = bq}, .o = {.w = wo, .b = bo}};
    nmt_norm_w norm = {.gamma = gamma, .beta = beta};
    int nk[N] = {5, 1, 3};
    memcpy(act.x, x0, sizeof x0);
    for (int r = 0; r < N; r++) {
        act.k_rows[r] = keys;
        act.v_rows[r] = vals;
        act.n_keys[r] = nk[r];
    }
    nmt_project_q(&w, D, &act, N);
    nmt_attention_sublayer(&w, &norm, D, H, 1e-5f, &act, N);
    for (int r = 0; r < N; r++) {
        float q[D];
        double qd, heads[D], y[D], mean = 0, var = 0;
        for (int j = 0; j < D; j++) {
            qd = bq[j];
            for (int i = 0; i < D; i++)
                qd += (double)wq[j * D + i] * x0[r * D + i];
            q[j] = (float)(qd / sqrt((double)HD));
        }
        for (int h = 0; h < H; h++)
            naive_head(heads + h * HD, q + h * HD, keys + h * HD, vals + h * HD, nk[r], HD, D);
        for (int j = 0; j < D; j++) {
            y[j] = bo[j];
            for (int i = 0; i < D; i++)
                y[j] += wo[j * D + i] * heads[i];
            y[j] += x0[r * D + j];
            mean += y[j] / D;
        }
        for (int j = 0; j < D; j++)
            var += (y[j] - mean) * (y[j] - mean) / D;
        for (int j = 0; j < D; j++)
            ck_assert_double_eq_tol(act.x[r * D + j], (y[j] - mean) / sqrt(var + 1e-5) * gamma[j] + beta[j], 1e-4);
    }
    nmt_activations_free(&act);
}
END_TEST

static Suite *attention_suite(void)
{
    Suite *s = suite_create("attention");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_attention_matches_naive_masked);
    tcase_add_test(tc, test_attention_rows_independent);
    tcase_add_test(tc, test_attention_bf16_is_widened);
    tcase_add_test(tc, test_attention_heads_bit_for_bit);
    tcase_add_test(tc, test_attention_sublayer_matches_naive);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(attention_suite());
}
