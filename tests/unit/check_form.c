/* check_form.c: urlencoded and multipart/form-data bodies as browsers, curl
 * and Python's requests send them; every malformed kind refused with a
 * message. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "form.h"
#include "testutil.h"

static nmt_form *new_form(void) { return calloc(1, sizeof(nmt_form)); }

static void free_form(nmt_form *f)
{
    nmt_form_free(f);
    free(f);
}

START_TEST(test_urlencoded)
{
    nmt_form *f = new_form();
    char err[160];
    const char *body = "q=Hello+world%21%20%C3%A4&&source=en&target=de&empty=&flag&q=again";
    ck_assert_int_eq(nmt_form_parse_urlencoded(f, body, strlen(body), err, sizeof err), 0);
    ck_assert_int_eq(f->n, 6);
    int count = 0;
    const nmt_form_field *q = nmt_form_get(f, "q", &count);
    ck_assert_int_eq(count, 2);
    ck_assert_str_eq(q->value, "Hello world! \xc3\xa4");
    ck_assert_int_eq(q->value_len, strlen("Hello world! \xc3\xa4"));
    ck_assert_str_eq(nmt_form_get(f, "target", NULL)->value, "de");
    ck_assert_str_eq(nmt_form_get(f, "empty", NULL)->value, "");
    ck_assert_str_eq(nmt_form_get(f, "flag", NULL)->value, "");
    ck_assert_ptr_null(nmt_form_get(f, "absent", &count));
    ck_assert_int_eq(count, 0);
    free_form(f);

    /* %00 decodes to a NUL byte inside the value: kept, with its length */
    f = new_form();
    ck_assert_int_eq(nmt_form_parse_urlencoded(f, "q=a%00b", 7, err, sizeof err), 0);
    ck_assert_int_eq(f->fields[0].value_len, 3);
    ck_assert_int_eq(f->fields[0].value[1], '\0');
    free_form(f);

    const char *bad[] = {"q=%", "q=%4", "q=%zz", "%g1=x", "q=100%"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        f = new_form();
        ck_assert_msg(nmt_form_parse_urlencoded(f, bad[i], strlen(bad[i]), err, sizeof err) == -1, "%s", bad[i]);
        ck_assert_msg(strstr(err, "escape") != NULL, "%s: %s", bad[i], err);
        free_form(f);
    }
}
END_TEST

START_TEST(test_too_many_fields)
{
    char *body = malloc(4 * (NMT_FORM_MAX_FIELDS + 1) + 1);
    size_t len = 0;
    for (int i = 0; i <= NMT_FORM_MAX_FIELDS; i++)
        len += (size_t)sprintf(body + len, "a=1&");
    nmt_form *f = new_form();
    char err[160];
    ck_assert_int_eq(nmt_form_parse_urlencoded(f, body, len, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "fields") != NULL, "%s", err);
    ck_assert_int_eq(f->n, NMT_FORM_MAX_FIELDS);
    free_form(f);
    free(body);
}
END_TEST

#define CRLF "\r\n"

START_TEST(test_multipart)
{
    /* as curl -F writes it, with a preamble, a file part and a quoted boundary */
    const char *body = "preamble to ignore" CRLF "--b0undary" CRLF
                       "Content-Disposition: form-data; name=\"q\"" CRLF CRLF
                       "Hello" CRLF "world" CRLF "--b0undary" CRLF
                       "content-disposition: form-data; name=source" CRLF "Content-Type: text/plain" CRLF CRLF
                       "auto" CRLF "--b0undary" CRLF
                       "Content-Disposition: form-data; name=\"file\"; filename=\"a.txt\"" CRLF CRLF
                       "--b0undar not quite" CRLF "--b0undary--" CRLF "epilogue";
    const char *types[] = {"multipart/form-data; boundary=b0undary", "multipart/form-data; charset=utf-8; boundary=\"b0undary\""};
    for (int t = 0; t < 2; t++) {
        nmt_form *f = new_form();
        char err[160];
        ck_assert_msg(nmt_form_parse_multipart(f, types[t], body, strlen(body), err, sizeof err) == 0, "%s", err);
        ck_assert_int_eq(f->n, 3);
        ck_assert_str_eq(nmt_form_get(f, "q", NULL)->value, "Hello" CRLF "world");
        ck_assert_str_eq(nmt_form_get(f, "source", NULL)->value, "auto");
        ck_assert_str_eq(nmt_form_get(f, "file", NULL)->value, "--b0undar not quite");
        free_form(f);
    }
}
END_TEST

START_TEST(test_multipart_malformed)
{
    const char *type = "multipart/form-data; boundary=XyZ";
    static const struct { const char *type, *body, *needle; } cases[] = {
        {"multipart/form-data", "--XyZ--", "boundary"},
        {"multipart/form-data; boundary=", "--XyZ--", "boundary"},
        {NULL, "no delimiter at all", "delimiter"},
        {NULL, "--XyZ" CRLF "Content-Disposition: form-data; name=\"q\"" CRLF CRLF "never closed", "closing"},
        {NULL, "--XyZ" CRLF "Content-Type: text/plain" CRLF CRLF "x" CRLF "--XyZ--", "name"},
        {NULL, "--XyZ" CRLF "Content-Disposition: attachment; name=\"q\"" CRLF CRLF "x" CRLF "--XyZ--", "form-data"},
        {NULL, "--XyZ" CRLF "Content-Disposition: form-data; name=\"q" CRLF CRLF "x" CRLF "--XyZ--", "name"},
        {NULL, "--XyZ" CRLF "Content-Disposition: form-data; name=\"q\"", "headers"},
        {NULL, "--XyZgarbage" CRLF, "line break"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        nmt_form *f = new_form();
        char err[160] = "";
        const char *b = cases[i].body;
        ck_assert_msg(nmt_form_parse_multipart(f, cases[i].type ? cases[i].type : type, b, strlen(b), err,
                                               sizeof err) == -1,
                      "case %zu accepted", i);
        ck_assert_msg(strstr(err, cases[i].needle) != NULL, "case %zu: '%s' lacks '%s'", i, err, cases[i].needle);
        free_form(f);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("form");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_urlencoded);
    tcase_add_test(tc, test_too_many_fields);
    tcase_add_test(tc, test_multipart);
    tcase_add_test(tc, test_multipart_malformed);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
