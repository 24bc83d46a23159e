/* check_search.c: the greedy loop's stopping rules and batching invariants,
 * on committed random models (some with logit biases edited so that the
 * expected behaviour is certain). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "bf16_gemm.h"
#include "encoder.h"
#include "translator.h"

static char *dir;

static void setup(void)
{
    dir = tu_tmpdir();
    tu_copy_dir(tu_test_model("tiny-swish"), dir);
}

static void teardown(void)
{
    tu_rmtree(dir);
    free(dir);
}

/* Adds delta to final_logits_bias[id] of the copy in dir. */
static void bias_token(int id, float delta)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    tu_st st;
    tu_st_read(&st, path);
    tu_tensor *b = tu_st_get(&st, "final_logits_bias");
    ck_assert_ptr_nonnull(b);
    ck_assert_str_eq(b->dtype, "F32");
    ((float *)b->data)[id] += delta;
    tu_st_write(&st, path);
    tu_st_free(&st);
}

/* Deterministic source ids: n-1 ordinary ids then eos. */
static void make_source(const nmt_hparams *hp, int *ids, int n, int seed)
{
    for (int i = 0; i < n - 1; i++)
        ids[i] = 2 + (seed * 31 + i * 17) % (hp->vocab_size - 3);
    ids[n - 1] = hp->eos_id;
}

enum { MAX_IDS = 256 }; /* ids a sentence may have, source or output */

typedef struct run {
    nmt_translator *tr;
    nmt_translator_state *ctx;
    int *src[16], src_len[16], *out[16], out_len[16];
} run;

static void run_open_as(run *r, const char *model_dir, int max_batch, nmt_compute_type compute)
{
    nmt_err err;
    memset(r, 0, sizeof *r);
    nmt_translator_opts opts = {.load_weights = 1, .compute = compute};
    ck_assert_msg(nmt_translator_open(&r->tr, model_dir, &opts, &err) == NMT_OK, "%s", err.msg);
    ck_assert_msg(nmt_translator_state_new(&r->ctx, r->tr, max_batch, 256, &err) == NMT_OK, "%s", err.msg);
    for (int i = 0; i < 16; i++) {
        r->src[i] = calloc(MAX_IDS, sizeof(int));
        r->out[i] = calloc(MAX_IDS, sizeof(int));
    }
}

static void run_open(run *r, const char *model_dir, int max_batch)
{
    run_open_as(r, model_dir, max_batch, NMT_COMPUTE_FLOAT32);
}

static void run_close(run *r)
{
    for (int i = 0; i < 16; i++) {
        free(r->src[i]);
        free(r->out[i]);
    }
    nmt_translator_state_free(r->ctx);
    nmt_translator_free(r->tr);
}

static void decode(run *r, int n, const nmt_translate_opts *opts)
{
    nmt_err err;
    ck_assert_msg(nmt_translate_ids(r->ctx, (const int *const *)r->src, r->src_len, NULL, n, opts, r->out, r->out_len,
                                    NULL, &err) == NMT_OK,
                  "%s", err.msg);
}

START_TEST(test_stops_at_eos)
{
    bias_token(0, 1000.0f); /* eos (id 0) always wins */
    run r;
    run_open(&r, dir, 4);
    for (int i = 0; i < 3; i++) {
        r.src_len[i] = 3 + 4 * i;
        make_source(&nmt_translator_model(r.tr)->hp, r.src[i], r.src_len[i], i);
    }
    decode(&r, 3, NULL);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(r.out_len[i], 1);
        ck_assert_int_eq(r.out[i][0], nmt_translator_model(r.tr)->hp.eos_id);
    }
    /* min_length holds end-of-sequence back until the 5th token */
    nmt_translate_opts opts = {.min_length = 5};
    decode(&r, 3, &opts);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(r.out_len[i], 5);
        ck_assert_int_eq(r.out[i][4], nmt_translator_model(r.tr)->hp.eos_id);
        for (int j = 0; j < 4; j++)
            ck_assert_int_ne(r.out[i][j], nmt_translator_model(r.tr)->hp.eos_id);
    }
    run_close(&r);
}
END_TEST

START_TEST(test_stops_at_length_limit)
{
    bias_token(0, -1000.0f); /* eos never wins */
    run r;
    run_open(&r, dir, 4);
    const nmt_hparams *hp = &nmt_translator_model(r.tr)->hp;
    ck_assert_int_eq(hp->max_length, 64);
    int lens[3] = {5, 20, 40};
    for (int i = 0; i < 3; i++) {
        r.src_len[i] = lens[i];
        make_source(hp, r.src[i], lens[i], i);
    }
    decode(&r, 3, NULL);
    /* default limit: min(max_length 64, max_position_embeddings 64, 2 * source + 10) */
    ck_assert_int_eq(r.out_len[0], 20);
    ck_assert_int_eq(r.out_len[1], 50);
    ck_assert_int_eq(r.out_len[2], 64);
    nmt_translate_opts opts = {.max_length = 7};
    decode(&r, 3, &opts);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(r.out_len[i], 7);
    opts.max_length = 1000; /* capped by the positions */
    decode(&r, 1, &opts);
    ck_assert_int_eq(r.out_len[0], 64);
    run_close(&r);
}
END_TEST

START_TEST(test_pad_never_chosen)
{
    bias_token(299, 1000.0f); /* pad would win every step */
    run r;
    run_open(&r, dir, 4);
    const nmt_hparams *hp = &nmt_translator_model(r.tr)->hp;
    ck_assert_int_eq(hp->pad_id, 299);
    r.src_len[0] = 6;
    make_source(hp, r.src[0], 6, 1);
    decode(&r, 1, NULL);
    ck_assert_int_gt(r.out_len[0], 0);
    for (int j = 0; j < r.out_len[0]; j++)
        ck_assert_int_ne(r.out[0][j], hp->pad_id);
    run_close(&r);
}
END_TEST

