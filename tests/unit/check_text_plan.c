/* check_text_plan.c: a text's plan on real models: segments and gaps put
 * back byte for byte, all-whitespace and empty texts, splitting off, a
 * segment over the position limit wrapped into pieces that each fit and
 * together lose nothing, and the unit cap. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "text_plan.h"
#include "translator.h"

static nmt_translator *demo, *tiny;

static void setup(void)
{
    nmt_err err;
    ck_assert_msg(nmt_translator_load(&demo, tu_demo_model(), &err) == NMT_OK, "%s", err.msg);
    ck_assert_msg(nmt_translator_load(&tiny, tu_test_model("tiny-swish"), &err) == NMT_OK, "%s", err.msg);
}

static void teardown(void)
{
    nmt_translator_free(demo);
    nmt_translator_free(tiny);
}

static nmt_text_plan *plan(nmt_translator *tr, const char *text, int split, int join, int max_units)
{
    nmt_text_plan *p = NULL;
    nmt_err err;
    nmt_text_opts o = {.split = split, .newline_join = join, .max_units = max_units};
    ck_assert_msg(nmt_text_plan_new(&p, tr, text, strlen(text), &o, &err) == NMT_OK, "%s", err.msg);
    return p;
}

/* Joins with unit u translated as "<u:text of u>". */
static char *join_marked(const nmt_text_plan *p)
{
    int n = nmt_text_plan_units(p);
    char **t = calloc((size_t)(n ? n : 1), sizeof *t);
    for (int u = 0; u < n; u++) {
        size_t len;
        const char *s = nmt_text_plan_text(p, u, &len);
        t[u] = malloc(len + 3);
        t[u][0] = '<';
        memcpy(t[u] + 1, s, len);
        t[u][len + 1] = '>';
        t[u][len + 2] = '\0';
    }
    char *out;
    nmt_err err;
    ck_assert(nmt_text_plan_join(p, (const char *const *)t, &out, &err) == NMT_OK);
    for (int u = 0; u < n; u++)
        free(t[u]);
    free(t);
    return out;
}

START_TEST(test_gaps_kept)
{
    const char *text = "  The dog sees the cat.\tThe cat runs.\n\nTwenty one. \r\nNine!\n ";
    nmt_text_plan *p = plan(demo, text, 1, 0, 100);
    ck_assert_int_eq(nmt_text_plan_units(p), 4);
    char *out = join_marked(p);
    ck_assert_str_eq(out, "  <The dog sees the cat.>\t<The cat runs.>\n\n<Twenty one.> \r\n<Nine!>\n ");
    free(out);
    int n;
    const int *ids = nmt_text_plan_ids(p, 1, &n);
    ck_assert_int_eq(ids[n - 1], nmt_translator_eos_id(demo));
    int want[64], n_want;
    nmt_err err;
    ck_assert(nmt_translator_encode(demo, "The cat runs.", 13, want, 64, &n_want, &err) == NMT_OK);
    ck_assert_int_eq(n, n_want);
    ck_assert_mem_eq(ids, want, (size_t)n * sizeof(int));
    nmt_text_plan_free(p);
}
END_TEST

START_TEST(test_newline_join)
{
    nmt_text_plan *p = plan(demo, "The dog\nsees the cat.\n\nTwo.", 1, 1, 100);
    ck_assert_int_eq(nmt_text_plan_units(p), 2);
    size_t len;
    const char *s = nmt_text_plan_text(p, 0, &len);
    ck_assert_int_eq(len, 21);
    ck_assert(memcmp(s, "The dog sees the cat.", len) == 0); /* the model reads a space */
    char *out = join_marked(p);
    ck_assert_str_eq(out, "<The dog sees the cat.>\n\n<Two.>");
    free(out);
    nmt_text_plan_free(p);
}
END_TEST

START_TEST(test_nothing_to_translate)
{
    const char *texts[] = {"", " ", "\n\t \r\n", "\xc2\xa0"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        for (int split = 0; split < 2; split++) {
            nmt_text_plan *p = plan(demo, texts[i], split, 0, 100);
            ck_assert_int_eq(nmt_text_plan_units(p), 0);
            char *out;
            nmt_err err;
            ck_assert(nmt_text_plan_join(p, NULL, &out, &err) == NMT_OK);
            ck_assert_str_eq(out, texts[i]); /* whitespace comes back as it was */
            free(out);
            nmt_text_plan_free(p);
        }
    }
}
END_TEST

START_TEST(test_split_off)
{
    nmt_text_plan *p = plan(demo, " One. Two. \n", 0, 0, 100);
    ck_assert_int_eq(nmt_text_plan_units(p), 1);
    char *out = join_marked(p);
    ck_assert_str_eq(out, " <One. Two.> \n");
    free(out);
    nmt_text_plan_free(p);
}
END_TEST

/* A segment over the 64 positions of tiny-swish: pieces that each fit, cut
 * at spaces, and that together are the whole segment. */
