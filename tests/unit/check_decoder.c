/* check_decoder.c: the decoder's step with its per-row state (decoder.c,
 * decoder_state.c), on the committed tiny random model:
 *   - a step through the KV cache gives what recomputing the whole prefix
 *     without a cache gives (a reference written here from the kernels);
 *   - rows are independent: a row started later, at another position, on
 *     another source, in another slot of the state, beside other rows, gets
 *     what it gets alone (bit-identical with the packed kernel, whose sums
 *     do not depend on the other rows; to rounding on OpenBLAS). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "activations.h"
#include "attention.h"
#include "decoder.h"
#include "decoder_state.h"
#include "embedding.h"
#include "encoder.h"
#include "float_convert.h"
#include "gemm.h"
#include "kernels.h"
#include "model.h"
#include "testutil.h"

static nmt_model *model;

static void setup(void)
{
    nmt_err err;
    ck_assert_msg(nmt_model_load(&model, tu_test_model("tiny-swish"), &err) == NMT_OK, "%s", err.msg);
}

static void teardown(void)
{
    nmt_model_free(model);
    model = NULL;
}

static void source(int *ids, int n, int seed)
{
    for (int i = 0; i < n - 1; i++)
        ids[i] = 2 + (seed * 31 + i * 17) % (model->hp.vocab_size - 3);
    ids[n - 1] = model->hp.eos_id;
}

/* enc[len][d] = the encoder output of one sentence. */
static void encode(nmt_activations *act, const int *ids, int len, float *enc)
{
    int off = 0;
    nmt_source_batch src = {.n = 1, .total = len, .ids = ids, .off = &off, .len = &len};
    nmt_encoder_forward(model, &src, act);
    memcpy(enc, act->x, sizeof(float) * (size_t)len * model->hp.d_model);
}

static void scale(float *x, size_t n, float s)
{
    for (size_t i = 0; i < n; i++)
        x[i] *= s;
}

/* The decoder without a cache: all P positions of y at once, each position
 * attending to positions 0..itself (the causal mask spelled out) and to
 * all S source tokens; out[d] = the last position's top-layer output. */
static void reference_last(const float *enc, int S, const int *y, int P, float *out)
{
    const nmt_hparams *hp = &model->hp;
    int d = hp->d_model, heads = hp->dec_heads, ffn = hp->dec_ffn;
    int rows = P > S ? P : S;
    float *x = malloc(sizeof(float) * P * d), *q = malloc(sizeof(float) * rows * d),
          *k = malloc(sizeof(float) * rows * d), *v = malloc(sizeof(float) * rows * d),
          *a = malloc(sizeof(float) * P * d), *t = malloc(sizeof(float) * P * d), *f = malloc(sizeof(float) * P * ffn),
          *scores = malloc(sizeof(float) * (size_t)rows * (size_t)heads);
    const void **kr = malloc(sizeof(void *) * P), **vr = malloc(sizeof(void *) * P);
    int *nk = malloc(sizeof(int) * P);
    float qs = 1.0f / sqrtf((float)(d / heads));
    for (int i = 0; i < P; i++)
        nmt_embed(model, x + (size_t)i * d, y[i], i);
    for (int l = 0; l < hp->dec_layers; l++) {
        const nmt_dec_layer *L = &model->dec[l];
        nmt_linear(q, x, P, d, d, &L->self_attn.q);
        scale(q, (size_t)P * d, qs);
        nmt_linear(k, x, P, d, d, &L->self_attn.k);
        nmt_linear(v, x, P, d, d, &L->self_attn.v);
        for (int i = 0; i < P; i++)
            kr[i] = k, vr[i] = v, nk[i] = i + 1;
        nmt_attention(a, q, P, kr, vr, nk, d, heads, 0, scores);
        nmt_linear(t, a, P, d, d, &L->self_attn.o);
        nmt_add_layer_norm(x, t, P, d, L->self_norm.gamma, L->self_norm.beta, hp->ln_eps);
        nmt_linear(q, x, P, d, d, &L->cross_attn.q);
        scale(q, (size_t)P * d, qs);
        nmt_linear(k, enc, S, d, d, &L->cross_attn.k);
        nmt_linear(v, enc, S, d, d, &L->cross_attn.v);
        for (int i = 0; i < P; i++)
            kr[i] = k, vr[i] = v, nk[i] = S;
        nmt_attention(a, q, P, kr, vr, nk, d, heads, 0, scores);
        nmt_linear(t, a, P, d, d, &L->cross_attn.o);
        nmt_add_layer_norm(x, t, P, d, L->cross_norm.gamma, L->cross_norm.beta, hp->ln_eps);
        nmt_linear(f, x, P, d, ffn, &L->fc1);
        nmt_activate(f, (size_t)P * ffn, hp->act);
        nmt_linear(t, f, P, ffn, d, &L->fc2);
        nmt_add_layer_norm(x, t, P, d, L->final_norm.gamma, L->final_norm.beta, hp->ln_eps);
    }
    memcpy(out, x + (size_t)(P - 1) * d, sizeof(float) * d);
    free(x), free(q), free(k), free(v), free(a), free(t), free(f), free(scores), free(kr), free(vr), free(nk);
}

