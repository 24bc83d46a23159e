/* check_batcher.c: the micro-batcher's policy and guarantees on a real
 * (tiny, random-weight) model: batches fill by count, by tokens and by
 * waiting time; a request's order is restored across batches; a full queue,
 * an over-long sentence and a closed batcher are refused at once; timeouts,
 * departed clients and shutdown still complete every accepted job. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batcher.h"
#include "testutil.h"

static nmt_translator *tr;

static nmt_translator *de_en, *en_roa; /* two more models: German->English, English->{fr,es,it} */

static void setup(void)
{
    nmt_err err;
    ck_assert_msg(nmt_translator_load(&tr, tu_test_model("tiny-swish"), &err) == NMT_OK, "%s", err.msg);
    ck_assert_msg(nmt_translator_load(&de_en, tu_test_model("tiny-de-en"), &err) == NMT_OK, "%s", err.msg);
    ck_assert_msg(nmt_translator_load(&en_roa, tu_test_model("tiny-en-roa"), &err) == NMT_OK, "%s", err.msg);
}

static void teardown(void)
{
    nmt_translator_free(tr);
    nmt_translator_free(de_en);
    nmt_translator_free(en_roa);
}

/* Completion bookkeeping shared by the callbacks. */
typedef struct tracker {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done;
    nmt_job *jobs[64];
    int batch_sizes[256];
    int n_batches;
    long order[64];       /* slots in the order their jobs completed */
    int gate_state;       /* 0: closed, 1: a worker waits at the gate, 2: open */
    int done_units;       /* the observers' `done`, summed */
} tracker;

static tracker T;

static void tracker_reset(void)
{
    memset(&T, 0, sizeof T);
    pthread_mutex_init(&T.lock, NULL);
    pthread_cond_init(&T.cond, NULL);
}

static void on_done(nmt_job *job, void *user)
{
    pthread_mutex_lock(&T.lock);
    T.jobs[(long)user] = job;
    T.order[T.done] = (long)user;
    T.done++;
    pthread_cond_broadcast(&T.cond);
    pthread_mutex_unlock(&T.lock);
}

static void on_batch(void *user, int model, int sentences, long tokens_in, long tokens_out, int steps, int done)
{
    (void)user, (void)model, (void)tokens_in, (void)tokens_out, (void)steps;
    pthread_mutex_lock(&T.lock);
    if (T.n_batches < 256)
        T.batch_sizes[T.n_batches++] = sentences;
    T.done_units += done;
    pthread_mutex_unlock(&T.lock);
}

/* continuous scheduling: a group admitted together counts as a batch */
static void on_admission(void *user, int model, int sentences) { on_batch(user, model, sentences, 0, 0, 0, 0); }

/* continuous scheduling: a step's sentences that are finally done */
static void on_step(void *user, int model, int live_rows, int finished, long tokens_in, int done)
{
    (void)user, (void)model, (void)live_rows, (void)finished, (void)tokens_in;
    pthread_mutex_lock(&T.lock);
    T.done_units += done;
    pthread_mutex_unlock(&T.lock);
}

static const nmt_batcher_observer observer = {.batch = on_batch, .admission = on_admission, .step = on_step};

static void wait_done(int n)
{
    pthread_mutex_lock(&T.lock);
    while (T.done < n)
        pthread_cond_wait(&T.cond, &T.lock);
    pthread_mutex_unlock(&T.lock);
}

/* The scheduling the tests of a case run under (set by its fixture). */
static nmt_scheduling scheduling = NMT_SCHED_STATIC;
static void use_static(void) { scheduling = NMT_SCHED_STATIC; }
static void use_continuous(void) { scheduling = NMT_SCHED_CONTINUOUS; }

/* A batcher over the three models (0 tiny-swish, 1 tiny-de-en, 2 tiny-en-roa). */
static nmt_batcher *start_models(int workers, int max_sentences, int max_wait_ms, int capacity)
{
    nmt_batcher_opts o = {workers, max_sentences, 4096, max_wait_ms, capacity, 600000, scheduling, 1, 1, 0};
    nmt_translator *models[3] = {tr, de_en, en_roa};
    nmt_batcher *b;
    nmt_err err;
    tracker_reset();
    ck_assert_msg(nmt_batcher_start(&b, models, 3, &o, &observer, &err) == NMT_OK, "%s", err.msg);
    return b;
}