START_TEST(test_wrap_long_segment)
{
    char text[4096] = "";
    for (int i = 0; i < 150; i++)
        strcat(text, i % 7 == 6 ? "cat, " : "the dog sees ");
    strcat(text, "end");
    nmt_text_plan *p = plan(tiny, text, 1, 0, 100);
    int n = nmt_text_plan_units(p), max_pos = nmt_translator_max_positions(tiny);
    ck_assert_int_gt(n, 5);
    char rebuilt[4096] = "";
    for (int u = 0; u < n; u++) {
        int n_ids;
        nmt_text_plan_ids(p, u, &n_ids);
        ck_assert_int_le(n_ids, max_pos);
        if (u + 1 < n)
            ck_assert_int_gt(n_ids, max_pos / 2); /* cut late, not early */
        size_t len;
        const char *s = nmt_text_plan_text(p, u, &len);
        ck_assert(s[0] != ' ' && s[len - 1] != ' ');
        strncat(rebuilt, s, len);
        if (u + 1 < n)
            strcat(rebuilt, " ");
    }
    ck_assert_str_eq(rebuilt, text); /* nothing lost */
    char *out = join_marked(p);
    ck_assert_int_eq(strlen(out), strlen(text) + 2 * (size_t)n);
    free(out);
    nmt_text_plan_free(p);
    /* one enormous word: cut between characters */
    char word[2000];
    memset(word, 'q', sizeof word - 1);
    word[sizeof word - 1] = '\0';
    p = plan(tiny, word, 1, 0, 1000);
    ck_assert_int_gt(nmt_text_plan_units(p), 1);
    size_t total = 0;
    for (int u = 0; u < nmt_text_plan_units(p); u++) {
        size_t len;
        nmt_text_plan_text(p, u, &len);
        total += len;
    }
    ck_assert_uint_eq(total, sizeof word - 1);
    nmt_text_plan_free(p);
}
END_TEST

/* A language token starts every unit (also the pieces of a wrapped
 * segment, which still fit), and a unit of nothing but it and </s> is
 * empty. */
START_TEST(test_lang_token)
{
    nmt_translator *roa;
    nmt_err err;
    ck_assert_msg(nmt_translator_load(&roa, tu_test_model("tiny-en-roa"), &err) == NMT_OK, "%s", err.msg);
    const char *const *names;
    ck_assert_int_eq(nmt_translator_lang_tokens(roa, &names), 3);
    ck_assert_str_eq(names[1], "spa");
    ck_assert_int_eq(nmt_translator_lang_tokens(tiny, NULL), 0);
    int spa = nmt_translator_lang_token_id(roa, "spa");
    ck_assert_int_gt(spa, 0);
    ck_assert_int_eq(nmt_translator_lang_token_id(roa, "deu"), -1);
    char text[4096] = "the dog sees the cat! ";
    for (int i = 0; i < 100; i++)
        strcat(text, "the dog sees ");
    nmt_text_opts o = {.split = 1, .max_units = 100, .lang_token = spa}, plain = {.split = 1, .max_units = 100};
    nmt_text_plan *p, *q;
    ck_assert(nmt_text_plan_new(&p, roa, text, strlen(text), &o, &err) == NMT_OK);
    ck_assert(nmt_text_plan_new(&q, roa, "the dog sees the cat!", 21, &plain, &err) == NMT_OK);
    ck_assert_int_gt(nmt_text_plan_units(p), 2);
    for (int u = 0; u < nmt_text_plan_units(p); u++) {
        int n;
        const int *ids = nmt_text_plan_ids(p, u, &n);
        ck_assert_int_eq(ids[0], spa);
        ck_assert_int_le(n, nmt_translator_max_positions(roa));
        ck_assert(!nmt_text_plan_unit_empty(p, u));
    }
    int n_tok, n_plain;
    const int *with = nmt_text_plan_ids(p, 0, &n_tok), *without = nmt_text_plan_ids(q, 0, &n_plain);
    ck_assert_int_eq(n_tok, n_plain + 1);
    ck_assert_mem_eq(with + 1, without, (size_t)n_plain * sizeof(int));
    nmt_text_plan_free(p);
    nmt_text_plan_free(q);
    ck_assert(nmt_text_plan_new(&p, roa, "\x01", 1, &o, &err) == NMT_OK); /* a character the tokenizer drops */
    if (nmt_text_plan_units(p) == 1)
        ck_assert(nmt_text_plan_unit_empty(p, 0) == (nmt_text_plan_ids(p, 0, &n_tok), n_tok == 2));
    nmt_text_plan_free(p);
    nmt_translator_free(roa);
}
END_TEST

START_TEST(test_unit_cap)
{
    nmt_text_plan *p = NULL;
    nmt_err err;
    nmt_text_opts o = {.split = 1, .max_units = 3};
    const char *text = "One. Two. Three. Four.";
    ck_assert_int_eq(nmt_text_plan_new(&p, demo, text, strlen(text), &o, &err), NMT_ERR_TOO_LONG);
    ck_assert_ptr_null(p);
    ck_assert_msg(strstr(err.msg, "more than 3"), "%s", err.msg);
    o.max_units = 4;
    ck_assert_int_eq(nmt_text_plan_new(&p, demo, text, strlen(text), &o, &err), NMT_OK);
    nmt_text_plan_free(p);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("text_plan");
    TCase *tc = tcase_create("core");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_gaps_kept);
    tcase_add_test(tc, test_newline_join);
    tcase_add_test(tc, test_nothing_to_translate);
    tcase_add_test(tc, test_split_off);
    tcase_add_test(tc, test_wrap_long_segment);
    tcase_add_test(tc, test_unit_cap);
    tcase_add_test(tc, test_lang_token);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