/* A batch of mixed lengths gives exactly the ids of one-by-one decoding, on
 * every committed model (different activations, dtypes, ids). */
/* A batch of 11 sentences (156 source tokens: the encoder and the cross
 * keys and values go a group of NMT_ENCODE_ROWS rows at a time) gives each
 * sentence what it gets alone, in every compute type (bfloat16 scatters
 * its cross keys and values from scratch a group at a time).  Not
 * bfloat16 on AMX: its tiles' order of accumulation is not specified bit
 * for bit, and a row's sums may differ with the block it falls in. */
START_TEST(test_batch_equals_one_by_one)
{
    static const char *const models[] = {"tiny-swish", "tiny-relu-eos", "tiny-bf16", "tiny-swish", "tiny-swish"};
    static const nmt_compute_type computes[] = {NMT_COMPUTE_FLOAT32, NMT_COMPUTE_FLOAT32, NMT_COMPUTE_FLOAT32,
                                                NMT_COMPUTE_BFLOAT16, NMT_COMPUTE_INT8};
    for (size_t m = 0; m < 5; m++) {
        if (computes[m] == NMT_COMPUTE_BFLOAT16 && strcmp(nmt_bf16_kernel_name(), "amx") == 0)
            continue;
        run batch, single;
        run_open_as(&batch, tu_test_model(models[m]), 16, computes[m]);
        run_open_as(&single, tu_test_model(models[m]), 1, computes[m]);
        const nmt_hparams *hp = &nmt_translator_model(batch.tr)->hp;
        int n = 11;
        for (int i = 0; i < n; i++) {
            batch.src_len[i] = single.src_len[0] = 1 + (i * 7) % 30;
            make_source(hp, batch.src[i], batch.src_len[i], i);
        }
        decode(&batch, n, NULL);
        int total_out = 0;
        for (int i = 0; i < n; i++) {
            single.src_len[0] = batch.src_len[i];
            memcpy(single.src[0], batch.src[i], (size_t)batch.src_len[i] * sizeof(int));
            decode(&single, 1, NULL);
            ck_assert_msg(single.out_len[0] == batch.out_len[i], "%s sentence %d: %d ids alone, %d in a batch",
                          models[m], i, single.out_len[0], batch.out_len[i]);
            for (int j = 0; j < single.out_len[0]; j++)
                ck_assert_int_eq(single.out[0][j], batch.out[i][j]);
            total_out += batch.out_len[i];
        }
        ck_assert_int_gt(total_out, n); /* not trivially all-eos */
        int total_src = 0;
        for (int i = 0; i < n; i++)
            total_src += batch.src_len[i];
        ck_assert_int_gt(total_src, NMT_ENCODE_ROWS); /* more than one group */
        run_close(&batch);
        run_close(&single);
    }
}
END_TEST

/* A sentence longer than a group (NMT_ENCODE_ROWS source tokens) is a
 * group of its own: between two short ones in a batch it gets what it gets
 * alone, and so do they, in every compute type (not bfloat16 on AMX, as
 * above).  The tiny model's copy takes 300 positions (Marian's sinusoids
 * are computed, not stored). */
START_TEST(test_long_sentence_is_a_group_of_its_own)
{
    tu_replace_in_file(dir, "config.json", "\"max_position_embeddings\": 64", "\"max_position_embeddings\": 300");
    static const nmt_compute_type computes[] = {NMT_COMPUTE_FLOAT32, NMT_COMPUTE_BFLOAT16, NMT_COMPUTE_INT8};
    static const int lens[] = {5, 200, 9};
    nmt_translate_opts opts = {.max_length = 40};
    for (size_t c = 0; c < 3; c++) {
        if (computes[c] == NMT_COMPUTE_BFLOAT16 && strcmp(nmt_bf16_kernel_name(), "amx") == 0)
            continue;
        run batch, single;
        run_open_as(&batch, dir, 16, computes[c]);
        run_open_as(&single, dir, 1, computes[c]);
        const nmt_hparams *hp = &nmt_translator_model(batch.tr)->hp;
        ck_assert_int_eq(hp->max_pos, 300);
        ck_assert_int_gt(lens[1], NMT_ENCODE_ROWS);
        for (int i = 0; i < 3; i++) {
            batch.src_len[i] = lens[i];
            make_source(hp, batch.src[i], lens[i], 40 + i);
        }
        decode(&batch, 3, &opts);
        for (int i = 0; i < 3; i++) {
            single.src_len[0] = lens[i];
            memcpy(single.src[0], batch.src[i], (size_t)lens[i] * sizeof(int));
            decode(&single, 1, &opts);
            ck_assert_msg(single.out_len[0] == batch.out_len[i] && single.out_len[0] > 1,
                          "compute %zu sentence %d: %d ids alone, %d in a batch", c, i, single.out_len[0],
                          batch.out_len[i]);
            for (int j = 0; j < single.out_len[0]; j++)
                ck_assert_msg(single.out[0][j] == batch.out[i][j], "compute %zu sentence %d id %d: %d alone, %d in a batch",
                              c, i, j, single.out[0][j], batch.out[i][j]);
        }
        run_close(&batch);
        run_close(&single);
    }
}
END_TEST

static Suite *search_suite(void)
{
    Suite *s = suite_create("search");
    TCase *tc = tcase_create("greedy");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_stops_at_eos);
    tcase_add_test(tc, test_stops_at_length_limit);
    tcase_add_test(tc, test_pad_never_chosen);
    tcase_add_test(tc, test_batch_equals_one_by_one);
    tcase_add_test(tc, test_long_sentence_is_a_group_of_its_own);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run(search_suite());
}