static nmt_batcher *start(int workers, int max_sentences, int max_tokens, int max_wait_ms, int capacity,
                          int timeout_ms)
{
    nmt_batcher_opts o = {workers, max_sentences, max_tokens, max_wait_ms, capacity, timeout_ms, scheduling, 1, 1, 0};
    nmt_batcher *b;
    nmt_err err;
    tracker_reset();
    ck_assert_msg(nmt_batcher_start(&b, &tr, 1, &o, &observer, &err) == NMT_OK, "%s", err.msg);
    return b;
}

/* split into sentences, a generous segment budget */
static const nmt_text_opts TEXT = {.split = 1, .newline_join = 0, .max_units = 1000};

static void submit1(nmt_batcher *b, const char *text, long slot)
{
    size_t len = strlen(text);
    nmt_err err;
    ck_assert_msg(
        nmt_batcher_submit(b, &text, &len, 1, NULL, &TEXT, 0, on_done, NULL, (void *)slot, NULL, NULL, &err) == NMT_OK,
        "%s", err.msg);
}

/* What the translator says for one text alone. */
static char *alone(const char *text)
{
    nmt_translator_state *ctx;
    nmt_err err;
    ck_assert(nmt_translator_state_new(&ctx, tr, 1, 64, &err) == NMT_OK);
    size_t len = strlen(text);
    nmt_translation res;
    ck_assert(nmt_translate(ctx, &text, &len, 1, NULL, &res, NULL, &err) == NMT_OK);
    nmt_translator_state_free(ctx);
    return res.text;
}

static int gate_gone(void *user);

/* What model m says for ids alone. */
static char *alone_ids(const nmt_translator *m, const int *ids, int n)
{
    nmt_err err;
    nmt_translator_state *ctx;
    ck_assert(nmt_translator_state_new(&ctx, m, 1, 256, &err) == NMT_OK);
    int out[256], out_len = 0;
    const int *src[1] = {ids};
    int *outs[1] = {out};
    ck_assert(nmt_translate_ids(ctx, src, &n, NULL, 1, NULL, outs, &out_len, NULL, &err) == NMT_OK);
    char *text_out = NULL;
    ck_assert(nmt_translator_decode(m, out, out_len, &text_out, &err) == NMT_OK);
    nmt_translator_state_free(ctx);
    return text_out;
}

/* What model m says for text, cut into sentences (each starting with
 * lang_token when > 0), each translated alone, put back together. */
static char *alone_on(const nmt_translator *m, int lang_token, const char *text)
{
    nmt_text_plan *plan;
    nmt_text_opts o = {.split = 1, .max_units = 1000, .lang_token = lang_token};
    nmt_err err;
    ck_assert(nmt_text_plan_new(&plan, m, text, strlen(text), &o, &err) == NMT_OK);
    int n = nmt_text_plan_units(plan);
    char **outs = calloc((size_t)n + 1, sizeof *outs);
    for (int u = 0; u < n; u++) {
        int len;
        const int *ids = nmt_text_plan_ids(plan, u, &len);
        ck_assert_int_eq(ids[0], lang_token > 0 ? lang_token : ids[0]);
        outs[u] = nmt_text_plan_unit_empty(plan, u) ? strdup("") : alone_ids(m, ids, len);
    }
    char *joined;
    ck_assert(nmt_text_plan_join(plan, (const char *const *)outs, &joined, &err) == NMT_OK);
    for (int u = 0; u < n; u++)
        free(outs[u]);
    free(outs);
    nmt_text_plan_free(plan);
    return joined;
}

/* One request, four routes: each text is translated by its own model, a
 * multilingual model's texts start every unit with its target token, and a
 * pivoted text is the second model's translation of the first's. */
