/* check_running_batch.c: continuous decoding (running_batch.c) gives every
 * sentence exactly the tokens it gets decoded alone, whatever joins or
 * leaves beside it and whenever it joins: sentences are admitted at random
 * steps in random groups, rows are cancelled mid-way, rows are reused; on
 * the demo model (real translations, early and late ends) and on a tiny
 * random model with another eos id and length limits. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "running_batch.h"
#include "testutil.h"
#include "translator.h"

enum { MAX_N = 64, CAP = 520 };

typedef struct corpus {
    nmt_translator *tr;
    int n;
    int *src[MAX_N], src_len[MAX_N], limit[MAX_N];
    int *want[MAX_N], want_len[MAX_N]; /* decoded alone */
} corpus;

static unsigned rng = 99;
static int rnd(int n)
{
    rng = rng * 1103515245u + 12345u;
    return (int)((rng >> 8) % (unsigned)n);
}

static void corpus_open(corpus *c, const char *model_dir, int min_length)
{
    nmt_err err;
    memset(c, 0, sizeof *c);
    ck_assert_msg(nmt_translator_load(&c->tr, model_dir, &err) == NMT_OK, "%s", err.msg);
    int n_gold = 0;
    tu_golden *gold = NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/en-de-demo.golden.tsv", NMT_TEST_DATA);
    n_gold = tu_golden_read(path, &gold);
    nmt_translator_state *alone;
    ck_assert(nmt_translator_state_new(&alone, c->tr, 1, 512, &err) == NMT_OK);
    nmt_translate_opts opts = {.min_length = min_length};
    for (int g = 0; g < n_gold && c->n < MAX_N; g += 9) {
        int i = c->n, n_ids;
        c->src[i] = malloc(CAP * sizeof(int));
        c->want[i] = malloc(CAP * sizeof(int));
        if (nmt_translator_encode(c->tr, gold[g].input, strlen(gold[g].input), c->src[i], CAP, &n_ids, &err) ||
            n_ids < 1 || n_ids > nmt_translator_max_positions(c->tr)) {
            free(c->src[i]);
            free(c->want[i]);
            continue;
        }
        c->src_len[i] = n_ids;
        c->limit[i] = nmt_translator_limit(c->tr, n_ids, NULL);
        if (i % 5 == 3)
            c->limit[i] = 1 + i % 4; /* some rows stop at a short limit */
        const int *srcs[1] = {c->src[i]};
        int *outs[1] = {c->want[i]};
        ck_assert(nmt_translate_ids(alone, srcs, &c->src_len[i], &c->limit[i], 1, &opts, outs, &c->want_len[i], NULL,
                                    &err) == NMT_OK);
        c->n++;
    }
    nmt_translator_state_free(alone);
    tu_golden_free(gold, n_gold);
    ck_assert_int_ge(c->n, 40);
}

static void corpus_close(corpus *c)
{
    for (int i = 0; i < c->n; i++) {
        free(c->src[i]);
        free(c->want[i]);
    }
    nmt_translator_free(c->tr);
}

static void assert_row_output(const nmt_running_batch *rb, int row, const corpus *c, int i)
{
    int n_out;
    const int *out = nmt_running_output(rb, row, &n_out);
    ck_assert_msg(n_out == c->want_len[i], "sentence %d: %d tokens, alone %d", i, n_out, c->want_len[i]);
    for (int t = 0; t < n_out; t++)
        ck_assert_msg(out[t] == c->want[i][t], "sentence %d token %d: %d, alone %d", i, t, out[t], c->want[i][t]);
}

/* Admits sentences in random groups at random steps, cancels a few, and
 * checks every finished row against its alone decoding. */
