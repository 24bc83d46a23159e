/* check_config.c: the directive table through its three doors (defaults,
 * file, flags): values, bounds, every error class with its file:line
 * message, precedence of flags over the file, and the shipped
 * conf/nmtd.conf, whose commented-out defaults must be the real ones. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "nmt_config.h"
#include "testutil.h"

static char *dir;

static void setup(void) { dir = tu_tmpdir(); }

static void teardown(void)
{
    tu_rmtree(dir);
    free(dir);
}

/* Writes text as dir/name and returns its path (static buffer). */
static const char *write_conf(const char *name, const char *text)
{
    static char path[4096];
    tu_write_file(dir, name, text, strlen(text));
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

/* Loads text (as file "t.conf") over the defaults. */
static nmt_code load_text(nmt_config *c, const char *text, nmt_err *err)
{
    nmt_config_defaults(c);
    memset(err, 0, sizeof *err);
    return nmt_config_load_file(c, write_conf("t.conf", text), err);
}

/* The error message of loading text, which must fail with NMT_ERR_INVALID. */
static const char *load_error(const char *text)
{
    static nmt_err err;
    nmt_config c;
    nmt_code rc = load_text(&c, text, &err);
    ck_assert_msg(rc == NMT_ERR_INVALID, "expected NMT_ERR_INVALID for [%s], got %d (%s)", text, rc, err.msg);
    return err.msg;
}

/* Asserts that msg ends with "t.conf:<line>: <reason...>" and contains want. */
static void assert_file_error(const char *msg, int line, const char *want)
{
    char where[64];
    snprintf(where, sizeof where, "t.conf:%d: ", line);
    ck_assert_msg(strstr(msg, where) != NULL, "'%s' does not name %s", msg, where);
    ck_assert_msg(strstr(msg, want) != NULL, "'%s' does not contain '%s'", msg, want);
}

static char *dump(const nmt_config *c)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(f);
    nmt_config_dump(c, f);
    fclose(f);
    return buf;
}

static void assert_same(const nmt_config *a, const nmt_config *b)
{
    char *da = dump(a), *db = dump(b);
    ck_assert_str_eq(da, db);
    free(da);
    free(db);
}

/* Parses a NULL-terminated argument list (argv[0] = "nmtd"). */
static nmt_code parse(nmt_config *c, nmt_config_action *action, nmt_err *err, const char **args)
{
    char *argv[64];
    int argc = 0;
    argv[argc++] = (char *)"nmtd";
    for (; *args; args++)
        argv[argc++] = (char *)*args;
    argv[argc] = NULL;
    nmt_config_defaults(c);
    memset(err, 0, sizeof *err);
    return nmt_config_parse_args(c, argc, argv, action, err);
}

#define PARSE(c, action, err, ...) parse(c, action, err, (const char *[]){__VA_ARGS__, NULL})

START_TEST(test_defaults)
{
    nmt_config c;
    nmt_config_defaults(&c);
    ck_assert_str_eq(c.model.items[c.model.n - 1], "models/en-de-demo");
    ck_assert_str_eq(c.listen_address, "127.0.0.1");
    ck_assert_int_eq(c.port, 8080);
    ck_assert_int_eq(c.workers, 2);
    ck_assert_int_eq(c.blas_threads, 1);
    ck_assert_int_eq(c.max_batch_sentences, 32);
    ck_assert_int_eq(c.max_batch_tokens, 4096);
    ck_assert_int_eq(c.max_wait_ms, 5);
    ck_assert_int_eq(c.queue_capacity, 2048);
    ck_assert_int_eq(c.request_timeout_ms, 30000);
    ck_assert_int_eq(c.max_sentences_per_request, 128);
    ck_assert_int_eq(c.max_chars_per_text, 100000);
    ck_assert_int_eq(c.max_segments_per_request, 1024);
    ck_assert_int_eq(c.newline, NMT_NEWLINE_SPLIT);
    ck_assert_str_eq(c.source_language, "");
    ck_assert_int_eq(c.max_body_bytes, 1048576);
    ck_assert_int_eq(c.max_length_limit, 512);
    ck_assert_int_eq(c.http_threads, 2);
    ck_assert_int_eq(c.connection_limit, 1024);
    ck_assert_int_eq(c.connection_timeout_s, 30);
    ck_assert_int_eq(c.log_level, NMT_LOG_INFO);
    ck_assert_int_eq(c.access_log, 1);
    ck_assert_int_eq(c.shutdown_grace_ms, 30000);
    ck_assert_int_eq(c.retry_after_s, 1);
    ck_assert_int_eq(c.compute_type, NMT_COMPUTE_FLOAT32); /* the reference's tokens unless asked */
    ck_assert_int_eq(c.model_compute_types.n, 0);
    nmt_config_free(&c);
    nmt_config_free(NULL);
}
END_TEST

/* compute_type and model_compute_types: each model's type, entries checked
 * at parse time with file:line. */