START_TEST(test_models_and_pivot)
{
    static const char *const texts[] = {"the dog sees the cat", "der hund sieht die katze",
                                        "the old woman reads! the teacher writes", "die kinder spielen"};
    size_t lens[4];
    for (int i = 0; i < 4; i++)
        lens[i] = strlen(texts[i]);
    int fra = nmt_translator_lang_token_id(en_roa, "fra"), spa = nmt_translator_lang_token_id(en_roa, "spa");
    ck_assert_int_gt(fra, 0);
    nmt_route routes[4] = {{.model = 0},
                           {.model = 1},
                           {.model = 2, .lang_token = fra},
                           {.model = 1, .pivot = 1, .then_model = 2, .then_lang_token = spa}};
    nmt_batcher *b = start_models(2, 4, 1, 100);
    nmt_err err;
    int units = 0;
    ck_assert(nmt_batcher_submit(b, texts, lens, 4, routes, &TEXT, 0, on_done, NULL, (void *)0L, NULL, &units, &err) ==
              NMT_OK);
    ck_assert_int_eq(units, 5); /* text 2 is two sentences */
    wait_done(1);
    nmt_job *job = T.jobs[0];
    ck_assert_int_eq(nmt_job_status_of(job), NMT_JOB_OK);
    char *want[4];
    want[0] = alone_on(tr, 0, texts[0]);
    want[1] = alone_on(de_en, 0, texts[1]);
    char *s1 = alone_on(en_roa, fra, "the old woman reads!"), *s2 = alone_on(en_roa, fra, "the teacher writes");
    want[2] = malloc(strlen(s1) + strlen(s2) + 2);
    sprintf(want[2], "%s %s", s1, s2);
    char *first = alone_on(de_en, 0, texts[3]);
    want[3] = alone_on(en_roa, spa, first); /* too long for en_roa as one unit: cut into pieces */
    for (int i = 0; i < 4; i++) {
        ck_assert_msg(strcmp(nmt_job_text(job, i), want[i]) == 0, "text %d: '%s' vs '%s'", i, nmt_job_text(job, i),
                      want[i]);
        free(want[i]);
    }
    /* each of the 5 sentences counted done once: a pivoted one not on its
     * first model, nor once per piece on its second */
    pthread_mutex_lock(&T.lock);
    ck_assert_int_eq(T.done_units, 5);
    pthread_mutex_unlock(&T.lock);
    /* the token matters: French and Spanish differ on this model */
    char *spanish = alone_on(en_roa, spa, "the old woman reads!");
    ck_assert_str_ne(spanish, s1);
    free(spanish);
    free(s1);
    free(s2);
    free(first);
    nmt_job_free(job);
    /* a route to a model that is not there is refused */
    nmt_route bad = {.model = 3};
    ck_assert_int_eq(nmt_batcher_submit(b, texts, lens, 1, &bad, &TEXT, 0, on_done, NULL, NULL, NULL, NULL, &err),
                     NMT_ERR_INVALID);
    nmt_batcher_free(b);
}
END_TEST

/* One worker, a flood of work for model 0, then one request for model 1:
 * it is served after at most a batch or two of model 0's, not after all of
 * them (model 0 alone would take 40 jobs / 4 per batch = 10 rounds). */
START_TEST(test_models_fair)
{
    nmt_batcher *b = start_models(1, 4, 0, 100);
    const char *flood = "the old woman reads the new newspaper in the garden";
    size_t flood_len = strlen(flood);
    nmt_err err;
    /* the first job holds the worker at the gate while the rest queues */
    ck_assert(nmt_batcher_submit(b, &flood, &flood_len, 1, NULL, &TEXT, 0, on_done, gate_gone, (void *)0L, NULL, NULL,
                                 &err) == NMT_OK);
    pthread_mutex_lock(&T.lock);
    while (T.gate_state != 1)
        pthread_cond_wait(&T.cond, &T.lock);
    pthread_mutex_unlock(&T.lock);
    for (long i = 1; i < 40; i++)
        submit1(b, flood, i);
    const char *text = "der hund sieht die katze";
    size_t len = strlen(text);
    nmt_route r = {.model = 1};
    ck_assert(nmt_batcher_submit(b, &text, &len, 1, &r, &TEXT, 0, on_done, NULL, (void *)40L, NULL, NULL, &err) ==
              NMT_OK);
    ck_assert_int_eq(nmt_batcher_queue_depth(b, 0), 39);
    ck_assert_int_eq(nmt_batcher_queue_depth(b, 1), 1);
    ck_assert_int_eq(nmt_batcher_queue_depth(b, -1), 40);
    pthread_mutex_lock(&T.lock);
    T.gate_state = 2;
    pthread_cond_broadcast(&T.cond);
    pthread_mutex_unlock(&T.lock);
    wait_done(41);
    int position = -1;
    for (int i = 0; i < 41; i++)
        if (T.order[i] == 40)
            position = i;
    ck_assert_msg(position >= 0 && position <= 12, "model 1's request finished as number %d of 41", position + 1);
    for (int i = 0; i < 41; i++)
        nmt_job_free(T.jobs[i]);
    nmt_batcher_free(b);
}
END_TEST

/* Weights on demand: the three models opened without their weights, at
 * most one resident.  Each loads when its work is taken, the least
 * recently used idle one is unloaded first, and every answer equals the
 * preloaded models' answer.  Counted through the observer (called under
 * the batcher's lock). */
