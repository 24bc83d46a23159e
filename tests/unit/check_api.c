/* check_api.c: request parsing (every 400 case), response and error bodies,
 * UTF-8 validation. */
#include <check.h>
#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "utf8.h"
#include "testutil.h"

static const nmt_api_limits limits = {.max_sentences = 3, .max_chars = 10, .max_length_limit = 100};

static void expect_error(const char *body, int status, const char *code, const char *needle)
{
    nmt_api_request req;
    nmt_api_error e;
    ck_assert_int_eq(nmt_api_parse_translate(body, strlen(body), &limits, &req, &e), -1);
    ck_assert_int_eq(e.status, status);
    ck_assert_str_eq(e.code, code);
    ck_assert_msg(strstr(e.message, needle) != NULL, "'%s' lacks '%s'", e.message, needle);
    ck_assert_ptr_null(req.texts);
}

START_TEST(test_single_and_list)
{
    nmt_api_request req;
    nmt_api_error e;
    const char *one = "{\"text\": \"Grüße Welt\"}";
    ck_assert_int_eq(nmt_api_parse_translate(one, strlen(one), &limits, &req, &e), 0);
    ck_assert_int_eq(req.is_list, 0);
    ck_assert_int_eq(req.n, 1);
    ck_assert_str_eq(req.texts[0], "Grüße Welt");
    ck_assert_int_eq(req.lens[0], strlen("Grüße Welt"));
    ck_assert_int_eq(req.max_length, 0);
    ck_assert_int_eq(req.split, 1);
    const char *out[1] = {"hallo \"du\""};
    char *body = nmt_api_translate_body(&req, out, NULL);
    ck_assert_str_eq(body, "{\"translation\":\"hallo \\\"du\\\"\"}");
    free(body);
    nmt_api_request_free(&req);
    const char *list = "{\"text\": [\"a\", \"\", \"c\"], \"max_length\": 7, \"split\": false}";
    ck_assert_int_eq(nmt_api_parse_translate(list, strlen(list), &limits, &req, &e), 0);
    ck_assert_int_eq(req.is_list, 1);
    ck_assert_int_eq(req.n, 3);
    ck_assert_str_eq(req.texts[1], "");
    ck_assert_int_eq(req.max_length, 7);
    ck_assert_int_eq(req.split, 0);
    const char *outs[3] = {"x", "", "z"};
    body = nmt_api_translate_body(&req, outs, NULL);
    ck_assert_str_eq(body, "{\"translations\":[\"x\",\"\",\"z\"]}");
    free(body);
    nmt_api_request_free(&req);
    const char *empty = "{\"text\": []}";
    ck_assert_int_eq(nmt_api_parse_translate(empty, strlen(empty), &limits, &req, &e), 0);
    ck_assert_int_eq(req.n, 0);
    body = nmt_api_translate_body(&req, NULL, NULL);
    ck_assert_str_eq(body, "{\"translations\":[]}");
    free(body);
    nmt_api_request_free(&req);
}
END_TEST

START_TEST(test_bad_requests)
{
    expect_error("", 400, "invalid_json", "empty body");
    expect_error("{\"text\": \"a\"", 400, "invalid_json", "malformed JSON");
    expect_error("{\"text\": \"a\"} trailing", 400, "invalid_json", "malformed JSON");
    expect_error("[\"a\"]", 400, "invalid_request", "JSON object");
    expect_error("{\"txt\": \"a\"}", 400, "invalid_request", "missing \"text\"");
    expect_error("{\"text\": 5}", 400, "invalid_request", "string or a list");
    expect_error("{\"text\": [\"a\", 5]}", 400, "invalid_request", "\"text\"[1]");
    expect_error("{\"text\": [\"a\", \"b\", \"c\", \"d\"]}", 400, "too_many_sentences", "4 sentences; at most 3");
    expect_error("{\"text\": \"abcdefghijk\"}", 400, "text_too_long", "11 characters; at most 10");
    expect_error("{\"text\": \"a\", \"split\": 1}", 400, "invalid_split", "true or false");
    expect_error("{\"text\": \"a\", \"max_length\": 0}", 400, "invalid_max_length", "1 to 100");
    expect_error("{\"text\": \"a\", \"max_length\": 101}", 400, "invalid_max_length", "1 to 100");
    expect_error("{\"text\": \"a\", \"max_length\": 2.5}", 400, "invalid_max_length", "integer");
    expect_error("{\"text\": \"a\", \"max_length\": \"7\"}", 400, "invalid_max_length", "integer");
    expect_error("{\"text\": \"\xff\xfe\"}", 400, "invalid_utf8", "not valid UTF-8");
    expect_error("{\"text\": \"\xed\xa0\x80\"}", 400, "invalid_utf8", "not valid UTF-8"); /* a surrogate */
    expect_error("{\"text\": \"a\", \"source\": 3}", 400, "invalid_request", "\"source\" must be a string");
    expect_error("{\"text\": \"a\", \"target\": \"abcdefghijklmnopqrstuvwxyzabcdefg\"}", 400, "invalid_request",
                 "at most 31 bytes");
    expect_error("{\"text\": \"a\", \"model\": [\"m\"]}", 400, "invalid_request", "\"model\" must be a string");
}
END_TEST