START_TEST(test_compute_types)
{
    nmt_config c;
    nmt_err err;
    ck_assert_int_eq(load_text(&c,
                               "compute_type = auto\n"
                               "model_compute_types = opus-mt-en-de=int8\n"
                               "model_compute_types = a=b=BFloat16\n"
                               "model_compute_types = exact=float32\n",
                               &err),
                     NMT_OK);
    ck_assert_int_eq(c.model_compute_types.n, 3);
    ck_assert_int_eq(nmt_config_compute_for(&c, "opus-mt-en-de"), NMT_COMPUTE_INT8);
    ck_assert_int_eq(nmt_config_compute_for(&c, "a=b"), NMT_COMPUTE_BFLOAT16); /* NAME is up to the last '=' */
    ck_assert_int_eq(nmt_config_compute_for(&c, "exact"), NMT_COMPUTE_FLOAT32);
    ck_assert_int_eq(nmt_config_compute_for(&c, "opus-mt-en"), NMT_COMPUTE_AUTO); /* a prefix is not the name */
    ck_assert_int_eq(nmt_config_compute_for(&c, "opus-mt-en-de2"), NMT_COMPUTE_AUTO);
    size_t len = 0;
    int t = 99;
    ck_assert_int_eq(nmt_config_named_compute("x=auto", &len, &t), NMT_OK);
    ck_assert_int_eq((int)len, 1);
    ck_assert_int_eq(t, NMT_COMPUTE_AUTO);
    const char *bad[] = {"opus-mt-en-de", "=int8", "m=int4", "m=", "m=int8 "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(nmt_config_named_compute(bad[i], NULL, NULL), NMT_ERR_INVALID);
        char text[128];
        snprintf(text, sizeof text, "port = 1\nmodel_compute_types = \"%s\"\n", bad[i]);
        assert_file_error(load_error(text), 2, "is not NAME=TYPE");
    }
    assert_file_error(load_error("compute_type = int4\n"), 1, "is not auto, float32, int8 or bfloat16");
    /* the flags replace the file's entries */
    const char *conf = write_conf("f.conf", "model_compute_types = a=int8\nmodel_compute_types = b=int8\n");
    char *argv[] = {"nmtd", "--config", (char *)conf, "--model-compute-types", "c=bfloat16", NULL};
    nmt_config_action action;
    nmt_config_defaults(&c);
    ck_assert_int_eq(nmt_config_parse_args(&c, 5, argv, &action, &err), NMT_OK);
    ck_assert_int_eq(c.model_compute_types.n, 1);
    ck_assert_int_eq(nmt_config_compute_for(&c, "a"), NMT_COMPUTE_FLOAT32);
    ck_assert_int_eq(nmt_config_compute_for(&c, "c"), NMT_COMPUTE_BFLOAT16);
}
END_TEST

START_TEST(test_full_file)
{
    nmt_config c;
    nmt_err err;
    const char *text = "# every key, non-default values\n"
                       "\n"
                       "model = /srv/models/opus-mt-en-de\n"
                       "listen_address = ::1\n"
                       "port = 9001\n"
                       "workers = 4\n"
                       "blas_threads = 2\n"
                       "max_batch_sentences = 64\n"
                       "max_batch_tokens = 8192\n"
                       "max_wait_ms = 0\n"
                       "queue_capacity = 100\n"
                       "request_timeout_ms = 1000\n"
                       "max_sentences_per_request = 10\n"
                       "max_chars_per_text = 300\n"
                       "max_segments_per_request = 77\n"
                       "newline = join\n"
                       "source_language = de\n"
                       "max_body_bytes = 65536\n"
                       "max_length_limit = 256\n"
                       "http_threads = 1\n"
                       "connection_limit = 50\n"
                       "connection_timeout_s = 5\n"
                       "log_level = debug\n"
                       "access_log = no\n"
                       "shutdown_grace_ms = 0\n"
                       "retry_after_s = 7\n";
    ck_assert_msg(load_text(&c, text, &err) == NMT_OK, "%s", err.msg);
    ck_assert_str_eq(c.model.items[c.model.n - 1], "/srv/models/opus-mt-en-de");
    ck_assert_str_eq(c.listen_address, "::1");
    ck_assert_int_eq(c.port, 9001);
    ck_assert_int_eq(c.workers, 4);
    ck_assert_int_eq(c.blas_threads, 2);
    ck_assert_int_eq(c.max_batch_sentences, 64);
    ck_assert_int_eq(c.max_batch_tokens, 8192);
    ck_assert_int_eq(c.max_wait_ms, 0);
    ck_assert_int_eq(c.queue_capacity, 100);
    ck_assert_int_eq(c.request_timeout_ms, 1000);
    ck_assert_int_eq(c.max_sentences_per_request, 10);
    ck_assert_int_eq(c.max_chars_per_text, 300);
    ck_assert_int_eq(c.max_segments_per_request, 77);
    ck_assert_int_eq(c.newline, NMT_NEWLINE_JOIN);
    ck_assert_str_eq(c.source_language, "de");
    ck_assert_int_eq(nmt_config_set(&c, "newline", "sometimes", &err), NMT_ERR_INVALID);
    ck_assert_int_eq(nmt_config_set(&c, "source_language", "de;rm", &err), NMT_ERR_INVALID);
    ck_assert_int_eq(c.max_body_bytes, 65536);
    ck_assert_int_eq(c.max_length_limit, 256);
    ck_assert_int_eq(c.http_threads, 1);
    ck_assert_int_eq(c.connection_limit, 50);
    ck_assert_int_eq(c.connection_timeout_s, 5);
    ck_assert_int_eq(c.log_level, NMT_LOG_DEBUG);
    ck_assert_int_eq(c.access_log, 0);
    ck_assert_int_eq(c.shutdown_grace_ms, 0);
    ck_assert_int_eq(c.retry_after_s, 7);

    /* dump writes a file that reads back to the same configuration */
    char *text2 = dump(&c);
    nmt_config c2;
    ck_assert_msg(load_text(&c2, text2, &err) == NMT_OK, "%s", err.msg);
    assert_same(&c, &c2);
    free(text2);
}
END_TEST