static int w_loaded, w_peak, w_loads, w_unloads;
static void on_weights(void *user, int model, int loaded, double seconds)
{
    (void)user, (void)model, (void)seconds;
    pthread_mutex_lock(&T.lock);
    w_loaded += loaded ? 1 : -1;
    w_loads += loaded;
    w_unloads += !loaded;
    if (w_loaded > w_peak)
        w_peak = w_loaded;
    pthread_mutex_unlock(&T.lock);
}

static const nmt_translator_opts LAZY = {.load_weights = 0, .compute = NMT_COMPUTE_FLOAT32};

static nmt_batcher *start_lazy(nmt_translator **lazy, int workers, int max_loaded)
{
    nmt_batcher_opts o = {workers, 4, 4096, 1, 100, 600000, scheduling, 1, 1, max_loaded};
    nmt_batcher_observer obs = observer;
    obs.weights = on_weights;
    nmt_batcher *b;
    nmt_err err;
    tracker_reset();
    w_loaded = w_peak = w_loads = w_unloads = 0;
    ck_assert_msg(nmt_batcher_start(&b, lazy, 3, &o, &obs, &err) == NMT_OK, "%s", err.msg);
    return b;
}

START_TEST(test_models_on_demand)
{
    nmt_translator *lazy[3];
    const char *names[3] = {"tiny-swish", "tiny-de-en", "tiny-en-roa"};
    nmt_err err;
    for (int m = 0; m < 3; m++) {
        ck_assert_msg(nmt_translator_open(&lazy[m], tu_test_model(names[m]), &LAZY, &err) == NMT_OK, "%s", err.msg);
        ck_assert(!nmt_translator_weights_loaded(lazy[m]));
    }
    nmt_batcher *b = start_lazy(lazy, 2, 1);
    static const char *const texts[3] = {"the dog sees the cat", "der hund sieht die katze", "the teacher writes"};
    int fra = nmt_translator_lang_token_id(en_roa, "fra");
    nmt_route routes[3] = {{.model = 0}, {.model = 1}, {.model = 2, .lang_token = fra}};
    char *want[3] = {alone_on(tr, 0, texts[0]), alone_on(de_en, 0, texts[1]), alone_on(en_roa, fra, texts[2])};
    /* one model after another, twice: each request loads its model and unloads the last */
    int order[6] = {1, 2, 0, 1, 0, 2};
    for (int k = 0; k < 6; k++) {
        int m = order[k];
        size_t len = strlen(texts[m]);
        ck_assert(nmt_batcher_submit(b, &texts[m], &len, 1, &routes[m], &TEXT, 0, on_done, NULL, (void *)(long)k,
                                     NULL, NULL, &err) == NMT_OK);
        wait_done(k + 1);
        ck_assert_int_eq(nmt_job_status_of(T.jobs[k]), NMT_JOB_OK);
        ck_assert_str_eq(nmt_job_text(T.jobs[k], 0), want[m]);
        nmt_job_free(T.jobs[k]);
    }
    pthread_mutex_lock(&T.lock);
    ck_assert_int_eq(w_loads, 6);
    ck_assert_int_eq(w_unloads, 5);
    ck_assert_int_eq(w_peak, 1);
    pthread_mutex_unlock(&T.lock);
    /* all three at once in one request, then pivoted: over the bound only while all are decoded */
    size_t lens[3] = {strlen(texts[0]), strlen(texts[1]), strlen(texts[2])};
    ck_assert(nmt_batcher_submit(b, texts, lens, 3, routes, &TEXT, 0, on_done, NULL, (void *)6L, NULL, NULL, &err) ==
              NMT_OK);
    wait_done(7);
    ck_assert_int_eq(nmt_job_status_of(T.jobs[6]), NMT_JOB_OK);
    for (int m = 0; m < 3; m++)
        ck_assert_str_eq(nmt_job_text(T.jobs[6], m), want[m]);
    nmt_job_free(T.jobs[6]);
    nmt_batcher_close(b, 10000); /* waits until the workers are idle: every batch has ended */
    pthread_mutex_lock(&T.lock);
    ck_assert_int_le(w_peak, 2); /* two workers decode at most two models at once */
    ck_assert_int_eq(w_loaded, 1);
    pthread_mutex_unlock(&T.lock);
    nmt_batcher_free(b);
    for (int m = 0; m < 3; m++) {
        free(want[m]);
        nmt_translator_free(lazy[m]);
    }
}
END_TEST

