/* check_api_keys.c: the keys file (comments, blank lines, CRLF, every bad
 * line named by file:line, a file without keys) and the check (exact keys
 * only: no prefix, no extension, no empty key). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api_keys.h"
#include "testutil.h"

static char *write_file(const char *text)
{
    char *path = strdup("/tmp/nmtd-keys-XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

START_TEST(test_load_and_accept)
{
    char *path = write_file("# keys for the frontends\n\n  weblate-0123456789  \r\nmastodon-secret-key\r\n# end\n");
    nmt_api_keys *keys = NULL;
    nmt_err err;
    ck_assert_int_eq(nmt_api_keys_load(&keys, path, &err), NMT_OK);
    ck_assert_int_eq(nmt_api_keys_count(keys), 2);
    ck_assert(nmt_api_keys_accept(keys, "weblate-0123456789", 18));
    ck_assert(nmt_api_keys_accept(keys, "mastodon-secret-key", 19));
    ck_assert(!nmt_api_keys_accept(keys, "weblate-012345678", 17));   /* a prefix */
    ck_assert(!nmt_api_keys_accept(keys, "weblate-0123456789x", 19)); /* longer */
    ck_assert(!nmt_api_keys_accept(keys, "WEBLATE-0123456789", 18));  /* case matters */
    ck_assert(!nmt_api_keys_accept(keys, "", 0));
    ck_assert(!nmt_api_keys_accept(keys, NULL, 0));
    ck_assert(!nmt_api_keys_accept(NULL, "weblate-0123456789", 18));
    nmt_api_keys_free(keys);
    unlink(path);
    free(path);
}
END_TEST

START_TEST(test_bad_files)
{
    static const struct { const char *text, *needle; } cases[] = {
        {"good-key-123\nhas space inside\n", ":2: a key may hold printable ASCII"},
        {"short\n", ":1: a key is 8 to 127 characters long (this one: 5)"},
        {"k\xc3\xa4y-non-ascii\n", ":1: a key may hold printable ASCII"},
        {"# only comments\n\n", "no keys"},
        {"", "no keys"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *path = write_file(cases[i].text);
        nmt_api_keys *keys = NULL;
        nmt_err err;
        ck_assert_int_eq(nmt_api_keys_load(&keys, path, &err), NMT_ERR_INVALID);
        ck_assert_ptr_null(keys);
        ck_assert_msg(strstr(err.msg, path) != NULL && strstr(err.msg, cases[i].needle) != NULL, "case %zu: %s", i,
                      err.msg);
        unlink(path);
        free(path);
    }
    char *long_key = malloc(200);
    memset(long_key, 'k', 128);
    strcpy(long_key + 128, "\n");
    char *path = write_file(long_key);
    nmt_api_keys *keys = NULL;
    nmt_err err;
    ck_assert_int_eq(nmt_api_keys_load(&keys, path, &err), NMT_ERR_INVALID);
    ck_assert_msg(strstr(err.msg, "(this one: 128)") != NULL, "%s", err.msg);
    unlink(path);
    free(path);
    free(long_key);
    ck_assert_int_ne(nmt_api_keys_load(&keys, "/nonexistent/keys", &err), NMT_OK);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("api_keys");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_load_and_accept);
    tcase_add_test(tc, test_bad_files);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