/* model and model_languages may be given several times: the file's lines
 * add up and replace the default, the flags replace the file's, "" clears */
START_TEST(test_lists)
{
    nmt_config c;
    nmt_err err;
    nmt_config_defaults(&c);
    ck_assert_int_eq(c.model.n, 1);
    ck_assert_int_eq(c.model_languages.n, 0);
    ck_assert_msg(load_text(&c, "model = /a\nmodel_languages = a=en-de\nmodel = /b\n", &err) == NMT_OK, "%s",
                  err.msg);
    ck_assert_int_eq(c.model.n, 2);
    ck_assert_str_eq(c.model.items[0], "/a");
    ck_assert_str_eq(c.model.items[1], "/b");
    ck_assert_str_eq(c.model_languages.items[0], "a=en-de");
    /* --check-config's dump reads back to the same lists */
    nmt_config again;
    nmt_config_defaults(&again);
    char *text = dump(&c);
    ck_assert_msg(load_text(&again, text, &err) == NMT_OK, "%s", err.msg);
    free(text);
    assert_same(&c, &again);
    /* the flags replace the file's entries, then add up */
    ck_assert(nmt_config_set(&c, "model", "/c", &err) == NMT_OK);
    ck_assert(nmt_config_set(&c, "model", "/d", &err) == NMT_OK);
    ck_assert_int_eq(c.model.n, 2);
    ck_assert_str_eq(c.model.items[0], "/c");
    ck_assert_str_eq(c.model.items[1], "/d");
    ck_assert(nmt_config_set(&c, "model", "", &err) == NMT_OK);
    ck_assert_int_eq(c.model.n, 0);
    /* at most NMT_CONFIG_LIST_MAX entries */
    for (int i = 0; i < NMT_CONFIG_LIST_MAX; i++)
        ck_assert(nmt_config_set(&c, "model", "/m", &err) == NMT_OK);
    ck_assert_int_eq(nmt_config_set(&c, "model", "/m", &err), NMT_ERR_INVALID);
    ck_assert_msg(strstr(err.msg, "more than 16 entries") != NULL, "%s", err.msg);
    /* other keys still may not repeat */
    nmt_config_defaults(&c);
    ck_assert_int_eq(load_text(&c, "pivot_language = en\npivot_language = de\n", &err), NMT_ERR_INVALID);
}
END_TEST

START_TEST(test_syntax)
{
    nmt_config c;
    nmt_err err;
    /* whitespace, CRLF, indented comments, trailing comments, '#' inside a value */
    ck_assert_msg(load_text(&c,
                            "   # indented comment\r\n"
                            "\t port\t=\t9000   # trailing comment\r\n"
                            "model = dir#1   # '#' not after whitespace stays\n"
                            "workers=3\n"
                            "log_level = warn\t#tab before the comment\n"
                            "\n   \n",
                            &err) == NMT_OK,
                  "%s", err.msg);
    ck_assert_int_eq(c.port, 9000);
    ck_assert_str_eq(c.model.items[c.model.n - 1], "dir#1");
    ck_assert_int_eq(c.workers, 3);
    ck_assert_int_eq(c.log_level, NMT_LOG_WARN);

    /* quoted values keep spaces and '#', unescape \" and \\ */
    ck_assert_msg(load_text(&c,
                            "model = \" my models/#1 \"  # comment\n"
                            "listen_address = \"0.0.0.0\"\n"
                            "port = \"8081\"\n",
                            &err) == NMT_OK,
                  "%s", err.msg);
    ck_assert_str_eq(c.model.items[c.model.n - 1], " my models/#1 ");
    ck_assert_str_eq(c.listen_address, "0.0.0.0");
    ck_assert_int_eq(c.port, 8081);
    ck_assert_msg(load_text(&c, "model = \"a\\\"b\\\\c\\d\"\n", &err) == NMT_OK, "%s", err.msg);
    ck_assert_str_eq(c.model.items[c.model.n - 1], "a\"b\\c\\d");

    /* an empty file and a comments-only file are the defaults */
    nmt_config d;
    nmt_config_defaults(&d);
    ck_assert_int_eq(load_text(&c, "", &err), NMT_OK);
    assert_same(&c, &d);
    ck_assert_int_eq(load_text(&c, "# nothing\n# port = 1\n", &err), NMT_OK);
    assert_same(&c, &d);

    /* keys accept '-' for '_' in the file as well */
    ck_assert_msg(load_text(&c, "max-wait-ms = 9\n", &err) == NMT_OK, "%s", err.msg);
    ck_assert_int_eq(c.max_wait_ms, 9);
}
END_TEST