/* A model whose weights cannot load when its work comes (the file was
 * damaged after start-up): its requests fail, another model's do not, and
 * the next request tries again. */
START_TEST(test_model_load_fails)
{
    char *dir = tu_tmpdir();
    tu_copy_dir(tu_test_model("tiny-de-en"), dir);
    nmt_translator *lazy[3];
    nmt_err err;
    ck_assert(nmt_translator_open(&lazy[0], tu_test_model("tiny-swish"), &LAZY, &err) == NMT_OK);
    ck_assert(nmt_translator_open(&lazy[1], dir, &LAZY, &err) == NMT_OK);
    ck_assert(nmt_translator_open(&lazy[2], tu_test_model("tiny-en-roa"), &LAZY, &err) == NMT_OK);
    tu_write_file(dir, "model.safetensors", "broken", 6);
    nmt_batcher *b = start_lazy(lazy, 1, 0);
    const char *texts[2] = {"der hund sieht die katze", "the dog sees the cat"};
    size_t lens[2] = {strlen(texts[0]), strlen(texts[1])};
    nmt_route to_de_en = {.model = 1}, to_swish = {.model = 0};
    ck_assert(nmt_batcher_submit(b, &texts[0], &lens[0], 1, &to_de_en, &TEXT, 0, on_done, NULL, (void *)0L, NULL,
                                 NULL, &err) == NMT_OK);
    wait_done(1);
    ck_assert_int_eq(nmt_job_status_of(T.jobs[0]), NMT_JOB_FAILED);
    ck_assert(nmt_batcher_submit(b, &texts[1], &lens[1], 1, &to_swish, &TEXT, 0, on_done, NULL, (void *)1L, NULL,
                                 NULL, &err) == NMT_OK);
    wait_done(2);
    ck_assert_int_eq(nmt_job_status_of(T.jobs[1]), NMT_JOB_OK);
    /* mended: the next request loads it */
    tu_copy_dir(tu_test_model("tiny-de-en"), dir);
    ck_assert(nmt_batcher_submit(b, &texts[0], &lens[0], 1, &to_de_en, &TEXT, 0, on_done, NULL, (void *)2L, NULL,
                                 NULL, &err) == NMT_OK);
    wait_done(3);
    ck_assert_int_eq(nmt_job_status_of(T.jobs[2]), NMT_JOB_OK);
    char *want = alone_on(de_en, 0, texts[0]);
    ck_assert_str_eq(nmt_job_text(T.jobs[2], 0), want);
    free(want);
    for (int i = 0; i < 3; i++)
        nmt_job_free(T.jobs[i]);
    nmt_batcher_free(b);
    for (int m = 0; m < 3; m++)
        nmt_translator_free(lazy[m]);
    tu_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(test_fills_by_count)
{
    /* waiting would take a minute: only a full batch can start decoding */
    nmt_batcher *b = start(1, 4, 4096, 60000, 100, 600000);
    for (long i = 0; i < 4; i++)
        submit1(b, "the dog sees the cat", i);
    wait_done(4);
    ck_assert_int_eq(T.n_batches, 1);
    ck_assert_int_eq(T.batch_sizes[0], 4);
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(nmt_job_status_of(T.jobs[i]), NMT_JOB_OK);
        nmt_job_free(T.jobs[i]);
    }
    nmt_batcher_free(b);
}
END_TEST

START_TEST(test_fills_by_tokens)
{
    /* three sentences of n tokens, a token cap of 2n + 1: the queue holds
     * enough tokens to start a batch at once, and the batch takes two; the
     * third goes alone once it has waited max_wait_ms */
    const char *text = "the children play in the garden today";
    int ids[256], n = 0;
    nmt_err err;
    ck_assert(nmt_translator_encode(tr, text, strlen(text), ids, 256, &n, &err) == NMT_OK);
    nmt_batcher *b = start(1, 100, 2 * n + 1, 200, 100, 600000);
    for (long i = 0; i < 3; i++)
        submit1(b, text, i);
    wait_done(3);
    ck_assert_int_eq(T.n_batches, 2);
    ck_assert_int_eq(T.batch_sizes[0], 2);
    ck_assert_int_eq(T.batch_sizes[1], 1);
    for (int i = 0; i < 3; i++)
        nmt_job_free(T.jobs[i]);
    nmt_batcher_free(b);
}
END_TEST

