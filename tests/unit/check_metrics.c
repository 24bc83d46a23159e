/* check_metrics.c: counters, gauges and histogram buckets after known
 * observations (boundary values included), label escaping, exact totals
 * under concurrent updates, and a line-by-line check of the rendered text
 * against the Prometheus text format 0.0.4. */
#include <check.h>
#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "testutil.h"

static nmt_metrics *new_metrics(const char *version, const char *model)
{
    nmt_metrics *m = NULL;
    nmt_err err;
    ck_assert_msg(nmt_metrics_new(&m, version, model, &err) == NMT_OK, "%s", err.msg);
    ck_assert_ptr_nonnull(m);
    return m;
}

static char *render(const nmt_metrics *m)
{
    char *text = NULL;
    size_t len = 0;
    nmt_err err;
    ck_assert_msg(nmt_metrics_render(m, &text, &len, &err) == NMT_OK, "%s", err.msg);
    ck_assert_uint_eq(len, strlen(text));
    return text;
}

/* The value of the sample whose name{labels} is exactly series; fails the
 * test when it is absent. */
static double sample(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *line = text; *line;) {
        if (strncmp(line, series, n) == 0 && line[n] == ' ')
            return strtod(line + n + 1, NULL);
        const char *nl = strchr(line, '\n');
        if (!nl)
            break;
        line = nl + 1;
    }
    ck_abort_msg("no sample %s in:\n%s", series, text);
    return NAN;
}

static void assert_sample(const char *text, const char *series, double want)
{
    double got = sample(text, series);
    ck_assert_msg(fabs(got - want) <= 1e-9 * (1 + fabs(want)), "%s: got %.9g, want %.9g", series, got, want);
}

/* ---- a small text-format validator --------------------------------------- */

static int is_name_start(int c) { return isalpha(c) || c == '_' || c == ':'; }
static int is_name_char(int c) { return isalnum(c) || c == '_' || c == ':'; }

/* Parses `name{l="v",...} value` (labels optional); returns 0 if malformed.
 * name receives the metric name. */
static int parse_sample(const char *line, char *name, size_t cap)
{
    const char *p = line;
    size_t n = 0;
    if (!is_name_start((unsigned char)*p))
        return 0;
    while (is_name_char((unsigned char)*p) && n + 1 < cap)
        name[n++] = *p++;
    name[n] = '\0';
    if (*p == '{') {
        p++;
        while (*p != '}') {
            if (!is_name_start((unsigned char)*p) || *p == ':')
                return 0;
            while (is_name_char((unsigned char)*p))
                p++;
            if (*p++ != '=' || *p++ != '"')
                return 0;
            while (*p != '"') {
                if (*p == '\0' || *p == '\n')
                    return 0;
                if (*p == '\\') {
                    p++;
                    if (*p != '\\' && *p != '"' && *p != 'n')
                        return 0;
                }
                p++;
            }
            p++;
            if (*p == ',')
                p++;
            else if (*p != '}')
                return 0;
        }
        p++;
    }
    if (*p++ != ' ')
        return 0;
    if (strcmp(p, "+Inf") == 0 || strcmp(p, "-Inf") == 0 || strcmp(p, "NaN") == 0)
        return 1;
    char *end;
    strtod(p, &end);
    return end != p && *end == '\0';
}