START_TEST(test_file_errors)
{
    assert_file_error(load_error("port = 1\nmax_batch = 3\n"), 2, "unknown key 'max_batch'");
    assert_file_error(load_error("\n\n\nport = abc\n"), 4, "port: 'abc' is not an integer");
    assert_file_error(load_error("port = 70000\n"), 1, "port: 70000 is out of range (0..65535)");
    assert_file_error(load_error("port = 8080x\n"), 1, "not an integer");
    assert_file_error(load_error("port = 1\nworkers = 2\nport = 3\n"), 3,
                      "duplicate key 'port' (first set on line 1)");
    assert_file_error(load_error("port = 1\nmax-wait-ms = 3\nmax_wait_ms = 4\n"), 3, "duplicate key 'max_wait_ms'");
    assert_file_error(load_error("# c\nport 8080\n"), 2, "missing '='");
    assert_file_error(load_error("= 3\n"), 1, "missing key");
    assert_file_error(load_error("port =\n"), 1, "missing value for 'port'");
    assert_file_error(load_error("port = # nothing\n"), 1, "missing value for 'port'");
    assert_file_error(load_error("model = \"abc\n"), 1, "unterminated quoted value");
    assert_file_error(load_error("model = \"abc\" def\n"), 1, "after the closing quote");
    assert_file_error(load_error("listen_address = localhost\n"), 1, "listen_address: 'localhost' is not an IPv4");
    assert_file_error(load_error("listen_address = 1.2.3.256\n"), 1, "not an IPv4 or IPv6");
    assert_file_error(load_error("access_log = maybe\n"), 1, "access_log: 'maybe' is not a boolean");
    assert_file_error(load_error("log_level = loud\n"), 1, "log_level: 'loud' is not a log level");

    /* the message starts with the path as given */
    nmt_config c;
    nmt_err err;
    nmt_config_defaults(&c);
    const char *path = write_conf("nmtd.conf", "port = 1\n\nmax_batch = 3\n");
    ck_assert_int_eq(nmt_config_load_file(&c, path, &err), NMT_ERR_INVALID);
    char want[4200];
    snprintf(want, sizeof want,
             "%s:3: unknown key 'max_batch' (did you mean max_batch_sentences or max_batch_tokens?)", path);
    ck_assert_str_eq(err.msg, want);

    /* a missing file is an I/O error naming the file */
    char missing[4200];
    snprintf(missing, sizeof missing, "%s/no-such.conf", dir);
    ck_assert_int_eq(nmt_config_load_file(&c, missing, &err), NMT_ERR_IO);
    ck_assert_ptr_nonnull(strstr(err.msg, missing));
}
END_TEST

/* Loads len bytes (NULs allowed) as file "t.conf"; the message of the error. */
static const char *load_bytes_error(const char *bytes, size_t len, nmt_code want)
{
    static nmt_err err;
    nmt_config c;
    nmt_config_defaults(&c);
    tu_write_file(dir, "t.conf", bytes, len);
    char path[4200];
    snprintf(path, sizeof path, "%s/t.conf", dir);
    nmt_code rc = nmt_config_load_file(&c, path, &err);
    ck_assert_msg(rc == want, "expected %d, got %d (%s)", want, rc, err.msg);
    /* the buffer entry point says the same, with its own name */
    nmt_err berr;
    nmt_config b;
    nmt_config_defaults(&b);
    ck_assert_int_eq(nmt_config_load_buffer(&b, "t.conf", bytes, len, &berr), want);
    if (want != NMT_OK)
        ck_assert_msg(strstr(err.msg, berr.msg) != NULL, "file '%s' vs buffer '%s'", err.msg, berr.msg);
    else
        assert_same(&c, &b);
    return err.msg;
}

#define BYTES(lit) lit, sizeof lit - 1

START_TEST(test_nul_byte)
{
    /* every line after a NUL used to be ignored silently: now the NUL is an error at its line */
    const char *msg = load_bytes_error(BYTES("port = 1\nworkers = 2\nmax_wait_ms = 3\0\nport = 9\n"), NMT_ERR_INVALID);
    assert_file_error(msg, 3, "NUL byte at column 16 (a config file is text)");
    assert_file_error(load_bytes_error(BYTES("\0port = 1\n"), NMT_ERR_INVALID), 1, "NUL byte at column 1");
    assert_file_error(load_bytes_error(BYTES("port = 1\n# comment \0 here\n"), NMT_ERR_INVALID), 2, "column 11");
    assert_file_error(load_bytes_error(BYTES("model = \"a\0b\"\n"), NMT_ERR_INVALID), 1, "column 11");
    assert_file_error(load_bytes_error(BYTES("port = 1\n\n\0"), NMT_ERR_INVALID), 3, "column 1");
    /* before a bad line, the NUL is reported, wherever it is */
    assert_file_error(load_bytes_error(BYTES("bogus\nport = 1\0"), NMT_ERR_INVALID), 2, "NUL byte");

    /* the length decides where the file ends, not a terminator */
    load_bytes_error(BYTES("port = 1\r\nworkers = 3"), NMT_OK);
    load_bytes_error(BYTES(""), NMT_OK);
    load_bytes_error(BYTES("\n\n# only comments\n"), NMT_OK);
    nmt_config c;
    nmt_err err;
    nmt_config_defaults(&c);
    ck_assert_int_eq(nmt_config_load_buffer(&c, "mem", "port = 1234567", 9, &err), NMT_OK);
    ck_assert_int_eq(c.port, 12);
    ck_assert_int_eq(nmt_config_load_buffer(&c, "mem", "port = 7\nbogus", 8, &err), NMT_OK);
    ck_assert_int_eq(c.port, 7);
    ck_assert_int_eq(nmt_config_load_buffer(&c, "mem", "port = 7\nbogus", 14, &err), NMT_ERR_INVALID);
    ck_assert_str_eq(err.msg, "mem:2: missing '=' in 'bogus' (lines are key = value)");
}
END_TEST