static void run_schedule(corpus *c, int max_rows, int min_length, unsigned seed)
{
    nmt_err err;
    nmt_running_batch *rb;
    ck_assert(nmt_running_new(&rb, c->tr, max_rows, 512, min_length, &err) == NMT_OK);
    rng = seed;
    int next = 0, done = 0, cancelled = 0, steps = 0, admissions = 0;
    int who[64]; /* row -> sentence, -1 free */
    for (int r = 0; r < 64; r++)
        who[r] = -1;
    int finished[64], rows[64];
    nmt_row_input in[64];
    while (done + cancelled < c->n) {
        int room = max_rows - nmt_running_live(rb);
        if (next < c->n && room > 0 && (nmt_running_live(rb) == 0 || rnd(3) == 0)) {
            int k = 1 + rnd(room), tokens = 0, m = 0;
            while (m < k && next < c->n && tokens + c->src_len[next] <= nmt_running_max_tokens(rb)) {
                in[m] = (nmt_row_input){.ids = c->src[next], .len = c->src_len[next], .limit = c->limit[next]};
                tokens += c->src_len[next];
                m++, next++;
            }
            ck_assert_msg(nmt_running_admit(rb, in, m, rows, &err) == NMT_OK, "%s", err.msg);
            for (int j = 0; j < m; j++) {
                ck_assert_int_eq(who[rows[j]], -1);
                who[rows[j]] = next - m + j;
            }
            admissions++;
        }
        if (nmt_running_live(rb) > 1 && rnd(25) == 0) { /* a client leaves */
            int r = rnd(max_rows);
            if (who[r] >= 0) {
                nmt_running_cancel(rb, r);
                who[r] = -1;
                cancelled++;
            }
        }
        int n_fin = nmt_running_step(rb, finished, NULL);
        steps++;
        for (int j = 0; j < n_fin; j++) {
            int r = finished[j];
            ck_assert_int_ge(who[r], 0);
            assert_row_output(rb, r, c, who[r]);
            who[r] = -1;
            done++;
        }
        ck_assert_int_lt(steps, 100000);
    }
    ck_assert_int_eq(nmt_running_live(rb), 0);
    ck_assert_int_eq(nmt_running_live_tokens(rb), 0);
    ck_assert_int_gt(admissions, 3);
    nmt_running_free(rb);
}

START_TEST(test_continuous_matches_alone_demo)
{
    corpus c;
    corpus_open(&c, tu_demo_model(), 0);
    run_schedule(&c, 8, 0, 1);
    run_schedule(&c, 3, 0, 2);
    run_schedule(&c, 32, 0, 3);
    corpus_close(&c);
}
END_TEST

START_TEST(test_continuous_min_length_per_row)
{
    corpus c;
    corpus_open(&c, tu_demo_model(), 6);
    run_schedule(&c, 8, 6, 4);
    corpus_close(&c);
}
END_TEST

START_TEST(test_admission_limits)
{
    corpus c;
    corpus_open(&c, tu_demo_model(), 0);
    nmt_err err;
    nmt_running_batch *rb;
    ck_assert(nmt_running_new(&rb, c.tr, 2, 1, 0, &err) == NMT_OK);
    nmt_row_input in[3] = {{c.src[0], c.src_len[0], 5}, {c.src[1], c.src_len[1], 5}, {c.src[2], c.src_len[2], 5}};
    int rows[3], finished[2];
    ck_assert_int_eq(nmt_running_admit(rb, in, 3, rows, &err), NMT_ERR_INVALID); /* 3 rows > 2 */
    ck_assert_int_eq(nmt_running_live(rb), 0);
    in[0].limit = 0;
    ck_assert_int_eq(nmt_running_admit(rb, in, 1, rows, &err), NMT_ERR_INVALID);
    in[0].limit = 5;
    ck_assert_int_eq(nmt_running_admit(rb, in, 2, rows, &err), NMT_OK);
    ck_assert_int_eq(nmt_running_live(rb), 2);
    ck_assert_int_eq(nmt_running_live_tokens(rb), c.src_len[0] + c.src_len[1]);
    ck_assert_int_eq(nmt_running_admit(rb, in + 2, 1, rows + 2, &err), NMT_ERR_INVALID); /* full */
    nmt_running_cancel(rb, rows[0]);
    nmt_running_cancel(rb, rows[0]); /* twice: no-op */
    ck_assert_int_eq(nmt_running_live(rb), 1);
    ck_assert_int_eq(nmt_running_live_tokens(rb), c.src_len[1]);
    ck_assert_int_eq(nmt_running_admit(rb, in + 2, 1, rows + 2, &err), NMT_OK); /* the freed row is reused */
    ck_assert_int_eq(rows[2], rows[0]);
    int total = 0;
    while (nmt_running_live(rb) > 0)
        total += nmt_running_step(rb, finished, NULL);
    ck_assert_int_eq(total, 2);
    nmt_running_free(rb);
    corpus_close(&c);
}
END_TEST

static Suite *running_suite(void)
{
    Suite *s = suite_create("running_batch");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_continuous_matches_alone_demo);
    tcase_add_test(tc, test_continuous_min_length_per_row);
    tcase_add_test(tc, test_admission_limits);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(running_suite());
}
