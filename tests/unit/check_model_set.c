/* check_model_set.c: which model a request goes to, on real (tiny,
 * random-weight) models declared as English->German, German->English and
 * English->{French, Spanish, Italian} (>>fra<< >>spa<< >>ita<< tokens):
 * direct pairs, codes in every ISO form and case, the target token of a
 * multilingual model, pivoting through English, and the refusals with what
 * is served; /languages and detection candidates across models. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "libretranslate.h"
#include "model_set.h"
#include "testutil.h"

static nmt_translator *trs[3];
static nmt_model_set *set;

static void setup(void)
{
    static const char *const names[] = {"tiny-swish", "tiny-de-en", "tiny-en-roa"};
    nmt_err err;
    ck_assert(nmt_model_set_new(&set, "en", &err) == NMT_OK);
    for (int i = 0; i < 3; i++) {
        ck_assert_msg(nmt_translator_load(&trs[i], tu_test_model(names[i]), &err) == NMT_OK, "%s", err.msg);
        ck_assert_msg(nmt_model_set_add(set, trs[i], NULL, NULL, &err) == NMT_OK, "%s", err.msg);
    }
}

static void teardown(void)
{
    nmt_model_set_free(set);
    for (int i = 0; i < 3; i++)
        nmt_translator_free(trs[i]);
}

static nmt_route route_ok(const char *model, const char *source, const char *target)
{
    nmt_route r;
    nmt_api_error e;
    ck_assert_msg(nmt_model_set_route(set, model, source, target, &r, &e) == 0, "%s -> %s: %s", source, target,
                  e.message);
    return r;
}

static void route_fails(const char *model, const char *source, const char *target, const char *code,
                        const char *needle)
{
    nmt_route r;
    nmt_api_error e;
    ck_assert_msg(nmt_model_set_route(set, model, source, target, &r, &e) == -1, "%s -> %s routed", source, target);
    ck_assert_int_eq(e.status, 400);
    ck_assert_str_eq(e.code, code);
    ck_assert_msg(strstr(e.message, needle) != NULL, "'%s' not in '%s'", needle, e.message);
}

START_TEST(test_languages_of_models)
{
    ck_assert_int_eq(nmt_model_set_count(set), 3);
    ck_assert_str_eq(nmt_model_set_source(set, 1), "de");
    ck_assert_int_eq(nmt_model_set_target_count(set, 0), 1);
    ck_assert_str_eq(nmt_model_set_target(set, 0, 0), "de");
    /* the multilingual model serves its tokens' languages, not "roa" */
    ck_assert_int_eq(nmt_model_set_target_count(set, 2), 3);
    ck_assert_str_eq(nmt_model_set_target(set, 2, 0), "fr");
    ck_assert_str_eq(nmt_model_set_target(set, 2, 1), "es");
    ck_assert_str_eq(nmt_model_set_target(set, 2, 2), "it");
    char d[64];
    nmt_model_set_describe(set, 2, d, sizeof d);
    ck_assert_str_eq(d, "en-{fr,es,it}");
    /* a second model of the same name is refused */
    nmt_err err;
    ck_assert_int_eq(nmt_model_set_add(set, trs[0], NULL, NULL, &err), NMT_ERR_INVALID);
    ck_assert_msg(strstr(err.msg, "two models are named tiny-swish") != NULL, "%s", err.msg);
}
END_TEST

START_TEST(test_direct)
{
    nmt_route r = route_ok(NULL, "en", "de");
    ck_assert_int_eq(r.model, 0);
    ck_assert_int_eq(r.lang_token, 0);
    ck_assert_int_eq(r.pivot, 0);
    ck_assert_int_eq(route_ok(NULL, "ENG", "ger").model, 0);
    ck_assert_int_eq(route_ok(NULL, "deu", "EN").model, 1);
    /* no source: the one model that reaches the target */
    ck_assert_int_eq(route_ok(NULL, "", "de").model, 0);
    /* a multilingual model: its token for the target */
    r = route_ok(NULL, "en", "es");
    ck_assert_int_eq(r.model, 2);
    ck_assert_int_eq(r.lang_token, nmt_translator_lang_token_id(trs[2], "spa"));
    ck_assert_int_gt(r.lang_token, 0);
    ck_assert_int_eq(route_ok(NULL, "en", "fra").lang_token, nmt_translator_lang_token_id(trs[2], "fra"));
    ck_assert_int_eq(route_ok(NULL, "en", "spa").lang_token, nmt_translator_lang_token_id(trs[2], "spa"));
    /* by name */
    r = route_ok("tiny-en-roa", NULL, "it");
    ck_assert_int_eq(r.model, 2);
    ck_assert_int_eq(r.lang_token, nmt_translator_lang_token_id(trs[2], "ita"));
    ck_assert_int_eq(route_ok("tiny-de-en", "", "").model, 1);
}
END_TEST