START_TEST(test_did_you_mean)
{
    ck_assert_ptr_nonnull(strstr(load_error("workrs = 2\n"), "(did you mean workers?)"));
    ck_assert_ptr_nonnull(strstr(load_error("Port = 2\n"), "(did you mean port?)"));
    ck_assert_ptr_nonnull(strstr(load_error("listen_adress = ::\n"), "(did you mean listen_address?)"));
    ck_assert_ptr_nonnull(strstr(load_error("max_wait = 3\n"), "(did you mean max_wait_ms?)"));
    ck_assert_ptr_nonnull(strstr(load_error("listen = ::\n"), "(did you mean listen_address?)"));
    ck_assert_ptr_nonnull(strstr(load_error("threads = 2\n"), "(did you mean blas_threads or http_threads?)"));
    /* nothing close: no suggestion */
    const char *msg = load_error("colour = blue\n");
    ck_assert_ptr_nonnull(strstr(msg, "unknown key 'colour'"));
    ck_assert_ptr_null(strstr(msg, "did you mean"));

    nmt_config c;
    nmt_config_action action;
    nmt_err err;
    ck_assert_int_eq(PARSE(&c, &action, &err, "--max-batch", "3"), NMT_ERR_INVALID);
    ck_assert_str_eq(err.msg,
                     "unknown option '--max-batch' (did you mean --max-batch-sentences or --max-batch-tokens?)");
    ck_assert_int_eq(PARSE(&c, &action, &err, "--wokers=3"), NMT_ERR_INVALID);
    ck_assert_str_eq(err.msg, "unknown option '--wokers' (did you mean --workers?)");
}
END_TEST

START_TEST(test_bounds)
{
    static const struct {
        const char *key;
        int min, max;
    } keys[] = {
        {"port", 0, 65535},
        {"workers", 1, 64},
        {"blas_threads", 1, 64},
        {"max_batch_sentences", 1, 1024},
        {"max_batch_tokens", 16, 1048576},
        {"max_wait_ms", 0, 10000},
        {"queue_capacity", 1, 1000000},
        {"request_timeout_ms", 1, 3600000},
        {"max_sentences_per_request", 1, 100000},
        {"max_chars_per_text", 1, 100000000},
        {"max_segments_per_request", 1, 1000000},
        {"max_body_bytes", 64, 1073741824},
        {"max_length_limit", 1, 100000},
        {"http_threads", 1, 64},
        {"connection_limit", 1, 100000},
        {"connection_timeout_s", 1, 3600},
        {"shutdown_grace_ms", 0, 3600000},
        {"retry_after_s", 0, 3600},
    };
    nmt_config c;
    nmt_err err;
    char v[32];
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        nmt_config_defaults(&c);
        snprintf(v, sizeof v, "%d", keys[i].min);
        ck_assert_msg(nmt_config_set(&c, keys[i].key, v, &err) == NMT_OK, "%s", err.msg);
        snprintf(v, sizeof v, "%d", keys[i].max);
        ck_assert_msg(nmt_config_set(&c, keys[i].key, v, &err) == NMT_OK, "%s", err.msg);
        char *before = dump(&c);
        snprintf(v, sizeof v, "%lld", (long long)keys[i].min - 1);
        ck_assert_int_eq(nmt_config_set(&c, keys[i].key, v, &err), NMT_ERR_INVALID);
        char want[128];
        snprintf(want, sizeof want, "%s: %s is out of range (%d..%d)", keys[i].key, v, keys[i].min, keys[i].max);
        ck_assert_str_eq(err.msg, want);
        snprintf(v, sizeof v, "%lld", (long long)keys[i].max + 1);
        ck_assert_int_eq(nmt_config_set(&c, keys[i].key, v, &err), NMT_ERR_INVALID);
        /* a rejected value leaves the struct unchanged */
        char *after = dump(&c);
        ck_assert_str_eq(before, after);
        free(before);
        free(after);
    }
    nmt_config_defaults(&c);
    ck_assert_int_eq(nmt_config_set(&c, "port", "99999999999999999999999", &err), NMT_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(err.msg, "out of range"));
    ck_assert_int_eq(nmt_config_set(&c, "port", " 80", &err), NMT_ERR_INVALID);
    ck_assert_int_eq(nmt_config_set(&c, "port", "", &err), NMT_ERR_INVALID);
    ck_assert_int_eq(nmt_config_set(&c, "port", "0x50", &err), NMT_ERR_INVALID);
    ck_assert_int_eq(nmt_config_set(&c, "port", "+80", &err), NMT_OK);
    ck_assert_int_eq(c.port, 80);

    /* strings: the model path must fit, the address must be a literal */
    char big[NMT_CONFIG_PATH_MAX + 1];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ck_assert_int_eq(nmt_config_set(&c, "model", big, &err), NMT_ERR_INVALID);
    big[NMT_CONFIG_PATH_MAX - 1] = '\0';
    ck_assert_int_eq(nmt_config_set(&c, "model", big, &err), NMT_OK);
    ck_assert_int_eq(nmt_config_set(&c, "listen_address", "::ffff:10.0.0.1", &err), NMT_OK);
    ck_assert_int_eq(nmt_config_set(&c, "listen_address", "[::1]", &err), NMT_ERR_INVALID);
    ck_assert_int_eq(nmt_config_set(&c, "listen_address", "10.0.0.1:80", &err), NMT_ERR_INVALID);
    ck_assert_int_eq(nmt_config_set(&c, "nope", "1", &err), NMT_ERR_INVALID);
    ck_assert_str_eq(err.msg, "unknown key 'nope'");
}
END_TEST