/* Keys and values kept as fp32 (_i 0) or bfloat16 (_i 1): the step from
 * the cache gives the recomputation's state, exactly up to the order of
 * sums with fp32, within bfloat16's rounding (2^-9 of each key and value)
 * with bfloat16. */
START_TEST(test_cached_step_matches_recompute)
{
    int kv_bf16 = _i;
    float tol = kv_bf16 ? 2e-2f : 1e-4f;
    const nmt_hparams *hp = &model->hp;
    int d = hp->d_model;
    enum { S = 6, P = 7 };
    int src[S], y[P] = {hp->dec_start_id, 17, 5, 230, 17, 99, 42}, row = 2;
    float enc[S * 64], want[64];
    ck_assert_int_le(d, 64);
    source(src, S, 3);
    nmt_activations act;
    nmt_decoder_state ds;
    nmt_err err;
    ck_assert(nmt_activations_init(&act, hp, 32, 32, &err) == NMT_OK);
    ck_assert(nmt_decoder_state_init(&ds, hp, 4, 32, 16, kv_bf16, &err) == NMT_OK);
    encode(&act, src, S, enc);
    int off = 0, len = S;
    nmt_source_batch batch = {.n = 1, .total = S, .ids = src, .off = &off, .len = &len};
    int at = 3;
    nmt_decoder_start(model, &ds, &batch, enc, &row, &at, &act);
    ck_assert_int_eq(ds.src_off[row], 3);
    ck_assert_int_eq(ds.src_len[row], S);
    for (int p = 0; p < P; p++) {
        ck_assert_int_eq(ds.steps[row], p);
        nmt_decoder_step(model, &ds, &row, &y[p], 1, &act);
        reference_last(enc, S, y, p + 1, want);
        for (int i = 0; i < d; i++)
            ck_assert_msg(fabsf(act.x[i] - want[i]) <= tol * (1.0f + fabsf(want[i])),
                          "position %d dim %d: cached %g, recomputed %g", p, i, (double)act.x[i], (double)want[i]);
    }
    nmt_activations_free(&act);
    nmt_decoder_state_free(&ds);
}
END_TEST

static void assert_same(const float *got, const float *want, int d, const char *what, int step)
{
    int exact = nmt_gemm_packed_available();
    for (int i = 0; i < d; i++) {
        if (exact)
            ck_assert_msg(got[i] == want[i], "%s step %d dim %d: %.9g vs alone %.9g", what, step, i, (double)got[i],
                          (double)want[i]);
        else
            ck_assert_msg(fabsf(got[i] - want[i]) <= 1e-5f * (1.0f + fabsf(want[i])),
                          "%s step %d dim %d: %.9g vs alone %.9g", what, step, i, (double)got[i], (double)want[i]);
    }
}

/* Decodes one sentence alone from slot 0: x[t][d] after step t. */
static void decode_alone(const int *src, int len, const int *tokens, int steps, int kv_bf16, float *x)
{
    const nmt_hparams *hp = &model->hp;
    int d = hp->d_model, row = 0;
    nmt_activations act;
    nmt_decoder_state ds;
    nmt_err err;
    ck_assert(nmt_activations_init(&act, hp, 32, 32, &err) == NMT_OK);
    ck_assert(nmt_decoder_state_init(&ds, hp, 1, 32, 16, kv_bf16, &err) == NMT_OK);
    float *enc = malloc(sizeof(float) * len * d);
    encode(&act, src, len, enc);
    int off = 0;
    nmt_source_batch batch = {.n = 1, .total = len, .ids = src, .off = &off, .len = &len};
    nmt_decoder_start(model, &ds, &batch, enc, &row, &off, &act);
    for (int t = 0; t < steps; t++) {
        nmt_decoder_step(model, &ds, &row, &tokens[t], 1, &act);
        memcpy(x + (size_t)t * d, act.x, sizeof(float) * d);
    }
    free(enc);
    nmt_activations_free(&act);
    nmt_decoder_state_free(&ds);
}