/* Checks the whole text; returns the number of families seen. */
static int validate(const char *text)
{
    char *copy = strdup(text);
    char families[64][96], types[64][16];
    int n_fam = 0, have_help[64] = {0};
    ck_assert_msg(copy[0] && copy[strlen(copy) - 1] == '\n', "text must end with a newline");
    char *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "# HELP ", 7) == 0 || strncmp(line, "# TYPE ", 7) == 0) {
            char name[96], rest[256];
            ck_assert_msg(sscanf(line + 7, "%95s %255[^\n]", name, rest) == 2, "bad comment line: %s", line);
            int f = 0;
            while (f < n_fam && strcmp(families[f], name) != 0)
                f++;
            if (line[2] == 'H') {
                ck_assert_msg(f == n_fam, "HELP for %s twice or after its samples", name);
                ck_assert_int_lt(n_fam, 64);
                snprintf(families[n_fam], sizeof families[0], "%s", name);
                types[n_fam][0] = '\0';
                have_help[n_fam++] = 1;
            } else {
                ck_assert_msg(f < n_fam && types[f][0] == '\0', "TYPE for %s without HELP before, or twice", name);
                ck_assert_msg(strcmp(rest, "counter") == 0 || strcmp(rest, "gauge") == 0 ||
                                  strcmp(rest, "histogram") == 0,
                              "bad type: %s", line);
                snprintf(types[f], sizeof types[0], "%.15s", rest);
            }
            continue;
        }
        ck_assert_msg(line[0] != '#', "unexpected comment: %s", line);
        char name[96];
        ck_assert_msg(parse_sample(line, name, sizeof name), "malformed sample line: '%s'", line);
        /* the sample belongs to the family declared last */
        ck_assert_msg(n_fam > 0, "sample before any HELP: %s", line);
        const char *fam = families[n_fam - 1], *type = types[n_fam - 1];
        ck_assert_msg(have_help[n_fam - 1] && type[0], "sample of %s before its TYPE", fam);
        size_t fl = strlen(fam);
        int ok = strcmp(name, fam) == 0;
        if (strcmp(type, "histogram") == 0)
            ok = strncmp(name, fam, fl) == 0 &&
                 (strcmp(name + fl, "_bucket") == 0 || strcmp(name + fl, "_sum") == 0 ||
                  strcmp(name + fl, "_count") == 0);
        ck_assert_msg(ok, "sample %s does not belong to family %s (%s)", name, fam, type);
        if (strcmp(type, "counter") == 0)
            ck_assert_msg(fl > 6 && strcmp(fam + fl - 6, "_total") == 0, "counter %s lacks _total", fam);
        ck_assert_msg(strncmp(name, "nmtd_", 5) == 0, "%s lacks the nmtd_ prefix", name);
    }
    free(copy);
    return n_fam;
}

/* ---- tests ---------------------------------------------------------------- */

START_TEST(test_counters_and_gauges)
{
    nmt_metrics *m = new_metrics("1.2.3", "en-de-demo");
    char *t = render(m);
    assert_sample(t, "nmtd_build_info{version=\"1.2.3\",model=\"en-de-demo\"}", 1);
    assert_sample(t, "nmtd_requests_total{status=\"200\"}", 0);
    assert_sample(t, "nmtd_rejections_total{reason=\"client_gone\"}", 0);
    assert_sample(t, "nmtd_ready", 0);
    ck_assert_msg(sample(t, "nmtd_uptime_seconds") >= 0, "uptime");
    free(t);

    nmt_metrics_request(m, 200, 0.01);
    nmt_metrics_request(m, 200, 0.02);
    nmt_metrics_request(m, 400, 0.001);
    nmt_metrics_request(m, 503, 0);
    nmt_metrics_request(m, 418, 0.5);
    nmt_metrics_request(m, 204, 0.5);
    nmt_metrics_sentences_in(m, 7);
    nmt_metrics_sentences_in(m, -3); /* ignored */
    nmt_metrics_batch(m, -1, 3, 30, 40, 12, 3);
    nmt_metrics_batch(m, -1, 4, 50, 60, 15, 4);
    nmt_metrics_reject(m, NMT_REJECT_QUEUE_FULL);
    nmt_metrics_reject(m, NMT_REJECT_QUEUE_FULL);
    nmt_metrics_reject(m, NMT_REJECT_TIMEOUT);
    nmt_metrics_reject(m, NMT_REJECT_COUNT_); /* out of range: ignored */
    nmt_metrics_gauge_set(m, NMT_GAUGE_READY, 1);
    nmt_metrics_gauge_add(m, NMT_GAUGE_QUEUE_DEPTH, 10);
    nmt_metrics_gauge_add(m, NMT_GAUGE_QUEUE_DEPTH, -4);
    nmt_metrics_gauge_add(m, NMT_GAUGE_INFLIGHT, 2);
    ck_assert_int_eq(nmt_metrics_gauge_get(m, NMT_GAUGE_QUEUE_DEPTH), 6);

    t = render(m);
    assert_sample(t, "nmtd_requests_total{status=\"200\"}", 2);
    assert_sample(t, "nmtd_requests_total{status=\"400\"}", 1);
    assert_sample(t, "nmtd_requests_total{status=\"404\"}", 0);
    assert_sample(t, "nmtd_requests_total{status=\"503\"}", 1);
    assert_sample(t, "nmtd_requests_total{status=\"other\"}", 2);
    assert_sample(t, "nmtd_sentences_in_total", 7);
    assert_sample(t, "nmtd_sentences_out_total", 7);
    assert_sample(t, "nmtd_tokens_in_total", 80);
    assert_sample(t, "nmtd_tokens_out_total", 100);
    assert_sample(t, "nmtd_decode_steps_total", 27);
    assert_sample(t, "nmtd_batches_total", 2);
    assert_sample(t, "nmtd_rejections_total{reason=\"queue_full\"}", 2);
    assert_sample(t, "nmtd_rejections_total{reason=\"timeout\"}", 1);
    assert_sample(t, "nmtd_rejections_total{reason=\"draining\"}", 0);
    assert_sample(t, "nmtd_ready", 1);
    assert_sample(t, "nmtd_queue_depth_sentences", 6);
    assert_sample(t, "nmtd_inflight_requests", 2);
    assert_sample(t, "nmtd_request_duration_seconds_count", 6);
    assert_sample(t, "nmtd_request_duration_seconds_sum", 1.031);
    free(t);
    nmt_metrics_free(m);
    nmt_metrics_free(NULL);
}
END_TEST