START_TEST(test_bools_and_levels)
{
    static const char *yes[] = {"yes", "true", "on", "1", "YES", "True"};
    static const char *no[] = {"no", "false", "off", "0", "NO", "Off"};
    nmt_config c;
    nmt_err err;
    nmt_config_defaults(&c);
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        c.access_log = 0;
        ck_assert_msg(nmt_config_set(&c, "access_log", yes[i], &err) == NMT_OK, "%s", err.msg);
        ck_assert_int_eq(c.access_log, 1);
        ck_assert_msg(nmt_config_set(&c, "access-log", no[i], &err) == NMT_OK, "%s", err.msg);
        ck_assert_int_eq(c.access_log, 0);
    }
    ck_assert_int_eq(nmt_config_set(&c, "access_log", "2", &err), NMT_ERR_INVALID);
    ck_assert_int_eq(nmt_config_set(&c, "access_log", "", &err), NMT_ERR_INVALID);

    static const struct { const char *name; nmt_log_level level; } levels[] = {
        {"debug", NMT_LOG_DEBUG}, {"info", NMT_LOG_INFO}, {"warn", NMT_LOG_WARN}, {"error", NMT_LOG_ERROR},
        {"off", NMT_LOG_OFF}};
    for (size_t i = 0; i < 5; i++) {
        ck_assert_int_eq(nmt_config_set(&c, "log_level", levels[i].name, &err), NMT_OK);
        ck_assert_int_eq(c.log_level, levels[i].level);
        ck_assert_str_eq(nmt_config_log_level_name(levels[i].level), levels[i].name);
    }
    ck_assert_int_eq(nmt_config_set(&c, "log_level", "verbose", &err), NMT_ERR_INVALID);
    ck_assert_int_eq(nmt_config_set(&c, "log_level", "WARN", &err), NMT_OK); /* as nmtd-translate --log-level */
    ck_assert_int_eq(c.log_level, NMT_LOG_WARN);
}
END_TEST