START_TEST(test_pivot)
{
    nmt_route r = route_ok(NULL, "de", "fr"); /* de -> en -> fr */
    ck_assert_int_eq(r.pivot, 1);
    ck_assert_int_eq(r.model, 1);
    ck_assert_int_eq(r.lang_token, 0);
    ck_assert_int_eq(r.then_model, 2);
    ck_assert_int_eq(r.then_lang_token, nmt_translator_lang_token_id(trs[2], "fra"));
    ck_assert_int_eq(route_ok(NULL, "de", "it").then_lang_token, nmt_translator_lang_token_id(trs[2], "ita"));
    /* German into German is no pair, pivot or not */
    route_fails(NULL, "de", "de", "unsupported_language_pair", "served: en-de, de-en, en-{fr,es,it}; other pairs through en");
    /* without a pivot language, de -> fr is refused */
    nmt_model_set *plain;
    nmt_err err;
    ck_assert(nmt_model_set_new(&plain, "", &err) == NMT_OK);
    for (int i = 0; i < 3; i++)
        ck_assert(nmt_model_set_add(plain, trs[i], NULL, NULL, &err) == NMT_OK);
    nmt_route pr;
    nmt_api_error e;
    ck_assert_int_eq(nmt_model_set_route(plain, NULL, "de", "fr", &pr, &e), -1);
    ck_assert_str_eq(e.code, "unsupported_language_pair");
    ck_assert_msg(strstr(e.message, "no model translates de into fr (served: en-de, de-en, en-{fr,es,it})"), "%s",
                  e.message);
    nmt_model_set_free(plain);
}
END_TEST

START_TEST(test_refusals)
{
    route_fails(NULL, "fr", "de", "unsupported_language_pair", "no model translates fr into de");
    route_fails(NULL, "en", "xx", "unsupported_language_pair", "served:");
    route_fails(NULL, NULL, NULL, "language_required", "several models are served");
    route_fails(NULL, "en", NULL, "language_required", "say \"target\"");
    route_fails("opus-mt-xx", NULL, NULL, "unknown_model", "served: tiny-swish, tiny-de-en, tiny-en-roa");
    route_fails("tiny-en-roa", "en", NULL, "language_required", "(en-{fr,es,it})");
    route_fails("tiny-en-roa", "en", "de", "unsupported_language_pair", "it serves en-{fr,es,it}");
    route_fails("tiny-swish", "de", "en", "unsupported_language_pair", "does not translate de into en");
}
END_TEST

/* One model: nothing to say; overridden languages route as declared. */
START_TEST(test_one_model_and_overrides)
{
    nmt_model_set *one;
    nmt_err err;
    ck_assert(nmt_model_set_new(&one, "en", &err) == NMT_OK);
    ck_assert(nmt_model_set_add(one, trs[0], "fin", "sv", &err) == NMT_OK);
    nmt_route r;
    nmt_api_error e;
    ck_assert_int_eq(nmt_model_set_route(one, NULL, NULL, NULL, &r, &e), 0);
    ck_assert_int_eq(r.model, 0);
    ck_assert_int_eq(nmt_model_set_route(one, NULL, "fi", "swe", &r, &e), 0);
    ck_assert_int_eq(nmt_model_set_route(one, NULL, "en", "de", &r, &e), -1);
    ck_assert_str_eq(e.code, "unsupported_language_pair");
    ck_assert_msg(strstr(e.message, "served: fi-sv") != NULL, "%s", e.message);
    nmt_model_set_free(one);
}
END_TEST

START_TEST(test_listings)
{
    const char *out[16];
    int n = nmt_model_set_sources(set, NULL, out, 16);
    ck_assert_int_eq(n, 2);
    ck_assert_str_eq(out[0], "en");
    ck_assert_str_eq(out[1], "de");
    /* who reaches French: English directly, German through English */
    ck_assert_int_eq(nmt_model_set_sources(set, "fr", out, 16), 2);
    ck_assert_int_eq(nmt_model_set_sources(set, "en", out, 16), 1);
    ck_assert_str_eq(out[0], "de");
    n = nmt_model_set_targets(set, "de", out, 16);
    ck_assert_int_eq(n, 4); /* en, then fr es it through en */
    ck_assert_str_eq(out[0], "en");
    ck_assert_str_eq(out[3], "it");
    char *body = nmt_lt_languages_body(set);
    ck_assert_str_eq(body, "[{\"code\":\"en\",\"name\":\"English\",\"targets\":[\"de\",\"fr\",\"es\",\"it\"]},"
                           "{\"code\":\"de\",\"name\":\"German\",\"targets\":[\"en\",\"fr\",\"es\",\"it\"]},"
                           "{\"code\":\"fr\",\"name\":\"French\",\"targets\":[]},"
                           "{\"code\":\"es\",\"name\":\"Spanish\",\"targets\":[]},"
                           "{\"code\":\"it\",\"name\":\"Italian\",\"targets\":[]}]");
    free(body);
}
END_TEST

static Suite *model_set_suite(void)
{
    Suite *s = suite_create("model_set");
    TCase *tc = tcase_create("model_set");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_languages_of_models);
    tcase_add_test(tc, test_direct);
    tcase_add_test(tc, test_pivot);
    tcase_add_test(tc, test_refusals);
    tcase_add_test(tc, test_one_model_and_overrides);
    tcase_add_test(tc, test_listings);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(model_set_suite()); }