START_TEST(test_fills_by_waiting_time)
{
    /* one sentence can never fill a batch of 8: only max_wait_ms releases it */
    nmt_batcher *b = start(2, 8, 4096, 20, 100, 600000);
    submit1(b, "the dog", 0);
    wait_done(1);
    ck_assert_int_eq(T.batch_sizes[0], 1);
    ck_assert_int_eq(nmt_job_status_of(T.jobs[0]), NMT_JOB_OK);
    nmt_job_free(T.jobs[0]);
    nmt_batcher_free(b);
}
END_TEST

START_TEST(test_order_restored_across_batches)
{
    static const char *const texts[] = {"a", "the old woman reads the new newspaper", "we", "hello world",
                                        "", "the teacher gives the girl a red book", "they write",
                                        "why did the doctor write a letter", "is it", "thank you"};
    int n = 10;
    size_t lens[10];
    for (int i = 0; i < n; i++)
        lens[i] = strlen(texts[i]);
    nmt_batcher *b = start(2, 3, 4096, 1, 100, 600000);
    nmt_err err;
    ck_assert(nmt_batcher_submit(b, texts, lens, n, NULL, &TEXT, 0, on_done, NULL, (void *)0L, NULL, NULL, &err) == NMT_OK);
    wait_done(1);
    nmt_job *job = T.jobs[0];
    ck_assert_int_eq(nmt_job_status_of(job), NMT_JOB_OK);
    ck_assert_int_eq(nmt_job_count(job), n);
    ck_assert_int_ge(T.n_batches, 3); /* 9 sentences to decode, at most 3 per batch */
    for (int i = 0; i < n; i++) {
        char *want = alone(texts[i]);
        ck_assert_msg(strcmp(nmt_job_text(job, i), want) == 0, "sentence %d: '%s' vs '%s'", i,
                      nmt_job_text(job, i), want);
        free(want);
    }
    ck_assert_str_eq(nmt_job_text(job, 4), "");
    ck_assert_int_gt(nmt_job_tokens_out(job), 0);
    nmt_job_free(job);
    nmt_batcher_free(b);
}
END_TEST

/* A paragraph's sentences are separate items: decoded in several batches
 * (at most 2 per batch here), and the answer is their one-by-one
 * translations in the paragraph's own gaps. */
START_TEST(test_paragraph_sentences_are_items)
{
    static const char *const sentences[] = {"The dog sees the cat.", "Twenty one.", "The old man reads.",
                                            "Here our daughter visits the rooms.", "Nine!"};
    static const char *const gaps[] = {"  ", " ", "\n\n", "\t", "\r\n", " \n"};
    char text[512] = "", want[16384] = "";
    strcat(text, gaps[0]);
    strcat(want, gaps[0]);
    for (int i = 0; i < 5; i++) {
        char *t = alone(sentences[i]);
        strcat(text, sentences[i]);
        strcat(text, gaps[i + 1]);
        strcat(want, t);
        strcat(want, gaps[i + 1]);
        free(t);
    }
    nmt_batcher *b = start(2, 2, 4096, 1, 100, 600000);
    const char *texts[1] = {text};
    size_t lens[1] = {strlen(text)};
    nmt_err err;
    int units = 0;
    ck_assert(nmt_batcher_submit(b, texts, lens, 1, NULL, &TEXT, 0, on_done, NULL, (void *)0L, NULL, &units, &err) == NMT_OK);
    ck_assert_int_eq(units, 5);
    wait_done(1);
    ck_assert_int_eq(nmt_job_status_of(T.jobs[0]), NMT_JOB_OK);
    ck_assert_int_ge(T.n_batches, 3);
    ck_assert_str_eq(nmt_job_text(T.jobs[0], 0), want);
    nmt_job_free(T.jobs[0]);
    nmt_batcher_free(b);
}
END_TEST