START_TEST(test_histogram_buckets)
{
    nmt_metrics *m = new_metrics("v", "m");
    /* request durations: an observation equal to a bound counts in that bucket */
    const double obs[] = {0, 0.001, 0.0011, 0.0025, 0.3, 1, 60, 61, -1, NAN};
    for (size_t i = 0; i < sizeof obs / sizeof obs[0]; i++)
        nmt_metrics_request(m, 200, obs[i]);
    /* queue waits */
    nmt_metrics_queue_wait(m, 0.005);
    nmt_metrics_queue_wait(m, 0.0051);
    nmt_metrics_queue_wait(m, 30);
    /* batch sizes */
    const int sizes[] = {1, 2, 3, 4, 5, 256, 257, 1000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        nmt_metrics_batch(m, -1, sizes[i], 0, 0, 0, sizes[i]);

    char *t = render(m);
    const char *d = "nmtd_request_duration_seconds_bucket";
    static const struct { const char *le; double want; } req[] = {
        {"0.001", 4}, /* 0, 0.001, -1 -> 0, NaN -> 0 */
        {"0.0025", 6}, {"0.005", 6}, {"0.01", 6}, {"0.025", 6}, {"0.05", 6}, {"0.1", 6},
        {"0.25", 6},  {"0.5", 7},  {"1", 8},     {"2.5", 8},   {"5", 8},    {"10", 8},
        {"30", 8},    {"60", 9},   {"+Inf", 10},
    };
    char series[128];
    for (size_t i = 0; i < sizeof req / sizeof req[0]; i++) {
        snprintf(series, sizeof series, "%s{le=\"%s\"}", d, req[i].le);
        assert_sample(t, series, req[i].want);
    }
    assert_sample(t, "nmtd_request_duration_seconds_count", 10);
    assert_sample(t, "nmtd_request_duration_seconds_sum", 0.001 + 0.0011 + 0.0025 + 0.3 + 1 + 60 + 61);

    assert_sample(t, "nmtd_queue_wait_seconds_bucket{le=\"0.0025\"}", 0);
    assert_sample(t, "nmtd_queue_wait_seconds_bucket{le=\"0.005\"}", 1);
    assert_sample(t, "nmtd_queue_wait_seconds_bucket{le=\"0.01\"}", 2);
    assert_sample(t, "nmtd_queue_wait_seconds_bucket{le=\"10\"}", 2);
    assert_sample(t, "nmtd_queue_wait_seconds_bucket{le=\"30\"}", 3);
    assert_sample(t, "nmtd_queue_wait_seconds_bucket{le=\"+Inf\"}", 3);
    assert_sample(t, "nmtd_queue_wait_seconds_count", 3);
    assert_sample(t, "nmtd_queue_wait_seconds_sum", 30.0101);

    static const struct { const char *le; double want; } batch[] = {
        {"1", 1}, {"2", 2}, {"4", 4}, {"8", 5}, {"16", 5}, {"32", 5},
        {"64", 5}, {"128", 5}, {"256", 6}, {"+Inf", 8},
    };
    for (size_t i = 0; i < sizeof batch / sizeof batch[0]; i++) {
        snprintf(series, sizeof series, "nmtd_batch_sentences_bucket{le=\"%s\"}", batch[i].le);
        assert_sample(t, series, batch[i].want);
    }
    assert_sample(t, "nmtd_batch_sentences_count", 8);
    assert_sample(t, "nmtd_batch_sentences_sum", 1 + 2 + 3 + 4 + 5 + 256 + 257 + 1000);
    assert_sample(t, "nmtd_batches_total", 8);

    /* buckets appear in increasing order of le, +Inf last */
    const char *p0 = strstr(t, "nmtd_batch_sentences_bucket{le=\"1\"}");
    const char *p1 = strstr(t, "nmtd_batch_sentences_bucket{le=\"2\"}");
    const char *p2 = strstr(t, "nmtd_batch_sentences_bucket{le=\"+Inf\"}");
    const char *p3 = strstr(t, "nmtd_batch_sentences_sum");
    ck_assert(p0 && p0 < p1 && p1 < p2 && p2 < p3);
    free(t);
    nmt_metrics_free(m);
}
END_TEST

START_TEST(test_label_escaping)
{
    nmt_metrics *m = new_metrics("0.1 \"beta\"", "dir\\with \"quotes\"\nand newline");
    char *t = render(m);
    ck_assert_msg(strstr(t, "nmtd_build_info{version=\"0.1 \\\"beta\\\"\","
                            "model=\"dir\\\\with \\\"quotes\\\"\\nand newline\"} 1\n") != NULL,
                  "%s", t);
    validate(t);
    free(t);
    nmt_metrics_free(m);

    m = new_metrics(NULL, "");
    t = render(m);
    ck_assert_ptr_nonnull(strstr(t, "nmtd_build_info{version=\"\",model=\"\"} 1\n"));
    free(t);
    nmt_metrics_free(m);
}
END_TEST

/* Continuous scheduling's observations land in their families. */
START_TEST(test_continuous_scheduling)
{
    nmt_metrics *m = new_metrics("0.1.0", "en-de-demo");
    nmt_metrics_admission(m, 3);
    nmt_metrics_step(m, -1, 3, 0, 0, 0);
    nmt_metrics_step(m, -1, 3, 2, 17, 2);
    nmt_metrics_step(m, -1, 1, 1, 4, 1);
    nmt_metrics_rows_cancelled(m, 0);
    nmt_metrics_rows_cancelled(m, 2);
    char *t = render(m);
    assert_sample(t, "nmtd_batches_total", 1);
    assert_sample(t, "nmtd_batch_sentences_count", 1);
    assert_sample(t, "nmtd_decode_steps_total", 3);
    assert_sample(t, "nmtd_tokens_out_total", 7);
    assert_sample(t, "nmtd_sentences_out_total", 3);
    assert_sample(t, "nmtd_tokens_in_total", 21);
    assert_sample(t, "nmtd_rows_cancelled_total", 2);
    assert_sample(t, "nmtd_step_rows_count", 3);
    assert_sample(t, "nmtd_step_rows_sum", 7);
    assert_sample(t, "nmtd_step_rows_bucket{le=\"1\"}", 1);
    assert_sample(t, "nmtd_step_rows_bucket{le=\"4\"}", 3);
    free(t);
    nmt_metrics_free(m);
}
END_TEST

/* Per-model series: one per added model, a pivoted sentence counts on both
 * models and once in sentences_out. */
START_TEST(test_models)
{
    nmt_metrics *m = new_metrics("0.1.0", "a,b");
    nmt_err err;
    ck_assert(nmt_metrics_add_model(m, "a", 1000, 1, 0.5, &err) == NMT_OK);
    ck_assert(nmt_metrics_add_model(m, "b\"x", 2000, 1, 1.25, &err) == NMT_OK);
    nmt_metrics_step(m, 0, 2, 1, 5, 0);  /* a's first translation of a pivoted sentence */
    nmt_metrics_step(m, 1, 1, 1, 6, 1);  /* b finishes it */
    nmt_metrics_batch(m, 1, 2, 8, 9, 4, 2);
    nmt_metrics_batch(m, 7, 2, 8, 9, 4, 2); /* no such model: only the totals */
    nmt_metrics_model_queue_depth(m, 1, 3);
    char *t = render(m);
    assert_sample(t, "nmtd_model_weight_bytes{model=\"a\"}", 1000);
    assert_sample(t, "nmtd_model_weight_bytes{model=\"b\\\"x\"}", 2000);
    assert_sample(t, "nmtd_model_sentences_total{model=\"a\"}", 1);
    assert_sample(t, "nmtd_model_sentences_total{model=\"b\\\"x\"}", 3);
    assert_sample(t, "nmtd_model_tokens_in_total{model=\"a\"}", 5);
    assert_sample(t, "nmtd_model_tokens_out_total{model=\"a\"}", 2);
    assert_sample(t, "nmtd_model_decode_steps_total{model=\"b\\\"x\"}", 5);
    assert_sample(t, "nmtd_model_queue_depth_sentences{model=\"b\\\"x\"}", 3);
    assert_sample(t, "nmtd_sentences_out_total", 5);
    ck_assert_msg(strstr(t, "nmtd_model_load_seconds{model=\"a\"} 0.500") != NULL, "%s", t);
    free(t);
    nmt_metrics_free(m);
}
END_TEST

START_TEST(test_format)
{
    nmt_metrics *m = new_metrics("0.1.0", "en-de-demo");
    nmt_metrics_request(m, 200, 0.02);
    nmt_metrics_batch(m, -1, 3, 10, 10, 5, 3);
    char *t = render(m);
    int families = validate(t);
    ck_assert_int_eq(families, 20);
    static const char *const types[] = {
        "# TYPE nmtd_build_info gauge\n",
        "# TYPE nmtd_requests_total counter\n",
        "# TYPE nmtd_request_duration_seconds histogram\n",
        "# TYPE nmtd_queue_wait_seconds histogram\n",
        "# TYPE nmtd_batch_sentences histogram\n",
        "# TYPE nmtd_queue_depth_sentences gauge\n",
        "# TYPE nmtd_inflight_requests gauge\n",
        "# TYPE nmtd_ready gauge\n",
        "# TYPE nmtd_open_connections gauge\n",
        "# TYPE nmtd_connections_cut_total counter\n",
        "# TYPE nmtd_sentences_in_total counter\n",
        "# TYPE nmtd_sentences_out_total counter\n",
        "# TYPE nmtd_tokens_in_total counter\n",
        "# TYPE nmtd_tokens_out_total counter\n",
        "# TYPE nmtd_decode_steps_total counter\n",
        "# TYPE nmtd_batches_total counter\n",
        "# TYPE nmtd_rows_cancelled_total counter\n",
        "# TYPE nmtd_step_rows histogram\n",
        "# TYPE nmtd_rejections_total counter\n",
        "# TYPE nmtd_uptime_seconds gauge\n",
    };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        ck_assert_msg(strstr(t, types[i]) != NULL, "missing %s", types[i]);
    /* every fixed label value is present even at zero */
    static const char *const labels[] = {"200", "400", "404", "405", "413", "500", "503", "504", "other"};
    for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++) {
        char series[64];
        snprintf(series, sizeof series, "nmtd_requests_total{status=\"%s\"}", labels[i]);
        sample(t, series);
    }
    nmt_metrics_set_cuts(m, NMT_CUT_EVICTED, 7);
    free(t);
    t = render(m);
    ck_assert_ptr_nonnull(strstr(t, "nmtd_connections_cut_total{reason=\"evicted\"} 7\n"));
    ck_assert_ptr_nonnull(strstr(t, "nmtd_connections_cut_total{reason=\"read_timeout\"} 0\n"));
    static const char *const reasons[] = {"queue_full", "draining",  "invalid_request",
                                          "body_too_large", "timeout", "client_gone"};
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++) {
        char series[64];
        snprintf(series, sizeof series, "nmtd_rejections_total{reason=\"%s\"}", reasons[i]);
        sample(t, series);
    }
    ck_assert_str_eq(NMT_METRICS_CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");

    /* the caller-buffer form: snprintf semantics, no overflow */
    size_t need = nmt_metrics_render_buf(m, NULL, 0);
    ck_assert_uint_ge(need, strlen(t) - 8); /* uptime may have changed its digits */
    char small[100];
    memset(small, 'x', sizeof small);
    size_t got = nmt_metrics_render_buf(m, small, 50);
    ck_assert_uint_gt(got, 50);
    ck_assert_uint_eq(strlen(small), 49);
    ck_assert_int_eq(small[51], 'x');
    ck_assert_int_eq(strncmp(small, t, 49), 0);
    char *big = malloc(need + 64);
    got = nmt_metrics_render_buf(m, big, need + 64);
    ck_assert_uint_lt(got, need + 64);
    ck_assert_uint_eq(strlen(big), got);
    validate(big);
    free(big);
    free(t);
    nmt_metrics_free(m);
}
END_TEST