/* source, target and model are kept as sent (routing is model_set.c's). */
START_TEST(test_routing_fields)
{
    nmt_api_request req;
    nmt_api_error e;
    const char *body = "{\"text\": \"a\", \"source\": \"EN\", \"target\": \"fra\", \"model\": \"opus-mt-en-roa\"}";
    ck_assert_int_eq(nmt_api_parse_translate(body, strlen(body), &limits, &req, &e), 0);
    ck_assert_str_eq(req.source, "EN");
    ck_assert_str_eq(req.target, "fra");
    ck_assert_str_eq(req.model, "opus-mt-en-roa");
    nmt_api_request_free(&req);
    body = "{\"text\": \"a\", \"source\": null}";
    ck_assert_int_eq(nmt_api_parse_translate(body, strlen(body), &limits, &req, &e), 0);
    ck_assert_str_eq(req.source, "");
    ck_assert_str_eq(req.model, "");
    nmt_api_request_free(&req);
}
END_TEST

/* Bodies cJSON alone would accept or cut short (json_check.c refuses them). */
START_TEST(test_strict_json_and_nul)
{
    nmt_api_request req;
    nmt_api_error e;
    const char nul_inside[] = "{\"text\": \"three hundred\\u0000 forty two\"}";
    ck_assert_int_eq(nmt_api_parse_translate(nul_inside, strlen(nul_inside), &limits, &req, &e), -1);
    ck_assert_int_eq(e.status, 400);
    ck_assert_str_eq(e.code, "invalid_text");
    expect_error("{\"text\": [\"a\", \"\\u0000\"]}", 400, "invalid_text", "U+0000");
    expect_error("{\"text\\u0000x\": \"a\"}", 400, "invalid_json", "object key");
    const char raw_nul[] = "{\"text\": \"a\0b\"}"; /* strlen would stop at the NUL: pass the length */
    ck_assert_int_eq(nmt_api_parse_translate(raw_nul, sizeof raw_nul - 1, &limits, &req, &e), -1);
    ck_assert_str_eq(e.code, "invalid_json");
    ck_assert_msg(strstr(e.message, "control character"), "%s", e.message);
    expect_error("{\"text\": \"a\nb\"}", 400, "invalid_json", "control character");
    expect_error("{\"text\": \"a\", \"text\": \"b\"}", 400, "invalid_json", "duplicate key \"text\"");
    expect_error("{\"text\": \"a\", \"t\\u0065xt\": \"b\"}", 400, "invalid_json", "duplicate key");
    expect_error("{\"text\": \"a\", \"max_length\": 07}", 400, "invalid_json", "leading zero");
    expect_error("{\"text\": \"\\ud800\"}", 400, "invalid_json", "surrogate");
    expect_error("\xef\xbb\xbf{\"text\": \"a\"}", 400, "invalid_json", "byte 0"); /* a BOM */
    /* an escaped control character other than NUL is text */
    const char ctl[] = "{\"text\": \"a\\u0001\"}";
    ck_assert_int_eq(nmt_api_parse_translate(ctl, strlen(ctl), &limits, &req, &e), 0);
    ck_assert_int_eq(req.lens[0], 2);
    nmt_api_request_free(&req);
}
END_TEST

START_TEST(test_character_count_is_code_points)
{
    nmt_api_request req;
    nmt_api_error e;
    const char *ten = "{\"text\": \"ääääääääää\"}"; /* 10 characters, 20 bytes */
    ck_assert_int_eq(nmt_api_parse_translate(ten, strlen(ten), &limits, &req, &e), 0);
    nmt_api_request_free(&req);
}
END_TEST

START_TEST(test_utf8_validation)
{
    ck_assert(nmt_utf8_valid("plain", 5));
    ck_assert(nmt_utf8_valid("\xc3\xa4\xe2\x82\xac\xf0\x9f\x98\x80", 9)); /* ä € 😀 */
    ck_assert(!nmt_utf8_valid("\xc0\xaf", 2));                             /* overlong */
    ck_assert(!nmt_utf8_valid("\xe2\x82", 2));                             /* truncated */
    ck_assert(!nmt_utf8_valid("\xf4\x90\x80\x80", 4));                     /* > U+10FFFF */
    ck_assert(!nmt_utf8_valid("\x80", 1));                                 /* stray continuation */
    ck_assert_int_eq(nmt_utf8_length("\xc3\xa4x\xf0\x9f\x98\x80", 7), 3);
}
END_TEST

START_TEST(test_error_body)
{
    char *body = nmt_api_error_body("queue_full", "try \"later\"");
    cJSON *root = cJSON_Parse(body);
    ck_assert_ptr_nonnull(root);
    cJSON *err = cJSON_GetObjectItem(root, "error");
    ck_assert_str_eq(cJSON_GetObjectItem(err, "code")->valuestring, "queue_full");
    ck_assert_str_eq(cJSON_GetObjectItem(err, "message")->valuestring, "try \"later\"");
    cJSON_Delete(root);
    free(body);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("api");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_single_and_list);
    tcase_add_test(tc, test_bad_requests);
    tcase_add_test(tc, test_routing_fields);
    tcase_add_test(tc, test_strict_json_and_nul);
    tcase_add_test(tc, test_character_count_is_code_points);
    tcase_add_test(tc, test_utf8_validation);
    tcase_add_test(tc, test_error_body);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
