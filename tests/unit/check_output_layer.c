/* check_output_layer.c: the greedy choice of output_layer.c, taken a
 * block of logits at a time, against nmt_argmax over the whole row of
 * nmt_linear's logits: every form of weights, one row and many, ties whose
 * copies lie in different blocks, bans.  (The int8 screen that AVX-512
 * VNNI CPUs use instead: check_logits.) */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gemm.h"
#include "kernels.h"
#include "output_layer.h"
#include "testutil.h"

static unsigned rng_state = 4242;

enum { D = 24, TIE_A = 70, TIE_B = 2900, ANY = -2 };

/* A vocabulary of vocab rows of d = D, where rows TIE_A and TIE_B are the
 * same row with the same large bias: every row of x has them as its two
 * largest logits, equal to the bit (far apart: different blocks), unless
 * its own values decide otherwise (odd rows are left random). */
typedef struct fixture {
    int vocab;
    float *w, *bias, *packed;
    nmt_q8_matrix q;
    nmt_bf16_matrix bf;
} fixture;

static void fixture_init(fixture *f, int vocab)
{
    nmt_err err;
    f->vocab = vocab;
    f->w = malloc(sizeof(float) * vocab * D);
    f->bias = malloc(sizeof(float) * vocab);
    tu_fill(f->w, (size_t)vocab * D, &rng_state);
    tu_fill(f->bias, (size_t)vocab, &rng_state);
    for (int t = 0; t < D; t++)
        f->w[(size_t)TIE_A * D + t] = f->w[(size_t)TIE_B * D + t] = 0.5f;
    f->bias[TIE_A] = f->bias[TIE_B] = 40.0f;
    f->packed = malloc(sizeof(float) * nmt_gemm_packed_size(vocab, D));
    nmt_gemm_pack(f->packed, f->w, vocab, D);
    ck_assert_int_eq(nmt_q8_quantize(&f->q, f->w, vocab, D, nmt_q8_levels(), &err), NMT_OK);
    ck_assert_int_eq(nmt_bf16_pack(&f->bf, f->w, vocab, D, &err), NMT_OK);
}

static void fixture_free(fixture *f)
{
    nmt_q8_free(&f->q);
    nmt_bf16_free(&f->bf);
    free(f->w);
    free(f->bias);
    free(f->packed);
}

/* x[n][D]: even rows positive (the planted pair wins), odd rows random. */
static float *rows_of_x(int n)
{
    float *x = malloc(sizeof(float) * n * D);
    tu_fill(x, (size_t)n * D, &rng_state);
    for (int r = 0; r < n; r += 2)
        for (int t = 0; t < D; t++)
            x[(size_t)r * D + t] = fabsf(x[(size_t)r * D + t]);
    return x;
}

/* nmt_output_choose for every form of f's weights equals nmt_argmax over
 * nmt_linear's whole rows, for the bans given; the even rows choose
 * expect_even (unless ANY). */
static void check_choices(fixture *f, int n, int ban_a, int ban_b, int expect_even)
{
    nmt_linear_w forms[4] = {{.w = f->w, .b = f->bias},
                             {.b = f->bias, .packed = f->packed},
                             {.b = f->bias, .q8 = &f->q},
                             {.b = f->bias, .bf16 = &f->bf}};
    float *x = rows_of_x(n), *logits = malloc(sizeof(float) * n * f->vocab);
    int *got = malloc(sizeof(int) * n);
    for (int form = 0; form < 4; form++) {
        if (form == 1 && !nmt_gemm_packed_available())
            continue;
        nmt_output_layer o = {.vocab = f->vocab, .d = D, .w = f->w, .bias = f->bias, .full = forms[form]};
        nmt_output_scratch s;
        nmt_err err;
        ck_assert_int_eq(nmt_output_scratch_init(&s, &o, n, &err), NMT_OK);
        nmt_output_choose(&o, x, n, ban_a, ban_b, &s, got);
        nmt_linear(logits, x, n, D, f->vocab, &forms[form]);
        for (int r = 0; r < n; r++) {
            int want = nmt_argmax(logits + (size_t)r * f->vocab, f->vocab, ban_a, ban_b);
            ck_assert_msg(got[r] == want, "form %d, row %d of %d, bans %d %d: chose %d, argmax %d", form, r, n,
                          ban_a, ban_b, got[r], want);
            if (r % 2 == 0 && expect_even != ANY)
                ck_assert_int_eq(got[r], expect_even);
        }
        nmt_output_scratch_free(&s);
    }
    free(x);
    free(logits);
    free(got);
}

/* Many rows: blocks of a few hundred columns, so TIE_A and TIE_B fall in
 * different blocks; the first copy wins, the second when the first is
 * banned, neither when both are. */
START_TEST(test_many_rows_ties_across_blocks)
{
    fixture f;
    fixture_init(&f, 3001);
    check_choices(&f, 40, -1, -1, TIE_A);
    check_choices(&f, 40, TIE_A, -1, TIE_B);
    check_choices(&f, 40, 5, TIE_A, TIE_B);
    check_choices(&f, 40, TIE_B, TIE_A, ANY); /* both banned: whatever is largest among the rest */
    fixture_free(&f);
}
END_TEST

/* One row: the widest blocks; a vocabulary wider than one of them. */
START_TEST(test_one_row_wide_vocabulary)
{
    fixture f;
    fixture_init(&f, 40000);
    check_choices(&f, 1, -1, -1, TIE_A);
    check_choices(&f, 1, TIE_A, -1, TIE_B);
    check_choices(&f, 3, -1, TIE_B, TIE_A);
    fixture_free(&f);
}
END_TEST

/* The last block's columns (a vocabulary that is no multiple of any
 * block) and bans at the very ends. */
START_TEST(test_edges)
{
    fixture f;
    fixture_init(&f, 2951);
    f.bias[2950] = 90.0f; /* the last column wins every row ... */
    check_choices(&f, 9, -1, -1, 2950);
    check_choices(&f, 9, 2950, -1, TIE_A); /* ... until banned */
    check_choices(&f, 9, 0, 2950, TIE_A);
    fixture_free(&f);
}
END_TEST

static Suite *output_layer_suite(void)
{
    Suite *s = suite_create("output_layer");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_many_rows_ties_across_blocks);
    tcase_add_test(tc, test_one_row_wide_vocabulary);
    tcase_add_test(tc, test_edges);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(output_layer_suite());
}