#define THREADS 4
#define ITERS 50000

static void *hammer(void *arg)
{
    nmt_metrics *m = arg;
    for (int i = 0; i < ITERS; i++) {
        nmt_metrics_request(m, i % 2 ? 200 : 503, 0.001);
        nmt_metrics_queue_wait(m, 0.25);
        nmt_metrics_batch(m, -1, 2, 10, 20, 5, 2);
        nmt_metrics_sentences_in(m, 2);
        nmt_metrics_reject(m, NMT_REJECT_TIMEOUT);
        nmt_metrics_gauge_add(m, NMT_GAUGE_INFLIGHT, 1);
        nmt_metrics_gauge_add(m, NMT_GAUGE_INFLIGHT, -1);
        nmt_metrics_gauge_add(m, NMT_GAUGE_QUEUE_DEPTH, 1);
    }
    return NULL;
}

static void *scrape(void *arg)
{
    const nmt_metrics *m = arg;
    for (int i = 0; i < 50; i++) {
        char *t = render(m);
        /* _count always equals the +Inf bucket, even mid-update */
        ck_assert_double_eq(sample(t, "nmtd_request_duration_seconds_count"),
                            sample(t, "nmtd_request_duration_seconds_bucket{le=\"+Inf\"}"));
        free(t);
    }
    return NULL;
}

