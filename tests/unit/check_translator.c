/* check_translator.c: parity with the PyTorch reference, token for token, on
 * the demo model's golden fixtures and on the committed random models; the
 * text-level contract (order, empty input, over-long sentences). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "translator.h"

/* Decodes the golden sources in batches of batch_size and compares ids and text. */
static void check_parity(const char *model_dir, const char *golden, int batch_size)
{
    nmt_translator *tr;
    nmt_translator_state *ctx;
    nmt_err err;
    ck_assert_msg(nmt_translator_load(&tr, model_dir, &err) == NMT_OK, "%s", err.msg);
    ck_assert_msg(nmt_translator_state_new(&ctx, tr, batch_size, batch_size * 64, &err) == NMT_OK, "%s", err.msg);
    tu_golden *g;
    int n = tu_golden_read(golden, &g);
    ck_assert_int_gt(n, 0);
    const char **texts = malloc(sizeof *texts * (size_t)n);
    size_t *lens = malloc(sizeof *lens * (size_t)n);
    const int **src = malloc(sizeof *src * (size_t)n);
    int *src_len = malloc(sizeof(int) * (size_t)n), *out_len = malloc(sizeof(int) * (size_t)n);
    int **out = malloc(sizeof *out * (size_t)n);
    for (int i = 0; i < n; i++) {
        texts[i] = g[i].input;
        lens[i] = strlen(g[i].input);
        src[i] = g[i].src;
        src_len[i] = g[i].n_src;
        out[i] = malloc(sizeof(int) * (size_t)nmt_translator_limit(tr, g[i].n_src, NULL));
    }
    ck_assert_msg(nmt_translate_ids(ctx, src, src_len, NULL, n, NULL, out, out_len, NULL, &err) == NMT_OK, "%s", err.msg);
    int mismatches = 0;
    for (int i = 0; i < n; i++) {
        int same = out_len[i] == g[i].n_out;
        for (int j = 0; same && j < out_len[i]; j++)
            same = out[i][j] == g[i].out[j];
        if (!same && mismatches++ < 5)
            fprintf(stderr, "%s line %d '%s': ids differ from the reference (%d vs %d ids)\n", golden, i + 1,
                    g[i].input, out_len[i], g[i].n_out);
    }
    ck_assert_msg(mismatches == 0, "%s: %d of %d sentences differ from the reference", golden, mismatches, n);
    nmt_translation *res = calloc((size_t)n, sizeof *res);
    ck_assert(nmt_translate(ctx, texts, lens, n, NULL, res, NULL, &err) == NMT_OK);
    for (int i = 0; i < n; i++) {
        ck_assert_int_eq(res[i].code, NMT_OK);
        ck_assert_msg(strcmp(res[i].text, g[i].translation) == 0, "'%s': '%s', reference '%s'", g[i].input,
                      res[i].text, g[i].translation);
        ck_assert_int_eq(res[i].n_src, g[i].n_src);
        ck_assert_int_eq(res[i].n_out, g[i].n_out);
        free(out[i]);
    }
    nmt_translations_clear(res, n);
    free(res);
    free(texts);
    free(lens);
    free(src);
    free(src_len);
    free(out_len);
    free(out);
    tu_golden_free(g, n);
    nmt_translator_state_free(ctx);
    nmt_translator_free(tr);
}

START_TEST(test_parity_demo_batch32)
{
    check_parity(tu_demo_model(), NMT_TEST_DATA "/en-de-demo.golden.tsv", 32);
}
END_TEST

START_TEST(test_parity_demo_batch5)
{
    /* other batch compositions give the same ids */
    check_parity(tu_demo_model(), NMT_TEST_DATA "/en-de-demo.golden.tsv", 5);
}
END_TEST

START_TEST(test_parity_tiny_models)
{
    static const char *const models[] = {"tiny-swish", "tiny-relu-eos", "tiny-bf16"};
    for (int i = 0; i < 3; i++) {
        char golden[4096];
        snprintf(golden, sizeof golden, "%s/%s.golden.tsv", NMT_TEST_DATA, models[i]);
        check_parity(tu_test_model(models[i]), golden, 8);
    }
}
END_TEST

START_TEST(test_text_contract)
{
    nmt_translator *tr;
    nmt_translator_state *ctx;
    nmt_err err;
    ck_assert(nmt_translator_load(&tr, tu_test_model("tiny-swish"), &err) == NMT_OK);
    ck_assert(nmt_translator_state_new(&ctx, tr, 2, 64, &err) == NMT_OK);
    /* max_position_embeddings is 64: 70 words is too long */
    char longer[1024] = "";
    for (int i = 0; i < 70; i++)
        strcat(longer, "dog ");
    const char *texts[5] = {"the dog", "", longer, "the cat sees the dog", "the dog"};
    size_t lens[5];
    for (int i = 0; i < 5; i++)
        lens[i] = strlen(texts[i]);
    nmt_translation res[5];
    ck_assert(nmt_translate(ctx, texts, lens, 5, NULL, res, NULL, &err) == NMT_OK);
    ck_assert_int_eq(res[0].code, NMT_OK);
    ck_assert_int_eq(res[1].code, NMT_OK);
    ck_assert_str_eq(res[1].text, "");
    ck_assert_int_eq(res[1].n_out, 0);
    ck_assert_int_eq(res[2].code, NMT_ERR_TOO_LONG);
    ck_assert_ptr_null(res[2].text);
    ck_assert_int_gt(res[2].n_src, 64);
    ck_assert_int_eq(res[3].code, NMT_OK);
    ck_assert_str_eq(res[0].text, res[4].text); /* same input, same answer, across batches */
    ck_assert_int_gt(res[3].n_out, 0);
    nmt_translations_clear(res, 5);
    nmt_translator_state_free(ctx);
    nmt_translator_free(tr);
}
END_TEST

static Suite *translator_suite(void)
{
    Suite *s = suite_create("translator");
    TCase *tc = tcase_create("parity");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_parity_demo_batch32);
    tcase_add_test(tc, test_parity_demo_batch5);
    tcase_add_test(tc, test_parity_tiny_models);
    tcase_add_test(tc, test_text_contract);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(translator_suite());
}