START_TEST(test_flags)
{
    nmt_config c;
    nmt_config_action action;
    nmt_err err;
    /* --key value, --key=value, '-' and '_' interchangeable */
    ck_assert_msg(PARSE(&c, &action, &err, "--port", "9000", "--max-wait-ms=7", "--max_batch_tokens", "100",
                        "--queue-capacity=5", "--listen-address", "::", "--access-log=off", "--log-level", "error",
                        "--model", "/m") == NMT_OK,
                  "%s", err.msg);
    ck_assert_int_eq(action, NMT_CONFIG_RUN);
    ck_assert_int_eq(c.port, 9000);
    ck_assert_int_eq(c.max_wait_ms, 7);
    ck_assert_int_eq(c.max_batch_tokens, 100);
    ck_assert_int_eq(c.queue_capacity, 5);
    ck_assert_str_eq(c.listen_address, "::");
    ck_assert_int_eq(c.access_log, 0);
    ck_assert_int_eq(c.log_level, NMT_LOG_ERROR);
    ck_assert_str_eq(c.model.items[c.model.n - 1], "/m");

    /* no flags: the defaults */
    nmt_config d;
    nmt_config_defaults(&d);
    char *argv0[] = {(char *)"nmtd", NULL};
    nmt_config_defaults(&c);
    ck_assert_int_eq(nmt_config_parse_args(&c, 1, argv0, &action, &err), NMT_OK);
    assert_same(&c, &d);

    /* the last of a repeated flag wins; values may look like negative numbers */
    ck_assert_int_eq(PARSE(&c, &action, &err, "--port", "1", "--port=2"), NMT_OK);
    ck_assert_int_eq(c.port, 2);
    ck_assert_int_eq(PARSE(&c, &action, &err, "--port", "-1"), NMT_ERR_INVALID);
    ck_assert_str_eq(err.msg, "option '--port': -1 is out of range (0..65535)");
    /* an empty =value is a value (and here a bad one) */
    ck_assert_int_eq(PARSE(&c, &action, &err, "--port="), NMT_ERR_INVALID);
    ck_assert_str_eq(err.msg, "option '--port': '' is not an integer");
    ck_assert_int_eq(PARSE(&c, &action, &err, "--workers", "many"), NMT_ERR_INVALID);
    ck_assert_str_eq(err.msg, "option '--workers': 'many' is not an integer");
    ck_assert_int_eq(PARSE(&c, &action, &err, "--max_wait_ms", "x"), NMT_ERR_INVALID);
    ck_assert_str_eq(err.msg, "option '--max_wait_ms': 'x' is not an integer");

    /* errors */
    ck_assert_int_eq(PARSE(&c, &action, &err, "--foo"), NMT_ERR_INVALID);
    ck_assert_str_eq(err.msg, "unknown option '--foo'");
    ck_assert_int_eq(PARSE(&c, &action, &err, "--workers", "2", "--port"), NMT_ERR_INVALID);
    ck_assert_str_eq(err.msg, "option '--port' needs a value");
    ck_assert_int_eq(PARSE(&c, &action, &err, "--port", "--workers", "2"), NMT_ERR_INVALID);
    ck_assert_str_eq(err.msg, "option '--port' needs a value");
    ck_assert_int_eq(PARSE(&c, &action, &err, "--config"), NMT_ERR_INVALID);
    ck_assert_str_eq(err.msg, "option '--config' needs a value");
    ck_assert_int_eq(PARSE(&c, &action, &err, "stray"), NMT_ERR_INVALID);
    ck_assert_str_eq(err.msg, "unexpected argument 'stray' (try --help)");
    ck_assert_int_eq(PARSE(&c, &action, &err, "-p", "80"), NMT_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(err.msg, "unknown option '-p'"));
    ck_assert_int_eq(PARSE(&c, &action, &err, "--check-config=yes"), NMT_ERR_INVALID);
    ck_assert_str_eq(err.msg, "option '--check-config' takes no value");
    /* a syntax error anywhere is reported before a bad value is applied */
    ck_assert_int_eq(PARSE(&c, &action, &err, "--port", "x", "--bogus", "1"), NMT_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(err.msg, "--bogus"));
}
END_TEST

START_TEST(test_actions)
{
    nmt_config c;
    nmt_config_action action;
    nmt_err err;
    ck_assert_int_eq(PARSE(&c, &action, &err, "--check-config", "--port", "1"), NMT_OK);
    ck_assert_int_eq(action, NMT_CONFIG_CHECK);
    ck_assert_int_eq(c.port, 1);
    ck_assert_int_eq(PARSE(&c, &action, &err, "--port", "1", "--check_config"), NMT_OK);
    ck_assert_int_eq(action, NMT_CONFIG_CHECK);
    /* --help and --version win, even over errors and a missing config file */
    ck_assert_int_eq(PARSE(&c, &action, &err, "--bogus", "--help"), NMT_OK);
    ck_assert_int_eq(action, NMT_CONFIG_HELP);
    ck_assert_int_eq(PARSE(&c, &action, &err, "-h"), NMT_OK);
    ck_assert_int_eq(action, NMT_CONFIG_HELP);
    ck_assert_int_eq(PARSE(&c, &action, &err, "--config", "/no/such/file", "--version"), NMT_OK);
    ck_assert_int_eq(action, NMT_CONFIG_VERSION);
    ck_assert_int_eq(PARSE(&c, &action, &err, "-V"), NMT_OK);
    ck_assert_int_eq(action, NMT_CONFIG_VERSION);
}
END_TEST

START_TEST(test_config_file_and_flags)
{
    const char *path = write_conf("f.conf", "port = 1111\nworkers = 3\nmax_wait_ms = 20\n");
    char arg[4200];
    snprintf(arg, sizeof arg, "--config=%s", path);
    nmt_config c;
    nmt_config_action action;
    nmt_err err;

    /* flags override the file wherever --config appears */
    ck_assert_msg(PARSE(&c, &action, &err, "--port", "2222", "--config", path, "--workers=5") == NMT_OK, "%s",
                  err.msg);
    ck_assert_int_eq(c.port, 2222);
    ck_assert_int_eq(c.workers, 5);
    ck_assert_int_eq(c.max_wait_ms, 20);
    ck_assert_int_eq(PARSE(&c, &action, &err, arg, "--port", "2222"), NMT_OK);
    ck_assert_int_eq(c.port, 2222);
    ck_assert_int_eq(c.workers, 3);
    ck_assert_int_eq(PARSE(&c, &action, &err, "--max-wait-ms", "0", arg), NMT_OK);
    ck_assert_int_eq(c.port, 1111);
    ck_assert_int_eq(c.max_wait_ms, 0);

    /* file errors come through with their position */
    const char *bad = write_conf("bad.conf", "port = 1\nworkers = 0\n");
    ck_assert_int_eq(PARSE(&c, &action, &err, "--config", bad), NMT_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(err.msg, "bad.conf:2: workers: 0 is out of range (1..64)"));
    ck_assert_int_eq(PARSE(&c, &action, &err, "--config", "/no/such/nmtd.conf"), NMT_ERR_IO);
    ck_assert_ptr_nonnull(strstr(err.msg, "/no/such/nmtd.conf"));
    ck_assert_int_eq(PARSE(&c, &action, &err, "--config", path, "--config", bad), NMT_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(err.msg, "given twice"));
}
END_TEST