START_TEST(test_concurrent)
{
    nmt_metrics *m = new_metrics("v", "m");
    pthread_t th[THREADS + 1];
    for (int i = 0; i < THREADS; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, hammer, m), 0);
    ck_assert_int_eq(pthread_create(&th[THREADS], NULL, scrape, m), 0);
    for (int i = 0; i <= THREADS; i++)
        pthread_join(th[i], NULL);

    const double n = (double)THREADS * ITERS;
    char *t = render(m);
    assert_sample(t, "nmtd_requests_total{status=\"200\"}", n / 2);
    assert_sample(t, "nmtd_requests_total{status=\"503\"}", n / 2);
    assert_sample(t, "nmtd_request_duration_seconds_bucket{le=\"0.001\"}", n);
    assert_sample(t, "nmtd_request_duration_seconds_count", n);
    assert_sample(t, "nmtd_request_duration_seconds_sum", n * 0.001);
    assert_sample(t, "nmtd_queue_wait_seconds_bucket{le=\"0.1\"}", 0);
    assert_sample(t, "nmtd_queue_wait_seconds_bucket{le=\"0.25\"}", n);
    assert_sample(t, "nmtd_queue_wait_seconds_sum", n * 0.25);
    assert_sample(t, "nmtd_batch_sentences_bucket{le=\"2\"}", n);
    assert_sample(t, "nmtd_batch_sentences_sum", 2 * n);
    assert_sample(t, "nmtd_batches_total", n);
    assert_sample(t, "nmtd_sentences_in_total", 2 * n);
    assert_sample(t, "nmtd_sentences_out_total", 2 * n);
    assert_sample(t, "nmtd_tokens_in_total", 10 * n);
    assert_sample(t, "nmtd_tokens_out_total", 20 * n);
    assert_sample(t, "nmtd_decode_steps_total", 5 * n);
    assert_sample(t, "nmtd_rejections_total{reason=\"timeout\"}", n);
    assert_sample(t, "nmtd_inflight_requests", 0);
    assert_sample(t, "nmtd_queue_depth_sentences", n);
    validate(t);
    free(t);
    nmt_metrics_free(m);
}
END_TEST

static Suite *metrics_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("metrics");
    tcase_add_test(tc, test_counters_and_gauges);
    tcase_add_test(tc, test_histogram_buckets);
    tcase_add_test(tc, test_label_escaping);
    tcase_add_test(tc, test_format);
    tcase_add_test(tc, test_continuous_scheduling);
    tcase_add_test(tc, test_models);
    tcase_add_test(tc, test_concurrent);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(metrics_suite());
}
