/* check_libretranslate.c: LibreTranslate's requests in every encoding its
 * clients use (JSON, urlencoded, multipart, query string), each 400 with its
 * message, the language check, and the answer shapes (translatedText and
 * detectedLanguage following q's shape, /languages, /detect, errors);
 * language codes in ISO 639-1, 639-3 and 639-2/B; detection by CLD2. */
#include <check.h>
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect.h"
#include "languages.h"
#include "libretranslate.h"
#include "testutil.h"

static const nmt_api_limits limits = {.max_sentences = 3, .max_chars = 20, .max_length_limit = 100};
static const char *const JSON = "application/json";
static const char *const FORM = "application/x-www-form-urlencoded";

static void parse_ok(int detect, const char *type, const char *body, const nmt_form *query, nmt_lt_request *req)
{
    nmt_api_error e;
    int rc = nmt_lt_parse(detect, type, body, strlen(body), query, &limits, req, &e);
    ck_assert_msg(rc == 0, "%s: %d %s", body, e.status, e.message);
}

static void parse_fails(int detect, const char *type, const char *body, int status, const char *needle)
{
    nmt_lt_request req;
    nmt_api_error e;
    ck_assert_msg(nmt_lt_parse(detect, type, body, strlen(body), NULL, &limits, &req, &e) == -1, "accepted: %s", body);
    ck_assert_int_eq(e.status, status);
    ck_assert_msg(strstr(e.message, needle) != NULL, "%s: '%s' lacks '%s'", body, e.message, needle);
    ck_assert_ptr_null(req.text.texts);
}

START_TEST(test_which_api)
{
    ck_assert(nmt_lt_is_libretranslate(JSON, "{\"q\": \"x\"}", 10, 0));
    ck_assert(!nmt_lt_is_libretranslate(JSON, "{\"text\": \"x\"}", 13, 0));
    ck_assert(!nmt_lt_is_libretranslate(NULL, "{\"text\": \"q\"}", 13, 0));
    ck_assert(nmt_lt_is_libretranslate(FORM, "q=x", 3, 0));
    ck_assert(nmt_lt_is_libretranslate(FORM, "q=%zz", 5, 0));          /* a broken form: its error says why */
    ck_assert(!nmt_lt_is_libretranslate(FORM, "{\"text\": \"x\"}", 13, 0)); /* curl -d labels JSON urlencoded */
    ck_assert(nmt_lt_is_libretranslate(FORM, " {\"q\": \"x\"}", 11, 0));
    ck_assert(!nmt_lt_is_libretranslate(FORM, "hello", 5, 0));
    ck_assert(nmt_lt_is_libretranslate("Multipart/Form-Data; boundary=x", "", 0, 0));
    ck_assert(nmt_lt_is_libretranslate(NULL, "", 0, 1));
    ck_assert(!nmt_lt_is_libretranslate("application/x-www-form-urlencodedX", "q=x", 3, 0));
}
END_TEST

START_TEST(test_json_string_and_list)
{
    nmt_lt_request req;
    parse_ok(0, JSON, "{\"q\": \"Hello\", \"source\": \"en\", \"target\": \"de\", \"format\": \"text\", \"api_key\": \"\"}",
             NULL, &req);
    ck_assert_int_eq(req.text.is_list, 0);
    ck_assert_int_eq(req.text.n, 1);
    ck_assert_str_eq(req.text.texts[0], "Hello");
    ck_assert_int_eq(req.text.split, 1);
    ck_assert_str_eq(req.source, "en");
    ck_assert_str_eq(req.target, "de");
    const char *out[] = {"Hallo"};
    char *body = nmt_lt_translate_body(&req, out, NULL);
    ck_assert_str_eq(body, "{\"translatedText\":\"Hallo\"}");
    free(body);
    nmt_detection d = {.language = "en", .confidence = 97.04};
    body = nmt_lt_translate_body(&req, out, &d);
    ck_assert_str_eq(body, "{\"translatedText\":\"Hallo\",\"detectedLanguage\":{\"confidence\":97,\"language\":\"en\"}}");
    free(body);
    nmt_lt_request_free(&req);

    parse_ok(0, NULL, "{\"q\": [\"a\", \"b\"], \"source\": \"auto\", \"target\": \"deu\", \"alternatives\": 0}", NULL, &req);
    ck_assert_int_eq(req.text.is_list, 1);
    ck_assert_int_eq(req.text.n, 2);
    ck_assert_str_eq(req.text.texts[1], "b");
    const char *two[] = {"A", "B"};
    nmt_detection ds[2] = {{.language = "en", .confidence = 50.25}, {.language = "en", .confidence = 0}};
    body = nmt_lt_translate_body(&req, two, ds);
    ck_assert_str_eq(body, "{\"translatedText\":[\"A\",\"B\"],\"detectedLanguage\":[{\"confidence\":50.3,"
                           "\"language\":\"en\"},{\"confidence\":0,\"language\":\"en\"}]}");
    free(body);
    nmt_lt_request_free(&req);
}
END_TEST