START_TEST(test_refusals)
{
    nmt_batcher *b = start(1, 4, 4096, 60000, 5, 600000);
    const char *six[6] = {"a", "b", "c", "d", "e", "f"};
    size_t lens[6] = {1, 1, 1, 1, 1, 1};
    nmt_err err;
    int bad = -1;
    ck_assert_int_eq(nmt_batcher_submit(b, six, lens, 6, NULL, &TEXT, 0, on_done, NULL, NULL, &bad, NULL, &err), NMT_ERR_BUSY);
    ck_assert_ptr_nonnull(strstr(err.msg, "queue full"));
    /* a long text is wrapped, not refused; too many segments are */
    const char *two[2] = {"fine", "One. Two. Three."};
    size_t two_lens[2] = {4, strlen(two[1])};
    nmt_text_opts three = {.split = 1, .max_units = 3};
    ck_assert_int_eq(nmt_batcher_submit(b, two, two_lens, 2, NULL, &three, 0, on_done, NULL, NULL, &bad, NULL, &err),
                     NMT_ERR_TOO_LONG);
    ck_assert_int_eq(bad, 1);
    ck_assert_ptr_nonnull(strstr(err.msg, "more than 3 segments"));
    /* an empty request completes inside submit */
    ck_assert(nmt_batcher_submit(b, NULL, NULL, 0, NULL, &TEXT, 0, on_done, NULL, (void *)0L, NULL, NULL, &err) == NMT_OK);
    ck_assert_int_eq(T.done, 1);
    nmt_job_free(T.jobs[0]);
    nmt_batcher_close(b, 0);
    ck_assert_int_eq(nmt_batcher_submit(b, six, lens, 1, NULL, &TEXT, 0, on_done, NULL, NULL, &bad, NULL, &err), NMT_ERR_CLOSED);
    nmt_batcher_free(b);
}
END_TEST

START_TEST(test_close_answers_what_waits)
{
    /* nothing can start (batch of 100, a minute's wait) until close */
    nmt_batcher *b = start(1, 100, 100000, 60000, 100, 600000);
    for (long i = 0; i < 5; i++)
        submit1(b, "the dog sees the cat", i);
    ck_assert_int_eq(nmt_batcher_queue_depth(b, -1), 5);
    nmt_batcher_close(b, 10000); /* drains: the workers take what is queued */
    ck_assert_int_eq(T.done, 5);
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(nmt_job_status_of(T.jobs[i]), NMT_JOB_OK);
        nmt_job_free(T.jobs[i]);
    }
    nmt_batcher_free(b);
    /* with no grace at all, waiting jobs are answered as shut down */
    b = start(1, 100, 100000, 60000, 100, 600000);
    for (long i = 0; i < 3; i++)
        submit1(b, "the dog sees the cat", i);
    nmt_batcher_close(b, 0);
    ck_assert_int_eq(T.done, 3);
    for (int i = 0; i < 3; i++) {
        nmt_job_status s = nmt_job_status_of(T.jobs[i]);
        ck_assert(s == NMT_JOB_SHUTDOWN || s == NMT_JOB_OK);
        nmt_job_free(T.jobs[i]);
    }
    nmt_batcher_free(b);
}
END_TEST

START_TEST(test_timeout)
{
    /* a request may wait 1 ms, but a batch only starts after 300 ms */
    nmt_batcher *b = start(1, 100, 100000, 300, 100, 1);
    submit1(b, "the dog sees the cat", 0);
    wait_done(1);
    ck_assert_int_eq(nmt_job_status_of(T.jobs[0]), NMT_JOB_TIMEOUT);
    ck_assert_ptr_null(nmt_job_text(T.jobs[0], 0));
    nmt_job_free(T.jobs[0]);
    nmt_batcher_free(b);
}
END_TEST

static int always_gone(void *user)
{
    (void)user;
    return 1;
}

START_TEST(test_client_gone_is_not_decoded)
{
    nmt_batcher *b = start(1, 4, 4096, 1, 100, 600000);
    const char *texts[2] = {"the dog", "the cat"};
    size_t lens[2] = {7, 7};
    nmt_err err;
    ck_assert(nmt_batcher_submit(b, texts, lens, 2, NULL, &TEXT, 0, on_done, always_gone, (void *)0L, NULL, NULL, &err) == NMT_OK);
    wait_done(1);
    ck_assert_int_eq(nmt_job_status_of(T.jobs[0]), NMT_JOB_CANCELLED);
    ck_assert_int_eq(T.n_batches, 0); /* nothing was decoded */
    nmt_job_free(T.jobs[0]);
    nmt_batcher_free(b);
}
END_TEST

/* A gone() that holds the worker at its first call until the test opens
 * the gate: the job is then certainly being decoded (continuous) or about
 * to be (static). */
static int gate_gone(void *user)
{
    (void)user;
    pthread_mutex_lock(&T.lock);
    if (T.gate_state == 0) {
        T.gate_state = 1;
        pthread_cond_broadcast(&T.cond);
        while (T.gate_state != 2)
            pthread_cond_wait(&T.cond, &T.lock);
    }
    pthread_mutex_unlock(&T.lock);
    return 0;
}

/* A long sentence is decoding (end-of-sequence made impossible, so it runs
 * to its 60-token limit) when a 2-token one arrives: continuous scheduling
 * lets the short one join and finish first; static makes it wait. */