START_TEST(test_help)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    nmt_config_print_help(f, "/usr/bin/nmtd");
    fclose(f);
    ck_assert_ptr_nonnull(strstr(buf, "Usage: nmtd "));
    ck_assert_ptr_nonnull(strstr(buf, "--config FILE"));
    ck_assert_ptr_nonnull(strstr(buf, "--check-config"));
    ck_assert_ptr_nonnull(strstr(buf, "--port N  (default 8080, 0..65535)"));
    ck_assert_ptr_nonnull(strstr(buf, "--model VALUE  (default \"models/en-de-demo\")"));
    ck_assert_ptr_nonnull(strstr(buf, "--max-batch-tokens N  (default 4096, 16..1048576)"));
    ck_assert_ptr_nonnull(strstr(buf, "--access-log yes|no  (default yes)"));
    ck_assert_ptr_nonnull(strstr(buf, "--log-level debug|info|warn|error|off  (default info)"));
    ck_assert_ptr_nonnull(strstr(buf, "workers x blas_threads"));
    /* every key of the dump is in the help, and no help line is too wide */
    nmt_config c;
    nmt_config_defaults(&c);
    char *d = dump(&c);
    for (char *line = strtok(d, "\n"); line; line = strtok(NULL, "\n")) {
        char flag[80] = "--";
        size_t n = strcspn(line, " ");
        for (size_t i = 0; i < n && i < 70; i++)
            flag[2 + i] = line[i] == '_' ? '-' : line[i];
        flag[2 + (n < 70 ? n : 70)] = ' ';
        ck_assert_msg(strstr(buf, flag) != NULL, "help lacks '%s'", flag);
    }
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
        ck_assert_msg(strlen(line) <= 82, "help line too long: %s", line);
    free(d);
    free(buf);
}
END_TEST

/* conf/nmtd.conf parses, equals the defaults except `model`, and documents
 * every key with a commented-out default that is the real default. */
START_TEST(test_shipped_conf)
{
    const char *path = NMT_CONF_DIR "/nmtd.conf";
    nmt_config c, d;
    nmt_err err;
    nmt_config_defaults(&c);
    nmt_config_defaults(&d);
    ck_assert_msg(nmt_config_load_file(&c, path, &err) == NMT_OK, "%s", err.msg);
    ck_assert_int_eq(c.model.n, 1);
    c.model = d.model;
    assert_same(&c, &d);

    /* uncomment every "# key = value" line: still valid, still the defaults */
    size_t len;
    char *text = tu_read_file(NMT_CONF_DIR, "nmtd.conf", &len);
    char *out = malloc(len + 1), *w = out;
    int uncommented = 0;
    for (char *line = text; *line;) {
        char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) + 1 : strlen(line);
        size_t key = strspn(line + 2, "abcdefghijklmnopqrstuvwxyz_");
        if (strncmp(line, "# ", 2) == 0 && key > 0 && strncmp(line + 2 + key, " = ", 3) == 0) {
            line += 2;
            n -= 2;
            uncommented++;
        }
        memcpy(w, line, n);
        w += n;
        line += n;
    }
    *w = '\0';
    nmt_config u;
    nmt_config_defaults(&u);
    const char *upath = write_conf("uncommented.conf", out);
    ck_assert_msg(nmt_config_load_file(&u, upath, &err) == NMT_OK, "%s", err.msg);
    u.model = d.model;
    assert_same(&u, &d);

    /* every key appears in the file as "key = " (active or commented) */
    char *dd = dump(&d);
    int keys = 0;
    for (char *line = strtok(dd, "\n"); line; line = strtok(NULL, "\n")) {
        char want[96];
        snprintf(want, sizeof want, "\n%.*s = ", (int)strcspn(line, " "), line);
        ck_assert_msg(strstr(out, want) != NULL, "conf/nmtd.conf does not document %s", want + 1);
        keys++;
    }
    ck_assert_int_eq(uncommented, keys - 1); /* all but the active model line */
    free(dd);
    free(out);
    free(text);
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_compute_types);
    tcase_add_test(tc, test_full_file);
    tcase_add_test(tc, test_syntax);
    tcase_add_test(tc, test_lists);
    tcase_add_test(tc, test_file_errors);
    tcase_add_test(tc, test_nul_byte);
    tcase_add_test(tc, test_did_you_mean);
    tcase_add_test(tc, test_bounds);
    tcase_add_test(tc, test_bools_and_levels);
    tcase_add_test(tc, test_flags);
    tcase_add_test(tc, test_actions);
    tcase_add_test(tc, test_config_file_and_flags);
    tcase_add_test(tc, test_help);
    tcase_add_test(tc, test_shipped_conf);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(config_suite());
}