START_TEST(test_forms_and_query)
{
    nmt_lt_request req;
    parse_ok(0, FORM, "q=Hello+there%21&source=en&target=de&alternatives=0", NULL, &req);
    ck_assert_str_eq(req.text.texts[0], "Hello there!");
    ck_assert_int_eq(req.text.is_list, 0);
    nmt_lt_request_free(&req);
    parse_ok(0, FORM, "q=%3Cb%3Ex%3C%2Fb%3E&source=en&target=de&format=html", NULL, &req);
    ck_assert_str_eq(req.text.texts[0], "<b>x</b>");
    ck_assert_int_eq(req.html, 1);
    nmt_lt_request_free(&req);

    const char *mp = "--XyZ\r\nContent-Disposition: form-data; name=\"q\"\r\n\r\nGood morning\r\n"
                     "--XyZ\r\nContent-Disposition: form-data; name=\"source\"\r\n\r\nen\r\n"
                     "--XyZ\r\nContent-Disposition: form-data; name=\"target\"\r\n\r\nde\r\n"
                     "--XyZ\r\nContent-Disposition: form-data; name=\"api_key\"\r\n\r\n\r\n--XyZ--\r\n";
    parse_ok(0, "multipart/form-data; boundary=XyZ", mp, NULL, &req);
    ck_assert_str_eq(req.text.texts[0], "Good morning");
    ck_assert_str_eq(req.api_key, "");
    nmt_lt_request_free(&req);

    /* the query string alone (an empty body), and under a body that wins */
    nmt_form *query = calloc(1, sizeof *query);
    nmt_form_add(query, "q", 1, "from query", 10);
    nmt_form_add(query, "source", 6, "en", 2);
    nmt_form_add(query, "target", 6, "de", 2);
    parse_ok(0, NULL, "", query, &req);
    ck_assert_str_eq(req.text.texts[0], "from query");
    nmt_lt_request_free(&req);
    parse_ok(0, FORM, "q=from+body", query, &req);
    ck_assert_str_eq(req.text.texts[0], "from body");
    ck_assert_str_eq(req.target, "de");
    nmt_lt_request_free(&req);
    nmt_form_free(query);
    free(query);

    parse_ok(1, FORM, "q=Guten+Morgen", NULL, &req);
    ck_assert_str_eq(req.text.texts[0], "Guten Morgen");
    nmt_lt_request_free(&req);
}
END_TEST