START_TEST(test_short_joins_running_long)
{
    char *dir = tu_tmpdir();
    tu_copy_dir(tu_test_model("tiny-swish"), dir);
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    tu_st st;
    tu_st_read(&st, path);
    ((float *)tu_st_get(&st, "final_logits_bias")->data)[0] -= 1000.0f; /* eos (id 0) never wins */
    tu_st_write(&st, path);
    tu_st_free(&st);
    nmt_translator *saved = tr;
    nmt_err err;
    ck_assert_msg(nmt_translator_load(&tr, dir, &err) == NMT_OK, "%s", err.msg);
    nmt_batcher *b = start(1, 4, 4096, 0, 100, 600000);
    const char *long_text = "the dog sees the cat", *short_text = "a";
    size_t long_len = strlen(long_text), short_len = 1;
    ck_assert(nmt_batcher_submit(b, &long_text, &long_len, 1, NULL, &TEXT, 60, on_done, gate_gone, (void *)0L, NULL, NULL,
                                 &err) == NMT_OK);
    pthread_mutex_lock(&T.lock);
    while (T.gate_state != 1)
        pthread_cond_wait(&T.cond, &T.lock);
    pthread_mutex_unlock(&T.lock);
    ck_assert(nmt_batcher_submit(b, &short_text, &short_len, 1, NULL, &TEXT, 2, on_done, NULL, (void *)1L, NULL, NULL,
                                 &err) == NMT_OK);
    pthread_mutex_lock(&T.lock);
    T.gate_state = 2;
    pthread_cond_broadcast(&T.cond);
    pthread_mutex_unlock(&T.lock);
    wait_done(2);
    ck_assert_int_eq(nmt_job_status_of(T.jobs[0]), NMT_JOB_OK);
    ck_assert_int_eq(nmt_job_status_of(T.jobs[1]), NMT_JOB_OK);
    ck_assert_int_eq(nmt_job_tokens_out(T.jobs[0]), 60);
    ck_assert_int_eq(nmt_job_tokens_out(T.jobs[1]), 2);
    if (scheduling == NMT_SCHED_CONTINUOUS)
        ck_assert_msg(T.order[0] == 1, "the short request finished after the long one");
    else
        ck_assert_msg(T.order[0] == 0, "static scheduling let the short request overtake");
    nmt_job_free(T.jobs[0]);
    nmt_job_free(T.jobs[1]);
    nmt_batcher_free(b);
    nmt_translator_free(tr);
    tr = saved;
    tu_rmtree(dir);
    free(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("batcher");
    TCase *tc = tcase_create("policy");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_unchecked_fixture(tc, use_static, NULL);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_fills_by_count);
    tcase_add_test(tc, test_fills_by_tokens);
    tcase_add_test(tc, test_fills_by_waiting_time);
    tcase_add_test(tc, test_order_restored_across_batches);
    tcase_add_test(tc, test_paragraph_sentences_are_items);
    tcase_add_test(tc, test_refusals);
    tcase_add_test(tc, test_close_answers_what_waits);
    tcase_add_test(tc, test_timeout);
    tcase_add_test(tc, test_client_gone_is_not_decoded);
    tcase_add_test(tc, test_short_joins_running_long);
    tcase_add_test(tc, test_models_and_pivot);
    tcase_add_test(tc, test_models_fair);
    tcase_add_test(tc, test_models_on_demand);
    tcase_add_test(tc, test_model_load_fails);
    suite_add_tcase(s, tc);
    /* the guarantees again under continuous scheduling */
    TCase *cont = tcase_create("continuous");
    tcase_add_checked_fixture(cont, use_continuous, NULL);
    tcase_add_checked_fixture(cont, setup, teardown);
    tcase_set_timeout(cont, 120);
    tcase_add_test(cont, test_order_restored_across_batches);
    tcase_add_test(cont, test_paragraph_sentences_are_items);
    tcase_add_test(cont, test_refusals);
    tcase_add_test(cont, test_close_answers_what_waits);
    tcase_add_test(cont, test_timeout);
    tcase_add_test(cont, test_client_gone_is_not_decoded);
    tcase_add_test(cont, test_short_joins_running_long);
    tcase_add_test(cont, test_models_and_pivot);
    tcase_add_test(cont, test_models_fair);
    tcase_add_test(cont, test_models_on_demand);
    tcase_add_test(cont, test_model_load_fails);
    suite_add_tcase(s, cont);
    return tu_run(s);
}