/* With fp32 (_i 0) and bfloat16 (_i 1) keys and values alike. */
START_TEST(test_rows_join_late_and_stay_independent)
{
    int kv_bf16 = _i;
    const nmt_hparams *hp = &model->hp;
    int d = hp->d_model, start = hp->dec_start_id;
    enum { LA = 5, LB = 8, STEPS = 7 };
    int a[LA], b[LB];
    int ta[STEPS] = {start, 11, 12, 13, 14, 15, 16}, tb[STEPS] = {start, 200, 7, 7, 150, 3, 9};
    source(a, LA, 1);
    source(b, LB, 2);
    float xa[STEPS * 64], xb[STEPS * 64];
    decode_alone(a, LA, ta, STEPS, kv_bf16, xa);
    decode_alone(b, LB, tb, STEPS, kv_bf16, xb);

    nmt_activations act;
    nmt_decoder_state ds;
    nmt_err err;
    ck_assert(nmt_activations_init(&act, hp, 32, 32, &err) == NMT_OK);
    ck_assert(nmt_decoder_state_init(&ds, hp, 4, 32, 16, kv_bf16, &err) == NMT_OK);
    float enc[LB * 64];
    int off = 0, len = LA, row_a = 3, row_b = 1;
    /* A starts in slot 3 and runs three steps alone */
    encode(&act, a, LA, enc);
    nmt_source_batch batch = {.n = 1, .total = LA, .ids = a, .off = &off, .len = &len};
    nmt_decoder_start(model, &ds, &batch, enc, &row_a, &off, &act);
    for (int t = 0; t < 3; t++) {
        nmt_decoder_step(model, &ds, &row_a, &ta[t], 1, &act);
        assert_same(act.x, xa + t * d, d, "A alone", t);
    }
    /* B joins in slot 1, its source after A's: both step together, each at
     * its own position (A at 3.., B at 0..) */
    len = LB;
    encode(&act, b, LB, enc);
    batch = (nmt_source_batch){.n = 1, .total = LB, .ids = b, .off = &off, .len = &len};
    int at_b = LA;
    nmt_decoder_start(model, &ds, &batch, enc, &row_b, &at_b, &act);
    ck_assert_int_eq(ds.steps[row_a], 3);
    ck_assert_int_eq(ds.steps[row_b], 0);
    for (int t = 0; t < 4; t++) {
        int rows[2] = {row_a, row_b}, tokens[2] = {ta[3 + t], tb[t]};
        nmt_decoder_step(model, &ds, rows, tokens, 2, &act);
        assert_same(act.x, xa + (3 + t) * d, d, "A beside B", 3 + t);
        assert_same(act.x + d, xb + t * d, d, "B beside A", t);
    }
    /* A leaves; B goes on alone */
    for (int t = 4; t < STEPS; t++) {
        nmt_decoder_step(model, &ds, &row_b, &tb[t], 1, &act);
        assert_same(act.x, xb + t * d, d, "B after A left", t);
    }
    nmt_activations_free(&act);
    nmt_decoder_state_free(&ds);
}
END_TEST

/* A bfloat16 state stores each value rounded to nearest even at the row it
 * addresses, and an fp32 one the value itself. */
START_TEST(test_bf16_state_stores_rounded_rows)
{
    const nmt_hparams *hp = &model->hp;
    int d = hp->d_model;
    nmt_decoder_state half, full;
    nmt_err err;
    ck_assert(nmt_decoder_state_init(&half, hp, 3, 8, 5, 1, &err) == NMT_OK);
    ck_assert(nmt_decoder_state_init(&full, hp, 3, 8, 5, 0, &err) == NMT_OK);
    float *x = malloc(sizeof(float) * 2 * d);
    unsigned seed = 41;
    tu_fill(x, (size_t)2 * d, &seed);
    x[0] = 1.0f + 0x1p-8f; /* a tie: to even, 1.0 */
    x[1] = 1.0f + 0x3p-8f; /* a tie: to even, 1 + 2^-6 */
    nmt_decoder_state_put(&half, nmt_decoder_state_row(&half, nmt_decoder_state_cache(&half, half.self_k, 1, 2), 3),
                          x, 2);
    nmt_decoder_state_put(&full, nmt_decoder_state_row(&full, nmt_decoder_state_cross(&full, full.cross_v, 1), 6), x,
                          2);
    const uint16_t *h = (const uint16_t *)half.self_k + ((size_t)(1 * 3 + 2) * 5 + 3) * d;
    const float *f = (const float *)full.cross_v + ((size_t)1 * 8 + 6) * d;
    for (int i = 0; i < 2 * d; i++) {
        ck_assert_uint_eq(h[i], nmt_f32_to_bf16(x[i]));
        ck_assert(f[i] == x[i]);
    }
    ck_assert_float_eq(nmt_bf16_to_f32(h[0]), 1.0f);
    ck_assert_float_eq(nmt_bf16_to_f32(h[1]), 1.0f + 0x1p-6f);
    ck_assert_uint_eq((half.bytes - 3 * 3 * sizeof(int)) * 2, full.bytes - 3 * 3 * sizeof(int)); /* half the keys' bytes */
    free(x);
    nmt_decoder_state_free(&half);
    nmt_decoder_state_free(&full);
}
END_TEST

static Suite *decoder_suite(void)
{
    Suite *s = suite_create("decoder");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_cached_step_matches_recompute, 0, 2);
    tcase_add_loop_test(tc, test_rows_join_late_and_stay_independent, 0, 2);
    tcase_add_test(tc, test_bf16_state_stores_rounded_rows);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(decoder_suite());
}