START_TEST(test_bad_requests)
{
    parse_fails(0, JSON, "{\"source\": \"en\", \"target\": \"de\"}", 400, "missing q parameter");
    parse_fails(0, JSON, "{\"q\": \"x\", \"target\": \"de\"}", 400, "missing source parameter");
    parse_fails(0, JSON, "{\"q\": \"x\", \"source\": \"en\"}", 400, "missing target parameter");
    parse_fails(0, JSON, "{\"q\": \"x\", \"source\": \"en\", \"target\": \"de\", \"format\": \"pdf\"}", 400,
                "pdf format is not supported");
    parse_fails(0, JSON, "{\"q\": \"x\", \"source\": \"en\", \"target\": \"de\", \"alternatives\": 3}", 400,
                "alternatives are not supported");
    parse_fails(0, FORM, "q=x&source=en&target=de&alternatives=2", 400, "alternatives are not supported");
    parse_fails(0, JSON, "{\"q\": 5, \"source\": \"en\", \"target\": \"de\"}", 400, "string or a list");
    parse_fails(0, JSON, "{\"q\": [\"a\", 1], \"source\": \"en\", \"target\": \"de\"}", 400, "[1] is not a string");
    parse_fails(0, JSON, "{\"q\": [\"a\", \"b\", \"c\", \"d\"], \"source\": \"en\", \"target\": \"de\"}", 400,
                "at most 3");
    parse_fails(0, JSON, "{\"q\": \"123456789012345678901\", \"source\": \"en\", \"target\": \"de\"}", 400,
                "at most 20");
    parse_fails(0, JSON, "{\"q\": \"x\", \"source\": 1, \"target\": \"de\"}", 400, "source must be a string");
    parse_fails(0, JSON, "{\"q\": \"x\", \"q\": \"y\", \"source\": \"en\", \"target\": \"de\"}", 400, "duplicate key");
    parse_fails(0, JSON, "{\"q\": \"x\",}", 400, "malformed JSON");
    parse_fails(0, JSON, "[\"q\"]", 400, "JSON object");
    parse_fails(0, FORM, "q=a&q=b&source=en&target=de", 400, "q given 2 times");
    parse_fails(0, FORM, "q=a%00b&source=en&target=de", 400, "NUL");
    parse_fails(0, FORM, "q=%ff%fe&source=en&target=de", 400, "UTF-8");
    parse_fails(0, FORM, "q=x&source=%zz", 400, "escape");
    parse_fails(0, FORM, "q=x&source=abcdefghijklmnopqrstuvwxyz&target=de", 400, "source is not a valid value");
    parse_fails(0, "multipart/form-data; boundary=XyZ", "nothing", 400, "delimiter");
    parse_fails(1, JSON, "{\"q\": [\"a\"]}", 400, "q must be a string");
    parse_fails(1, FORM, "a=1", 400, "missing q parameter");
    parse_fails(0, FORM, "{\"q\": \"x\", \"source\": \"en\"}", 400, "missing target"); /* JSON, labelled a form */
}
END_TEST

START_TEST(test_languages)
{
    ck_assert(nmt_language_same("fre", "FR"));
    ck_assert(nmt_language_same("zho", "chi"));
    ck_assert(!nmt_language_same("nb", "no"));
    ck_assert(nmt_language_same("xyz", "XYZ"));
    ck_assert(!nmt_language_same("", ""));
    ck_assert_str_eq(nmt_language_name("nld"), "Dutch");
    ck_assert_str_eq(nmt_language_name("tlh"), "tlh");
}
END_TEST

START_TEST(test_detect)
{
    const char *served[] = {"eng", "de", "fr"};
    nmt_detection d[3];
    const char *en = "The weather is lovely today and we are going to walk along the river.";
    ck_assert_int_eq(nmt_detect_language(en, strlen(en), served, 3, d, 3), 1);
    ck_assert_str_eq(d[0].language, "eng"); /* the caller's code comes back */
    ck_assert(d[0].confidence > 80 && d[0].reliable);
    const char *de = "Das Wetter ist heute herrlich und wir gehen am Fluss spazieren.";
    ck_assert_int_eq(nmt_detect_language(de, strlen(de), served, 3, d, 3), 1);
    ck_assert_str_eq(d[0].language, "de");
    /* German text, only English served: nothing found */
    ck_assert_int_eq(nmt_detect_language(de, strlen(de), served, 1, d, 3), 0);
    char *body = nmt_lt_detect_body(d, 0);
    ck_assert_str_eq(body, "[]");
    free(body);
    d[0] = (nmt_detection){.language = "de", .confidence = 97};
    body = nmt_lt_detect_body(d, 1);
    ck_assert_str_eq(body, "[{\"confidence\":97,\"language\":\"de\"}]");
    free(body);
    body = nmt_lt_error_body("Invalid request: missing q parameter");
    ck_assert_str_eq(body, "{\"error\":\"Invalid request: missing q parameter\"}");
    free(body);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("libretranslate");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_which_api);
    tcase_add_test(tc, test_json_string_and_list);
    tcase_add_test(tc, test_forms_and_query);
    tcase_add_test(tc, test_bad_requests);
    tcase_add_test(tc, test_languages);
    tcase_add_test(tc, test_detect);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
