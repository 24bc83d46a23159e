/* check_json_check.c: the strict RFC 8259 checker, case by case: what JSON
 * allows passes, what it forbids (and what cJSON would let through) fails
 * with the right verdict and offset; duplicate keys on the parsed tree. */
#include <check.h>
#include <cJSON.h>
#include <string.h>

#include "json_check.h"
#include "testutil.h"

static nmt_json_verdict verdict(const char *s, size_t len, size_t *offset)
{
    nmt_json_problem p;
    nmt_json_verdict v = nmt_json_check(s, len, 8, &p);
    ck_assert_int_eq(v, p.verdict);
    if (v != NMT_JSON_OK)
        ck_assert_ptr_nonnull(p.what);
    if (offset)
        *offset = p.offset;
    return v;
}
#define V(lit) verdict(lit, sizeof lit - 1, NULL)

START_TEST(test_valid)
{
    const char *good[] = {
        "{}", "[]", " {\"a\": [1, -0, 0.5, 1e9, -2.5E-3, true, false, null, \"x\"]} \r\n", "\"\"", "0", "-12",
        "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e4\\ud83d\\ude00\"", "{\"a\":{\"b\":{\"c\":[[[]]]}}}", "\"\xc3\xa4\"",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        ck_assert_msg(verdict(good[i], strlen(good[i]), NULL) == NMT_JSON_OK, "%s", good[i]);
}
END_TEST

START_TEST(test_malformed)
{
    const char *bad[] = {
        "", " ", "{", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "01", "-", "1.", ".5", "+1", "1e", "1e+",
        "tru", "nul", "NaN", "\"abc", "\"\\x\"", "\"\\u12g4\"", "\"\\udc00\"", "\"\\ud800x\"", "[1] 2",
        "'a'", "\"a\tb\"", "\"a\nb\"", "{\"a\":1}}", "[1 2]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(verdict(bad[i], strlen(bad[i]), NULL) == NMT_JSON_MALFORMED, "'%s' passed", bad[i]);
    ck_assert_int_eq(V("\"a\0b\""), NMT_JSON_MALFORMED); /* a raw NUL byte */
    ck_assert_int_eq(V("{} \0"), NMT_JSON_MALFORMED);    /* after the value */
}
END_TEST

START_TEST(test_nul_and_offsets)
{
    size_t at = 0;
    const char value[] = "{\"text\": \"ab\\u0000c\"}";
    ck_assert_int_eq(verdict(value, sizeof value - 1, &at), NMT_JSON_NUL_IN_VALUE);
    ck_assert_int_eq(at, 12); /* the backslash of \u0000 */
    const char key[] = "{\"te\\u0000xt\": 1}";
    ck_assert_int_eq(verdict(key, sizeof key - 1, &at), NMT_JSON_NUL_IN_KEY);
    ck_assert_int_eq(V("[\"\\u0000\"]"), NMT_JSON_NUL_IN_VALUE);
    const char lead[] = "{\"a\": 012}";
    ck_assert_int_eq(verdict(lead, sizeof lead - 1, &at), NMT_JSON_MALFORMED);
    ck_assert_int_eq(at, 7);
}
END_TEST

START_TEST(test_depth)
{
    ck_assert_int_eq(V("[[[[[[[[[1]]]]]]]]]"), NMT_JSON_TOO_DEEP); /* 9 deep, limit 8 */
    ck_assert_int_eq(V("[[[[[[[[1]]]]]]]]"), NMT_JSON_OK);
    char deep[200001];
    memset(deep, '[', sizeof deep - 1);
    deep[sizeof deep - 1] = '\0';
    nmt_json_problem p;
    ck_assert_int_eq(nmt_json_check(deep, strlen(deep), 32, &p), NMT_JSON_TOO_DEEP); /* no stack overflow */
}
END_TEST

START_TEST(test_duplicate_keys)
{
    const char *key = NULL;
    cJSON *t = cJSON_Parse("{\"a\": 1, \"b\": {\"x\": 1, \"y\": 2}, \"c\": [{\"k\": 1, \"k\": 2}]}");
    ck_assert_int_eq(nmt_json_duplicate_key(t, &key), 1);
    ck_assert_str_eq(key, "k");
    cJSON_Delete(t);
    t = cJSON_Parse("{\"a\": 1, \"b\": {\"a\": 1}, \"c\": [{\"a\": 1}, {\"a\": 2}]}");
    ck_assert_int_eq(nmt_json_duplicate_key(t, &key), 0); /* the same key in different objects is fine */
    cJSON_Delete(t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("json_check");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_valid);
    tcase_add_test(tc, test_malformed);
    tcase_add_test(tc, test_nul_and_offsets);
    tcase_add_test(tc, test_depth);
    tcase_add_test(tc, test_duplicate_keys);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
