/* batcher.c: one bounded FIFO of sentences per model, worker threads
 * shared by all models that cut them into batches, and per-request
 * completion.
 *
 * Design.  Each model's queue is an array in arrival order (index 0 is the
 * oldest); a worker picks a model (pick_model: the least recently taken
 * among those whose batch is ready), always takes its oldest sentence, so
 * every sentence makes progress, and fills the batch with the sentences
 * closest to it in length among the next few (4 x max_batch_sentences)
 * waiting, to limit padding work.  A worker holds the decoding state of one
 * model at a time and rebuilds it when it moves to another, or when that
 * model's weights were loaded again (weights on demand: load_weights,
 * unload_excess).  Removing taken sentences compacts the array: the queue
 * is bounded, so this is cheap.  Everything under b->lock is bookkeeping
 * (and unloading, which only frees); tokenization (in submit, on the
 * caller's thread), loading, decoding and detokenization run
 * outside it.  A job completes when its last sentence is accounted for;
 * done() is called after the lock is released.  Expired jobs are swept from
 * the queue whenever a worker cuts a batch, so a 504 does not wait for its
 * sentences to reach the head. */
#include "batcher.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "running_batch.h"
#include "text_plan.h"
#include "util.h"

struct nmt_job {
    int n;                   /* texts */
    nmt_route *routes;       /* [n] */
    int *unit_text;          /* [n_units] the text a unit belongs to */
    unsigned char *unit_stage;  /* [n_units] 1 once a pivoted unit went to its second model */
    unsigned char *unit_forward;/* [n_units] set by the worker: stage 1 done, go to the second model */
    int **unit_pivot_ids;    /* [n_units] the second model's ids of a pivoted unit (malloc'd) */
    struct pivot_split **unit_split; /* [n_units] a first translation too long for the second model as one */
    int n_units;             /* the units (segments, wrapped pieces) of all texts */
    int remaining;           /* units not yet accounted for (lock) */
    nmt_job_status status;   /* lock */
    nmt_text_plan **plans;   /* [n] */
    int *first_unit;         /* [n + 1]: text i's units are first_unit[i] .. first_unit[i + 1] - 1 */
    const int **unit_ids;    /* [n_units] into the plans */
    int *unit_len;           /* [n_units] */
    char **unit_out;         /* [n_units] translations; each slot written by one worker */
    char **texts;            /* [n] the joined translations, once complete and OK */
    int max_length;
    long tokens_out;
    double t_submit;

    nmt_job_done_fn done;
    nmt_job_gone_fn gone;
    void *user;
};

/* A pivoted unit whose first translation is too long for its second model
 * in one piece: cut into sentences (and wrapped) for that model; the
 * unit's result is the pieces' translations joined. */
typedef struct pivot_split {
    nmt_text_plan *plan;
    char **out; /* [units of plan] */
} pivot_split;

typedef struct item {
    nmt_job *job;
    int index;               /* the unit; -1 - unit once skipped (client gone) */
    int piece;               /* 0: the whole unit; k > 0: piece k - 1 of its pivot_split */
    int n_ids;
    double t_enq;
} item;

typedef struct candidate {
    int distance;
    int pos;
} candidate;

/* One model's queue and the scheduling facts about it (lock). */
typedef struct model_queue {
    nmt_translator *tr;
    int resident;            /* its weights are loaded */
    int loading;             /* a worker is loading them */
    unsigned generation;     /* counts loads: a worker's state is of one generation */
    double last_used;        /* when a worker last took or finished work of it (unloading order) */
    item *items;             /* [queue_capacity + pivot room], oldest first */
    int count, cap;
    long tokens;
    double last_taken;       /* when a worker last took sentences of it (round robin) */
    int serving;             /* workers decoding rows or a batch of it */
} model_queue;

typedef struct worker {
    nmt_batcher *b;
    pthread_t thread;
    int started;
    int model;               /* the model whose state the worker holds; -1: none */
    unsigned generation;     /* ... made for that load of its weights */
    unsigned want_generation;/* the generation of the model taken (read under the lock) */
    int batch_model;         /* continuous: the model whose rows this worker counts in serving */
    int draining;            /* continuous: stopped admitting so that another model gets a worker */
    nmt_translator_state *state;
    item *batch;             /* [max_batch_sentences] */
    const int **src;
    int *src_len, *limit, *out_len;
    int **out;               /* [max_batch_sentences][max_pos] */
    int *out_pool;
    nmt_job **gone_cache;    /* jobs found gone in this batch */
    struct candidate *cands; /* [4 * max_batch_sentences] */
    unsigned char *taken;    /* [4 * max_batch_sentences] */
    nmt_job **completed;     /* [completed_cap] jobs to call done() for */
    int completed_cap;
    /* continuous scheduling */
    nmt_running_batch *rb;
    item *row_item;          /* [max_batch_sentences] the item each running row decodes */
    nmt_row_input *inputs;   /* [max_batch_sentences] */
    int *rows, *finished;    /* [max_batch_sentences] */
    int *admitted;           /* [max_batch_sentences] positions in batch of the sentences admitted */
    int active;              /* counted in b->busy: has live rows or is stepping */
    int admit_failed;
    unsigned char *leave;    /* [max_batch_sentences] rows to cancel after this step */
    int since_admit;         /* steps since the last admission */
} worker;

struct nmt_batcher {
    model_queue *models;     /* [n_models] */
    int n_models;
    int max_pos;             /* the largest position limit of the models */
    nmt_batcher_opts o;
    nmt_batcher_observer obs;
    pthread_mutex_t lock;
    pthread_cond_t work;     /* something to do, or closing */
    pthread_cond_t idle;     /* queues empty and no batch in flight */
    int count;               /* sentences waiting in all queues */
    int n_draining;          /* workers draining for another model */
    int busy;                /* workers decoding a batch */
    int running;             /* worker threads inside worker_main */
    double last_progress;    /* when a batch last started or finished */
    int closing, stopping, closed;
    int n_resident;          /* models whose weights are loaded or loading */
    worker *workers;
    int n_workers;
};

static struct timespec abs_deadline(double seconds_from_now)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double whole = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 + seconds_from_now;
    ts.tv_sec = (time_t)whole;
    ts.tv_nsec = (long)((whole - (double)ts.tv_sec) * 1e9);
    return ts;
}

/* ---- jobs ------------------------------------------------------------- */

nmt_job_status nmt_job_status_of(const nmt_job *job) { return job->status; }
int nmt_job_count(const nmt_job *job) { return job->n; }
const char *nmt_job_text(const nmt_job *job, int i)
{
    return job->status == NMT_JOB_OK && i >= 0 && i < job->n ? job->texts[i] : NULL;
}
int nmt_job_units(const nmt_job *job) { return job->n_units; }
long nmt_job_tokens_out(const nmt_job *job) { return job->tokens_out; }

void nmt_job_free(nmt_job *job)
{
    if (!job)
        return;
    for (int i = 0; job->texts && i < job->n; i++)
        free(job->texts[i]);
    for (int i = 0; job->plans && i < job->n; i++)
        nmt_text_plan_free(job->plans[i]);
    for (int u = 0; job->unit_out && u < job->n_units; u++)
        free(job->unit_out[u]);
    for (int u = 0; job->unit_pivot_ids && u < job->n_units; u++)
        free(job->unit_pivot_ids[u]);
    for (int u = 0; job->unit_split && u < job->n_units; u++) {
        pivot_split *sp = job->unit_split[u];
        if (!sp)
            continue;
        for (int k = 0; sp->out && k < nmt_text_plan_units(sp->plan); k++)
            free(sp->out[k]);
        free(sp->out);
        nmt_text_plan_free(sp->plan);
        free(sp);
    }
    free(job->unit_split);
    free(job->unit_pivot_ids);
    free(job->unit_text);
    free(job->unit_stage);
    free(job->unit_forward);
    free(job->routes);
    free(job->texts);
    free(job->plans);
    free(job->first_unit);
    free(job->unit_ids);
    free(job->unit_len);
    free(job->unit_out);
    free(job);
}

/* Marks a job failed and drops its queued sentences (lock held).  Returns
 * 1 when that completed it. */
static int fail_job(nmt_batcher *b, nmt_job *job, nmt_job_status status)
{
    if (job->status == NMT_JOB_OK)
        job->status = status;
    for (int m = 0; m < b->n_models; m++) {
        model_queue *q = &b->models[m];
        int kept = 0;
        for (int i = 0; i < q->count; i++) {
            if (q->items[i].job == job) {
                q->tokens -= q->items[i].n_ids;
                job->remaining--;
            } else {
                q->items[kept++] = q->items[i];
            }
        }
        b->count -= q->count - kept;
        q->count = kept;
    }
    return job->remaining == 0;
}

/* ---- workers ---------------------------------------------------------- */

static int by_distance(const void *a, const void *b)
{
    const candidate *x = a, *y = b;
    return x->distance != y->distance ? (x->distance < y->distance ? -1 : 1) : (x->pos - y->pos);
}

/* Times out expired jobs still queued (lock held); appends completed jobs. */
static void sweep_expired(nmt_batcher *b, double now, nmt_job **completed, int *n_completed, int max_completed)
{
    double timeout = b->o.request_timeout_ms / 1000.0;
    for (int m = 0; m < b->n_models; m++) {
        model_queue *q = &b->models[m];
        for (int i = 0; i < q->count && *n_completed < max_completed;) {
            nmt_job *job = q->items[i].job;
            if (now - job->t_submit > timeout) {
                if (fail_job(b, job, NMT_JOB_TIMEOUT))
                    completed[(*n_completed)++] = job;
                i = 0; /* the queue was compacted */
            } else {
                i++;
            }
        }
    }
}

/* Moves the next batch of model m from its queue into w->batch (lock
 * held): the oldest sentence and those nearest its length, at most max_n
 * sentences and max_tokens source tokens (the oldest alone may exceed them). */
static int take_batch(nmt_batcher *b, worker *w, int m, double now, int max_n, long max_tokens)
{
    model_queue *q = &b->models[m];
    int window = q->count < 4 * b->o.max_batch_sentences ? q->count : 4 * b->o.max_batch_sentences;
    candidate *cands = w->cands;
    int head_len = q->items[0].n_ids;
    for (int i = 0; i < window; i++) {
        int d = q->items[i].n_ids - head_len;
        cands[i].distance = i == 0 ? -1 : (d < 0 ? -d : d);
        cands[i].pos = i;
    }
    qsort(cands, (size_t)window, sizeof *cands, by_distance);
    unsigned char *taken = w->taken;
    for (int i = 0; i < window; i++)
        taken[i] = 0;
    int n = 0;
    long tokens = 0;
    for (int c = 0; c < window && n < max_n; c++) {
        const item *it = &q->items[cands[c].pos];
        if (n > 0 && tokens + it->n_ids > max_tokens)
            continue;
        taken[cands[c].pos] = 1;
        tokens += it->n_ids;
        w->batch[n++] = *it;
    }
    int kept = 0;
    for (int i = 0; i < q->count; i++)
        if (i >= window || !taken[i])
            q->items[kept++] = q->items[i];
    b->count -= q->count - kept;
    q->count = kept;
    q->tokens -= tokens;
    q->last_taken = now;
    q->last_used = now;
    w->want_generation = q->generation;
    if (b->obs.queue_wait)
        for (int i = 0; i < n; i++)
            b->obs.queue_wait(b->obs.user, m, now - w->batch[i].t_enq);
    return n;
}

static int item_unit(const item *it) { return it->index < 0 ? -1 - it->index : it->index; }

/* The source ids an item decodes. */
static const int *item_ids(const item *it, int *len)
{
    const nmt_job *job = it->job;
    int u = item_unit(it);
    if (it->piece)
        return nmt_text_plan_ids(job->unit_split[u]->plan, it->piece - 1, len);
    *len = job->unit_len[u];
    return job->unit_ids[u];
}

/* Where an item's translation goes. */
static char **item_out(const item *it)
{
    nmt_job *job = it->job;
    int u = item_unit(it);
    return it->piece ? &job->unit_split[u]->out[it->piece - 1] : &job->unit_out[u];
}

/* A first translation too long for the second model as one unit: cut it
 * for that model (no lock held).  0, or -1 (logged). */
static int split_for_pivot(nmt_batcher *b, nmt_job *job, int unit, const nmt_route *r, const char *text)
{
    pivot_split *sp = calloc(1, sizeof *sp);
    nmt_err err;
    nmt_text_opts o = {.split = 1, .newline_join = 0, .max_units = 1 << 20, .lang_token = r->then_lang_token};
    if (!sp || nmt_text_plan_new(&sp->plan, b->models[r->then_model].tr, text, strlen(text), &o, &err) != NMT_OK ||
        !(sp->out = calloc((size_t)nmt_text_plan_units(sp->plan) + 1, sizeof *sp->out))) {
        nmt_error("batcher", "pivot: cannot cut a first translation for the second model");
        if (sp)
            nmt_text_plan_free(sp->plan);
        free(sp);
        return -1;
    }
    job->unit_split[unit] = sp;
    return 0;
}

/* A unit's translation by the worker's model (no lock held; text may be
 * NULL: failed).  The first translation of a pivoted unit is tokenized for
 * its second model and marked to go there; otherwise it is the result. */
static void unit_translated(nmt_batcher *b, const item *it, char *text)
{
    nmt_job *job = it->job;
    int unit = item_unit(it);
    const nmt_route *r = &job->routes[job->unit_text[unit]];
    if (it->piece || !r->pivot || job->unit_stage[unit] || !text || !text[0]) {
        *item_out(it) = text; /* each slot is written by one worker only */
        return;
    }
    const nmt_translator *tr = b->models[r->then_model].tr;
    int cap = nmt_translator_max_positions(tr), prefix = r->then_lang_token > 0, n = 0;
    int *ids = malloc(((size_t)cap + 1) * sizeof *ids);
    nmt_err err;
    nmt_code rc = ids ? nmt_translator_encode(tr, text, strlen(text), ids + prefix, cap - prefix, &n, &err)
                      : nmt_err_set(&err, NMT_ERR_NOMEM, "out of memory");
    if (rc == NMT_ERR_TOO_LONG) {
        free(ids);
        if (split_for_pivot(b, job, unit, r, text) == 0)
            job->unit_forward[unit] = 1;
        free(text);
        return;
    }
    free(text);
    if (rc) {
        nmt_error("batcher", "pivot: a first translation cannot be tokenized for the second model (%s)", err.msg);
        free(ids);
        job->unit_out[unit] = NULL;
        return;
    }
    if (prefix)
        ids[0] = r->then_lang_token;
    job->unit_pivot_ids[unit] = ids;
    job->unit_ids[unit] = ids;
    job->unit_len[unit] = n + prefix;
    job->unit_forward[unit] = 1;
}

/* The generation limit of an item in its current model: the request's
 * max_length, except in a pivoted unit's first model. */
static int item_limit(const nmt_batcher *b, int model, const item *it)
{
    const nmt_job *job = it->job;
    int unit = item_unit(it), len;
    const nmt_route *r = &job->routes[job->unit_text[unit]];
    int max_length = r->pivot && !job->unit_stage[unit] ? 0 : job->max_length;
    item_ids(it, &len);
    return nmt_translator_limit(b->models[model].tr, len, &(nmt_translate_opts){.max_length = max_length});
}

/* Whether a decoded item counts as a finished sentence of its request (for
 * the observers' `done`): a unit that goes on to its second model does
 * not; a unit cut into pieces for its second model counts once, with its
 * first piece. */
static int final_result(const nmt_job *job, const item *it)
{
    return it->piece ? it->piece == 1 : !job->unit_forward[it->index];
}

/* Decodes the live sentences of a batch (no lock held). */
static void run_batch(nmt_batcher *b, worker *w, int n)
{
    const nmt_translator *tr = b->models[w->model].tr;
    int m = 0, n_gone = 0;
    for (int i = 0; i < n; i++) {
        nmt_job *job = w->batch[i].job;
        if (job->gone) {
            int known = 0;
            for (int g = 0; g < n_gone && !known; g++)
                known = w->gone_cache[g] == job;
            if (known || job->gone(job->user)) {
                if (!known)
                    w->gone_cache[n_gone++] = job;
                w->batch[i].index = -1 - w->batch[i].index; /* skip; marked cancelled later */
                continue;
            }
        }
        w->src[m] = item_ids(&w->batch[i], &w->src_len[m]);
        w->limit[m] = item_limit(b, w->model, &w->batch[i]);
        m++;
    }
    if (m == 0)
        return;
    nmt_search_stats stats = {0, 0};
    nmt_err err;
    /* gather outputs in batch order of the live items */
    if (nmt_translate_ids(w->state, w->src, w->src_len, w->limit, m, NULL, w->out, w->out_len, &stats, &err)) {
        nmt_error("batcher", "decoding failed: %s", err.msg);
        for (int i = 0; i < n; i++)
            if (w->batch[i].index >= 0)
                *item_out(&w->batch[i]) = NULL;
        return;
    }
    long tokens_in = 0;
    int done = 0;
    for (int i = 0, k = 0; i < n; i++) {
        if (w->batch[i].index < 0)
            continue;
        nmt_job *job = w->batch[i].job;
        char *text = NULL;
        if (nmt_translator_decode(tr, w->out[k], w->out_len[k], &text, &err))
            nmt_error("batcher", "detokenization failed: %s", err.msg);
        unit_translated(b, &w->batch[i], text);
        done += final_result(job, &w->batch[i]);
        tokens_in += w->src_len[k];
        __atomic_add_fetch(&job->tokens_out, w->out_len[k], __ATOMIC_RELAXED);
        k++;
    }
    if (b->obs.batch)
        b->obs.batch(b->obs.user, w->model, m, tokens_in, stats.tokens_out, stats.steps, done);
}

/* Accounts for one unit of job (lock held): translated (status NMT_JOB_OK)
 * or not (the reason).  A job that fails loses its other queued units; a job
 * with nothing left goes to completed. */
static void settle_unit(nmt_batcher *b, nmt_job *job, nmt_job_status status, nmt_job **completed, int *n_completed)
{
    if (status != NMT_JOB_OK && job->status == NMT_JOB_OK)
        job->status = status;
    job->remaining--;
    if (job->status != NMT_JOB_OK && job->remaining > 0)
        fail_job(b, job, job->status); /* drop its other queued sentences */
    if (job->remaining == 0)
        completed[(*n_completed)++] = job;
}

/* How a unit that was given to the decoder ended. */
static nmt_job_status unit_outcome(const item *it)
{
    if (it->index < 0)
        return NMT_JOB_CANCELLED;
    return *item_out(it) ? NMT_JOB_OK : NMT_JOB_FAILED;
}

/* Queues item it at the back of model m, past its capacity (lock held). */
static int enqueue_forced(nmt_batcher *b, int m, item it)
{
    model_queue *q = &b->models[m];
    if (q->count == q->cap) {
        int cap = 2 * q->cap;
        item *grown = realloc(q->items, (size_t)cap * sizeof *grown);
        if (!grown)
            return -1;
        q->items = grown;
        q->cap = cap;
    }
    q->items[q->count++] = it;
    q->tokens += it.n_ids;
    b->count++;
    return 0;
}

/* Accounts for a unit a worker is done with (lock held): a pivoted unit
 * whose first translation is ready goes to its second model's queue;
 * anything else is settled (unit_outcome). */
static void unit_done(nmt_batcher *b, const item *it, nmt_job **completed, int *n_completed)
{
    nmt_job *job = it->job;
    if (it->index >= 0 && !it->piece && job->unit_forward[it->index]) {
        int u = it->index, then = job->routes[job->unit_text[u]].then_model;
        job->unit_forward[u] = 0;
        job->unit_stage[u] = 1;
        nmt_job_status why = job->status != NMT_JOB_OK ? job->status : b->stopping ? NMT_JOB_SHUTDOWN : NMT_JOB_OK;
        if (why == NMT_JOB_OK && !job->unit_split[u]) {
            item next = {.job = job, .index = u, .n_ids = job->unit_len[u], .t_enq = nmt_now_s()};
            if (enqueue_forced(b, then, next) == 0) {
                pthread_cond_signal(&b->work);
                return;
            }
            nmt_error("batcher", "out of memory queueing a pivoted sentence");
            why = NMT_JOB_FAILED;
        } else if (why == NMT_JOB_OK) { /* its pieces replace it: each is counted in remaining */
            const nmt_text_plan *plan = job->unit_split[u]->plan;
            for (int k = 0; k < nmt_text_plan_units(plan) && why == NMT_JOB_OK; k++) {
                int len;
                nmt_text_plan_ids(plan, k, &len);
                item piece = {.job = job, .index = u, .piece = k + 1, .n_ids = len, .t_enq = nmt_now_s()};
                if (nmt_text_plan_unit_empty(plan, k))
                    why = (job->unit_split[u]->out[k] = strdup("")) ? NMT_JOB_OK : NMT_JOB_FAILED;
                else if (enqueue_forced(b, then, piece) == 0)
                    job->remaining++;
                else
                    why = NMT_JOB_FAILED;
            }
            pthread_cond_signal(&b->work);
        }
        settle_unit(b, job, why, completed, n_completed);
        return;
    }
    settle_unit(b, job, unit_outcome(it), completed, n_completed);
}

/* Accounts for a finished batch (lock held); appends completed jobs. */
static void finish_batch(nmt_batcher *b, worker *w, int n, nmt_job **completed, int *n_completed)
{
    for (int i = 0; i < n; i++)
        unit_done(b, &w->batch[i], completed, n_completed);
}

/* A job whose units are all translated: each text put back together with
 * its gaps (no lock held; the job is no longer shared). */
static void join_texts(nmt_job *job)
{
    if (job->status != NMT_JOB_OK)
        return;
    for (int u = 0; u < job->n_units; u++) {
        nmt_err err;
        if (job->unit_split[u] && nmt_text_plan_join(job->unit_split[u]->plan,
                                                     (const char *const *)job->unit_split[u]->out, &job->unit_out[u],
                                                     &err)) {
            nmt_error("batcher", "joining a pivoted translation failed: %s", err.msg);
            job->status = NMT_JOB_FAILED;
            return;
        }
    }
    for (int i = 0; i < job->n; i++) {
        nmt_err err;
        if (nmt_text_plan_join(job->plans[i], (const char *const *)job->unit_out + job->first_unit[i],
                               &job->texts[i], &err)) {
            nmt_error("batcher", "joining a translation failed: %s", err.msg);
            job->status = NMT_JOB_FAILED;
            return;
        }
    }
}

static void complete_all(nmt_job **jobs, int n)
{
    for (int i = 0; i < n; i++) {
        join_texts(jobs[i]);
        jobs[i]->done(jobs[i], jobs[i]->user);
    }
}

/* Whether model m's next batch may start now (lock held): it is full, its
 * oldest sentence has waited max_wait_ms, or the batcher is closing.
 * Otherwise *wait_s is how long until the oldest has waited enough. */
static int batch_ready(const nmt_batcher *b, int m, double now, double *wait_s)
{
    const model_queue *q = &b->models[m];
    double waited = now - q->items[0].t_enq, max_wait = b->o.max_wait_ms / 1000.0;
    if (b->closing || q->count >= b->o.max_batch_sentences || q->tokens >= b->o.max_batch_tokens ||
        waited >= max_wait)
        return 1;
    *wait_s = max_wait - waited;
    return 0;
}

/* The model an idle worker serves next (lock held): among those whose
 * batch is ready and that no other worker is loading, the one taken least
 * recently (then the one whose oldest sentence waited longest); -1 when
 * none is ready, with *wait_s the time until the first will be. */
static int pick_model(const nmt_batcher *b, double now, double *wait_s)
{
    int best = -1;
    *wait_s = 1e9;
    for (int m = 0; m < b->n_models; m++) {
        const model_queue *q = &b->models[m];
        double w;
        if (q->count == 0 || q->loading)
            continue;
        if (!batch_ready(b, m, now, &w)) {
            if (w < *wait_s)
                *wait_s = w;
            continue;
        }
        const model_queue *bq = best >= 0 ? &b->models[best] : NULL;
        if (!bq || q->last_taken < bq->last_taken ||
            (q->last_taken == bq->last_taken && q->items[0].t_enq < bq->items[0].t_enq))
            best = m;
    }
    return best;
}

/* Continuous scheduling: whether a worker decoding model m should stop
 * admitting so that it can move to a model that has work and no worker
 * (lock held).  One draining worker per such model is enough. */
static int should_drain(const nmt_batcher *b, int m)
{
    int unserved = 0;
    for (int k = 0; k < b->n_models; k++)
        unserved += k != m && b->models[k].count > 0 && b->models[k].serving == 0;
    return unserved > b->n_draining;
}

/* What an idle worker does next (lock held; may wait on b->work):
 * WAIT_TAKE with *model set, WAIT_AGAIN or WAIT_STOP. */
enum { WAIT_TAKE, WAIT_AGAIN, WAIT_STOP };
static int wait_for_batch(nmt_batcher *b, worker *w, double now, int *model)
{
    if (b->count == 0) {
        if (b->stopping)
            return WAIT_STOP;
        pthread_cond_wait(&b->work, &b->lock);
        return WAIT_AGAIN;
    }
    int n_completed = 0;
    sweep_expired(b, now, w->completed, &n_completed, w->completed_cap - b->o.max_batch_sentences);
    if (n_completed) {
        pthread_mutex_unlock(&b->lock);
        complete_all(w->completed, n_completed);
        pthread_mutex_lock(&b->lock);
        return WAIT_AGAIN;
    }
    if (b->count == 0)
        return WAIT_AGAIN;
    /* a batch that is not full waits for more, up to max_wait_ms for its oldest */
    double wait_s;
    *model = pick_model(b, now, &wait_s);
    if (*model < 0) {
        struct timespec until = abs_deadline(wait_s);
        pthread_cond_timedwait(&b->work, &b->lock, &until);
        return WAIT_AGAIN;
    }
    return WAIT_TAKE;
}

/* After a batch or a step (lock held): wakes close() and other workers,
 * then completes the jobs that ended, without the lock. */
static void end_round(nmt_batcher *b, worker *w, int n_completed)
{
    if (b->count == 0 && b->busy == 0)
        pthread_cond_broadcast(&b->idle);
    if (b->count > 0)
        pthread_cond_signal(&b->work);
    if (n_completed) {
        pthread_mutex_unlock(&b->lock);
        complete_all(w->completed, n_completed);
        pthread_mutex_lock(&b->lock);
    }
}

/* Makes the worker's decoding state that of model m (no lock held): a
 * worker holds one model's state at a time.  0, or -1 (logged) when it
 * cannot be built. */
static int hold_model(nmt_batcher *b, worker *w, int m)
{
    if (w->model == m && w->generation == w->want_generation)
        return 0;
    nmt_translator_state_free(w->state);
    nmt_running_free(w->rb);
    w->state = NULL;
    w->rb = NULL;
    w->model = -1;
    nmt_err err;
    const nmt_translator *tr = b->models[m].tr;
    int B = b->o.max_batch_sentences;
    nmt_code rc = b->o.scheduling == NMT_SCHED_STATIC
                      ? nmt_translator_state_new(&w->state, tr, B, b->o.max_batch_tokens, &err)
                      : nmt_running_new(&w->rb, tr, B, b->o.max_batch_tokens, 0, &err);
    if (rc) {
        nmt_error("batcher", "cannot build a worker's state for model %s: %s", nmt_translator_name(tr), err.msg);
        return -1;
    }
    w->model = m;
    w->generation = w->want_generation;
    return 0;
}

/* ---- weights on demand ------------------------------------------------ */

/* Unloads least recently used models that no worker decodes or loads
 * until at most max_loaded_models are resident (lock held; unloading is
 * freeing memory, quick).  Models with nothing queued go first. */
static void unload_excess(nmt_batcher *b)
{
    while (b->o.max_loaded_models > 0 && b->n_resident > b->o.max_loaded_models) {
        int victim = -1;
        for (int m = 0; m < b->n_models; m++) {
            const model_queue *q = &b->models[m];
            if (!q->resident || q->loading || q->serving > 0)
                continue;
            const model_queue *v = victim >= 0 ? &b->models[victim] : NULL;
            if (!v || (q->count == 0) > (v->count == 0) ||
                ((q->count == 0) == (v->count == 0) && q->last_used < v->last_used))
                victim = m;
        }
        if (victim < 0)
            return; /* every loaded model is being decoded: unload once one is done */
        model_queue *q = &b->models[victim];
        nmt_translator_unload_weights(q->tr);
        q->resident = 0;
        b->n_resident--;
        nmt_info("batcher", "model %s unloaded (max_loaded_models %d)", nmt_translator_name(q->tr),
                 b->o.max_loaded_models);
        if (b->obs.weights)
            b->obs.weights(b->obs.user, victim, 0, 0.0);
    }
}

/* Loads the weights of model m, whose work this worker picked (lock held;
 * released while loading).  The model counts as served meanwhile, so no
 * other worker loads it, drains for it or unloads it.  When loading
 * fails, its queued requests fail (500) and the next request tries again. */
static void load_weights(nmt_batcher *b, worker *w, int m)
{
    model_queue *q = &b->models[m];
    q->loading = 1;
    q->serving++;
    b->busy++;
    b->n_resident++;
    unload_excess(b);
    pthread_mutex_unlock(&b->lock);
    double t0 = nmt_now_s();
    nmt_err err;
    nmt_code rc = nmt_translator_load_weights(q->tr, &err);
    double seconds = nmt_now_s() - t0;
    if (rc)
        nmt_error("batcher", "cannot load model %s: %s", nmt_translator_name(q->tr), err.msg);
    else
        nmt_info("batcher", "model %s loaded on first use in %.2f s", nmt_translator_name(q->tr), seconds);
    pthread_mutex_lock(&b->lock);
    q->loading = 0;
    q->serving--;
    b->busy--;
    b->last_progress = nmt_now_s();
    int n_completed = 0;
    if (rc == NMT_OK) {
        q->resident = 1;
        q->generation++;
        if (b->obs.weights)
            b->obs.weights(b->obs.user, m, 1, seconds);
    } else {
        b->n_resident--;
        while (q->count > 0 && n_completed < w->completed_cap) {
            nmt_job *job = q->items[0].job;
            if (fail_job(b, job, NMT_JOB_FAILED))
                w->completed[n_completed++] = job;
        }
    }
    pthread_cond_broadcast(&b->work);
    end_round(b, w, n_completed);
}

static void *worker_continuous(worker *w);

static void *worker_main(void *arg)
{
    worker *w = arg;
    nmt_batcher *b = w->b;
    if (b->o.scheduling == NMT_SCHED_CONTINUOUS)
        return worker_continuous(w);
    pthread_mutex_lock(&b->lock);
    b->running++;
    for (;;) {
        double now = nmt_now_s();
        int m = -1;
        int next = wait_for_batch(b, w, now, &m);
        if (next == WAIT_STOP)
            break;
        if (next == WAIT_AGAIN)
            continue;
        if (!b->models[m].resident) {
            load_weights(b, w, m);
            continue;
        }
        int n_completed = 0;
        int n = take_batch(b, w, m, now, b->o.max_batch_sentences, b->o.max_batch_tokens);
        b->busy++;
        b->models[m].serving++;
        b->last_progress = now;
        pthread_mutex_unlock(&b->lock);
        if (hold_model(b, w, m) == 0) {
            run_batch(b, w, n);
        } else {
            for (int i = 0; i < n; i++)
                *item_out(&w->batch[i]) = NULL; /* failed */
        }
        pthread_mutex_lock(&b->lock);
        b->busy--;
        b->models[m].serving--;
        b->last_progress = b->models[m].last_used = nmt_now_s();
        unload_excess(b);
        finish_batch(b, w, n, w->completed, &n_completed);
        end_round(b, w, n_completed);
    }
    b->running--;
    pthread_mutex_unlock(&b->lock);
    return NULL;
}

/* ---- continuous scheduling ---------------------------------------------- */

/* Whether a gone() answer for job was already asked this step (cache). */
static int job_gone(worker *w, nmt_job *job, int *n_gone)
{
    if (!job->gone)
        return 0;
    for (int g = 0; g < *n_gone; g++)
        if (w->gone_cache[g] == job)
            return 1;
    if (!job->gone(job->user))
        return 0;
    w->gone_cache[(*n_gone)++] = job;
    return 1;
}

/* Admits the n items of w->batch into the running batch (no lock held);
 * items whose client has gone are marked (index < 0) and not admitted. */
static void admit_items(nmt_batcher *b, worker *w, int n, int *n_gone)
{
    int m = 0;
    for (int i = 0; i < n; i++) {
        nmt_job *job = w->batch[i].job;
        if (job_gone(w, job, n_gone)) {
            w->batch[i].index = -1 - w->batch[i].index;
            continue;
        }
        int len;
        const int *ids = item_ids(&w->batch[i], &len);
        w->inputs[m] = (nmt_row_input){.ids = ids, .len = len, .limit = item_limit(b, w->model, &w->batch[i])};
        w->admitted[m++] = i;
    }
    if (m == 0)
        return;
    nmt_err err;
    if (nmt_running_admit(w->rb, w->inputs, m, w->rows, &err)) { /* cannot happen within the caps */
        nmt_error("batcher", "admission failed: %s", err.msg);
        w->admit_failed = 1;
        for (int i = 0; i < m; i++)
            w->batch[w->admitted[i]].index = -1 - w->batch[w->admitted[i]].index;
        return;
    }
    for (int i = 0; i < m; i++)
        w->row_item[w->rows[i]] = w->batch[w->admitted[i]];
    if (b->obs.admission)
        b->obs.admission(b->obs.user, w->model, m);
}

/* One step; the finished rows' translations go into their jobs (no lock
 * held).  Returns how many rows finished (their numbers in w->finished). */
static int step_rows(nmt_batcher *b, worker *w)
{
    int live = w->rb ? nmt_running_live(w->rb) : 0;
    if (live == 0)
        return 0;
    const nmt_translator *tr = b->models[w->model].tr;
    int n_fin = nmt_running_step(w->rb, w->finished, NULL), done = 0;
    long tokens_in = 0;
    for (int f = 0; f < n_fin; f++) {
        int row = w->finished[f], n_out;
        const int *ids = nmt_running_output(w->rb, row, &n_out);
        const item *it = &w->row_item[row];
        nmt_job *job = it->job;
        char *text = NULL;
        nmt_err err;
        int len;
        if (nmt_translator_decode(tr, ids, n_out, &text, &err))
            nmt_error("batcher", "detokenization failed: %s", err.msg);
        item_ids(it, &len);
        tokens_in += len;
        unit_translated(b, it, text);
        done += final_result(job, it);
        __atomic_add_fetch(&job->tokens_out, n_out, __ATOMIC_RELAXED);
    }
    if (b->obs.step)
        b->obs.step(b->obs.user, w->model, live, n_fin, tokens_in, done);
    return n_fin;
}

/* A worker under continuous scheduling: admit, step, let rows leave. */
static void *worker_continuous(worker *w)
{
    nmt_batcher *b = w->b;
    int B = b->o.max_batch_sentences;
    pthread_mutex_lock(&b->lock);
    b->running++;
    w->since_admit = b->o.admit_interval_steps;
    for (;;) {
        int live = w->rb ? nmt_running_live(w->rb) : 0, n_completed = 0;
        double now = nmt_now_s();
        int m = w->model;
        if (live == 0) { /* idle: wait for work as a static worker does */
            int next = wait_for_batch(b, w, now, &m);
            if (next == WAIT_STOP)
                break;
            if (next == WAIT_AGAIN)
                continue;
            if (!b->models[m].resident) {
                load_weights(b, w, m);
                continue;
            }
        } else if (!w->draining && should_drain(b, m)) {
            w->draining = 1; /* another model waits with no worker: finish these rows, then move */
            b->n_draining++;
        }
        /* admission: the oldest waiting sentence first, while rows and tokens allow */
        model_queue *q = &b->models[m];
        int n_take = 0, free_rows = B - live;
        long token_room = b->o.max_batch_tokens - (live ? nmt_running_live_tokens(w->rb) : 0);
        if (live && token_room > nmt_running_max_tokens(w->rb))
            token_room = nmt_running_max_tokens(w->rb);
        if (q->count > 0 && free_rows > 0 &&
            (live == 0 || (!w->draining && free_rows >= b->o.admit_min_rows &&
                           w->since_admit >= b->o.admit_interval_steps && q->items[0].n_ids <= token_room)))
            n_take = take_batch(b, w, m, now, free_rows, token_room);
        if (n_take > 0)
            w->since_admit = 0;
        if (!w->active) {
            w->active = 1;
            b->busy++;
            b->models[m].serving++;
            w->batch_model = m;
        }
        b->last_progress = now;
        pthread_mutex_unlock(&b->lock);

        int n_gone = 0;
        w->admit_failed = 0;
        if (n_take > 0) {
            if (hold_model(b, w, m) == 0) {
                admit_items(b, w, n_take, &n_gone);
            } else {
                w->admit_failed = 1;
                for (int i = 0; i < n_take; i++)
                    w->batch[i].index = -1 - w->batch[i].index;
            }
        }
        int n_fin = step_rows(b, w);
        w->since_admit++;
        /* rows whose client went away leave before the next step */
        int max_rows = B;
        for (int r = 0; r < max_rows; r++)
            w->leave[r] = 0;
        for (int f = 0; f < n_fin; f++)
            w->leave[w->finished[f]] = 2; /* finished, not leaving */
        for (int r = 0; r < max_rows; r++) {
            item *it = &w->row_item[r];
            if (it->job && w->leave[r] == 0 && job_gone(w, it->job, &n_gone))
                w->leave[r] = 1;
        }

        pthread_mutex_lock(&b->lock);
        b->last_progress = nmt_now_s();
        /* newcomers not admitted: client gone (or an admission error) */
        for (int i = 0; i < n_take; i++)
            if (w->batch[i].index < 0)
                settle_unit(b, w->batch[i].job, w->admit_failed ? NMT_JOB_FAILED : NMT_JOB_CANCELLED, w->completed,
                            &n_completed);
        /* finished rows */
        for (int f = 0; f < n_fin; f++) {
            item *it = &w->row_item[w->finished[f]];
            unit_done(b, it, w->completed, &n_completed);
            it->job = NULL;
        }
        /* rows that leave unfinished: client gone, request timed out or failed elsewhere */
        double timeout = b->o.request_timeout_ms / 1000.0, t = nmt_now_s();
        int n_cancel = 0;
        for (int r = 0; r < max_rows; r++) {
            item *it = &w->row_item[r];
            if (!it->job)
                continue;
            nmt_job_status why = NMT_JOB_OK;
            if (w->leave[r] == 1)
                why = NMT_JOB_CANCELLED;
            else if (it->job->status != NMT_JOB_OK)
                why = it->job->status;
            else if (t - it->job->t_submit > timeout)
                why = NMT_JOB_TIMEOUT;
            if (why == NMT_JOB_OK)
                continue;
            nmt_running_cancel(w->rb, r);
            settle_unit(b, it->job, why, w->completed, &n_completed);
            it->job = NULL;
            n_cancel++;
        }
        if (n_cancel && b->obs.cancelled)
            b->obs.cancelled(b->obs.user, w->model, n_cancel);
        if (!w->rb || nmt_running_live(w->rb) == 0) {
            w->active = 0;
            b->busy--;
            b->models[w->batch_model].serving--;
            b->models[w->batch_model].last_used = nmt_now_s();
            unload_excess(b);
            if (w->draining) {
                w->draining = 0;
                b->n_draining--;
            }
        }
        end_round(b, w, n_completed);
    }
    b->running--;
    pthread_mutex_unlock(&b->lock);
    return NULL;
}

static void worker_free(worker *w)
{
    nmt_translator_state_free(w->state);
    nmt_running_free(w->rb);
    free(w->row_item);
    free(w->inputs);
    free(w->rows);
    free(w->finished);
    free(w->admitted);
    free(w->leave);
    free(w->batch);
    free(w->src);
    free(w->src_len);
    free(w->limit);
    free(w->out_len);
    free(w->out);
    free(w->out_pool);
    free(w->gone_cache);
    free(w->completed);
    free(w->cands);
    free(w->taken);
}

static nmt_code worker_init(worker *w, nmt_batcher *b, nmt_err *err)
{
    int B = b->o.max_batch_sentences, P = b->max_pos;
    w->b = b;
    w->model = -1;
    w->batch = calloc((size_t)B, sizeof *w->batch);
    w->src = calloc((size_t)B, sizeof *w->src);
    w->src_len = calloc((size_t)B, sizeof(int));
    w->limit = calloc((size_t)B, sizeof(int));
    w->out_len = calloc((size_t)B, sizeof(int));
    w->out = calloc((size_t)B, sizeof *w->out);
    w->out_pool = malloc((size_t)B * (size_t)P * sizeof(int));
    w->gone_cache = calloc((size_t)B, sizeof *w->gone_cache);
    w->cands = calloc((size_t)B * 4, sizeof *w->cands);
    w->taken = calloc((size_t)B * 4, 1);
    /* a batch completes at most B jobs; a sweep stops B short of the end */
    w->completed_cap = b->n_models * b->o.queue_capacity + 2 * B;
    w->completed = calloc((size_t)w->completed_cap, sizeof *w->completed);
    w->row_item = calloc((size_t)B, sizeof *w->row_item);
    w->inputs = calloc((size_t)B, sizeof *w->inputs);
    w->rows = calloc((size_t)B, sizeof(int));
    w->finished = calloc((size_t)B, sizeof(int));
    w->admitted = calloc((size_t)B, sizeof(int));
    w->leave = calloc((size_t)B, 1);
    if (!w->batch || !w->src || !w->src_len || !w->limit || !w->out_len || !w->out || !w->out_pool ||
        !w->gone_cache || !w->completed || !w->cands || !w->taken || !w->row_item || !w->inputs || !w->rows ||
        !w->finished || !w->admitted || !w->leave)
        return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory for a batcher worker");
    for (int i = 0; i < B; i++)
        w->out[i] = w->out_pool + (size_t)i * P;
    /* the first model's state now, so that a model too large for the caps fails at start */
    if (!b->models[0].resident)
        return NMT_OK;
    w->want_generation = b->models[0].generation;
    return hold_model(b, w, 0) == 0 ? NMT_OK : nmt_err_set(err, NMT_ERR_NOMEM, "cannot build a worker's state");
}

/* ---- the batcher ------------------------------------------------------ */

nmt_code nmt_batcher_start(nmt_batcher **out, nmt_translator *const *models, int n_models,
                           const nmt_batcher_opts *opts, const nmt_batcher_observer *observer, nmt_err *err)
{
    *out = NULL;
    if (opts->workers < 1 || opts->max_batch_sentences < 1 || opts->max_batch_tokens < 1 ||
        opts->queue_capacity < 1 || opts->max_wait_ms < 0 || opts->request_timeout_ms < 1 || n_models < 1)
        return nmt_err_set(err, NMT_ERR_INVALID, "batcher settings must be positive");
    nmt_batcher *b = calloc(1, sizeof *b);
    if (!b)
        return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
    b->o = *opts;
    if (observer)
        b->obs = *observer;
    pthread_mutex_init(&b->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&b->work, &ca);
    pthread_cond_init(&b->idle, &ca);
    pthread_condattr_destroy(&ca);
    b->models = calloc((size_t)n_models, sizeof *b->models);
    b->workers = calloc((size_t)opts->workers, sizeof *b->workers);
    if (!b->models || !b->workers) {
        nmt_batcher_free(b);
        return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
    }
    b->n_models = n_models;
    for (int m = 0; m < n_models; m++) {
        model_queue *q = &b->models[m];
        q->tr = models[m];
        q->resident = nmt_translator_weights_loaded(models[m]);
        b->n_resident += q->resident;
        q->cap = opts->queue_capacity + opts->workers * opts->max_batch_sentences; /* room for pivoted units */
        if (!(q->items = calloc((size_t)q->cap, sizeof *q->items))) {
            nmt_batcher_free(b);
            return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
        }
        int P = nmt_translator_max_positions(models[m]);
        if (P > b->max_pos)
            b->max_pos = P;
    }
    b->n_workers = opts->workers;
    for (int i = 0; i < b->n_workers; i++) {
        nmt_code rc = worker_init(&b->workers[i], b, err);
        if (rc == NMT_OK && pthread_create(&b->workers[i].thread, NULL, worker_main, &b->workers[i]) != 0)
            rc = nmt_err_set(err, NMT_ERR_NOMEM, "cannot start worker thread %d", i);
        if (rc) {
            nmt_batcher_free(b);
            return rc;
        }
        b->workers[i].started = 1;
    }
    nmt_info("batcher", "%d workers shared by %d model%s, batches of up to %d sentences / %d tokens, max wait %d ms, "
             "queue %d per model", opts->workers, n_models, n_models == 1 ? "" : "s", opts->max_batch_sentences,
             opts->max_batch_tokens, opts->max_wait_ms, opts->queue_capacity);
    *out = b;
    return NMT_OK;
}

static const nmt_route default_route = {0, 0, 0, 0, 0};

nmt_code nmt_batcher_submit(nmt_batcher *b, const char *const *texts, const size_t *lens, int n,
                            const nmt_route *routes, const nmt_text_opts *text_opts, int max_length,
                            nmt_job_done_fn done, nmt_job_gone_fn gone, void *user, int *bad_index, int *units,
                            nmt_err *err)
{
    for (int i = 0; routes && i < n; i++) {
        const nmt_route *r = &routes[i];
        if (r->model < 0 || r->model >= b->n_models || (r->pivot && (r->then_model < 0 || r->then_model >= b->n_models)))
            return nmt_err_set(err, NMT_ERR_INVALID, "text %d: no such model", i);
    }
    nmt_job *job = calloc(1, sizeof *job);
    if (!job)
        return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
    job->n = n;
    job->max_length = max_length;
    job->done = done;
    job->gone = gone;
    job->user = user;
    size_t slots = (size_t)(n ? n : 1);
    job->plans = calloc(slots, sizeof *job->plans);
    job->texts = calloc(slots, sizeof *job->texts);
    job->first_unit = calloc(slots + 1, sizeof *job->first_unit);
    job->routes = calloc(slots, sizeof *job->routes);
    int *adds = calloc((size_t)b->n_models, sizeof *adds); /* units for each model's queue */
    nmt_code rc = NMT_OK;
    if (!job->plans || !job->texts || !job->first_unit || !job->routes || !adds) {
        rc = nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (int i = 0; i < n; i++)
        job->routes[i] = routes ? routes[i] : default_route;
    /* every text into units; the request's unit budget is shared by its texts */
    nmt_text_opts o = *text_opts;
    for (int i = 0; i < n; i++) {
        o.max_units = text_opts->max_units - job->n_units;
        o.lang_token = job->routes[i].lang_token;
        rc = nmt_text_plan_new(&job->plans[i], b->models[job->routes[i].model].tr, texts[i], lens[i], &o, err);
        if (rc) {
            if (bad_index)
                *bad_index = i;
            if (rc == NMT_ERR_TOO_LONG)
                nmt_err_set(err, rc, "the request needs more than %d segments (text %d goes past the limit)",
                            text_opts->max_units, i);
            goto fail;
        }
        job->first_unit[i] = job->n_units;
        job->n_units += nmt_text_plan_units(job->plans[i]);
    }
    job->first_unit[n] = job->n_units;
    size_t m = (size_t)(job->n_units ? job->n_units : 1);
    job->unit_ids = calloc(m, sizeof *job->unit_ids);
    job->unit_len = calloc(m, sizeof *job->unit_len);
    job->unit_out = calloc(m, sizeof *job->unit_out);
    job->unit_text = calloc(m, sizeof *job->unit_text);
    job->unit_stage = calloc(m, 1);
    job->unit_forward = calloc(m, 1);
    job->unit_pivot_ids = calloc(m, sizeof *job->unit_pivot_ids);
    job->unit_split = calloc(m, sizeof *job->unit_split);
    if (!job->unit_ids || !job->unit_len || !job->unit_out || !job->unit_text || !job->unit_stage ||
        !job->unit_forward || !job->unit_pivot_ids || !job->unit_split) {
        rc = nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
        goto fail;
    }
    int to_queue = 0;
    for (int i = 0; i < n; i++) {
        for (int u = job->first_unit[i]; u < job->first_unit[i + 1]; u++) {
            job->unit_text[u] = i;
            job->unit_ids[u] = nmt_text_plan_ids(job->plans[i], u - job->first_unit[i], &job->unit_len[u]);
            if (nmt_text_plan_unit_empty(job->plans[i], u - job->first_unit[i])) {
                if (!(job->unit_out[u] = strdup(""))) {
                    rc = nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
                    goto fail;
                }
            } else {
                to_queue++;
                adds[job->routes[i].model]++;
                if (job->routes[i].pivot) /* its second model must have room too */
                    adds[job->routes[i].then_model]++;
            }
        }
    }
    if (units)
        *units = job->n_units;
    job->t_submit = nmt_now_s();
    pthread_mutex_lock(&b->lock);
    if (b->closing) {
        pthread_mutex_unlock(&b->lock);
        rc = nmt_err_set(err, NMT_ERR_CLOSED, "shutting down");
        goto fail;
    }
    for (int k = 0; k < b->n_models; k++) {
        if (adds[k] && b->models[k].count + adds[k] > b->o.queue_capacity) {
            int depth = b->models[k].count;
            pthread_mutex_unlock(&b->lock);
            rc = nmt_err_set(err, NMT_ERR_BUSY, "queue full (%d of %d segments waiting for model %s, %d more asked)",
                             depth, b->o.queue_capacity, nmt_translator_name(b->models[k].tr), adds[k]);
            goto fail;
        }
    }
    job->remaining = to_queue;
    for (int u = 0; u < job->n_units; u++) {
        if (job->unit_out[u])
            continue;
        model_queue *q = &b->models[job->routes[job->unit_text[u]].model];
        q->items[q->count++] = (item){.job = job, .index = u, .n_ids = job->unit_len[u], .t_enq = job->t_submit};
        q->tokens += job->unit_len[u];
        b->count++;
    }
    if (to_queue)
        pthread_cond_signal(&b->work);
    pthread_mutex_unlock(&b->lock);
    free(adds);
    if (to_queue == 0) {
        join_texts(job);
        done(job, user);
    }
    return NMT_OK;
fail:
    free(adds);
    nmt_job_free(job);
    return rc;
}

int nmt_batcher_queue_depth(nmt_batcher *b, int model)
{
    pthread_mutex_lock(&b->lock);
    int n = model < 0 ? b->count : model < b->n_models ? b->models[model].count : 0;
    pthread_mutex_unlock(&b->lock);
    return n;
}

int nmt_batcher_healthy(nmt_batcher *b, double stall_seconds)
{
    pthread_mutex_lock(&b->lock);
    double now = nmt_now_s(), oldest = now;
    for (int m = 0; m < b->n_models; m++)
        if (b->models[m].count > 0 && b->models[m].items[0].t_enq < oldest)
            oldest = b->models[m].items[0].t_enq;
    int ok = b->running == b->n_workers &&
             (b->count == 0 || now - b->last_progress < stall_seconds || now - oldest < stall_seconds);
    pthread_mutex_unlock(&b->lock);
    return ok;
}

void nmt_batcher_close(nmt_batcher *b, int grace_ms)
{
    if (!b)
        return;
    pthread_mutex_lock(&b->lock);
    if (b->closed) {
        pthread_mutex_unlock(&b->lock);
        return;
    }
    b->closing = 1;
    pthread_cond_broadcast(&b->work);
    struct timespec until = abs_deadline(grace_ms / 1000.0);
    while ((b->count > 0 || b->busy > 0) && b->n_workers > 0) {
        if (pthread_cond_timedwait(&b->idle, &b->lock, &until) == ETIMEDOUT)
            break;
    }
    /* whatever is still queued will not run (pivoted sentences that finish
     * their first model from now on complete as shut down: unit_done) */
    b->stopping = 1;
    nmt_job **left = calloc((size_t)b->count + 1, sizeof *left);
    int n_left = 0;
    for (int m = 0; m < b->n_models; m++) {
        while (b->models[m].count > 0) {
            nmt_job *job = b->models[m].items[0].job;
            if (fail_job(b, job, NMT_JOB_SHUTDOWN) && left)
                left[n_left++] = job;
        }
    }
    if (n_left)
        nmt_warn("batcher", "%d requests not translated before the shutdown deadline", n_left);
    pthread_cond_broadcast(&b->work);
    pthread_mutex_unlock(&b->lock);
    complete_all(left, n_left);
    free(left);
    for (int i = 0; i < b->n_workers; i++)
        if (b->workers[i].started)
            pthread_join(b->workers[i].thread, NULL);
    pthread_mutex_lock(&b->lock);
    b->closed = 1;
    pthread_mutex_unlock(&b->lock);
}

void nmt_batcher_free(nmt_batcher *b)
{
    if (!b)
        return;
    nmt_batcher_close(b, 0);
    for (int i = 0; b->workers && i < b->n_workers; i++)
        worker_free(&b->workers[i]);
    for (int m = 0; b->models && m < b->n_models; m++)
        free(b->models[m].items);
    free(b->workers);
    free(b->models);
    pthread_cond_destroy(&b->work);
    pthread_cond_destroy(&b->idle);
    pthread_mutex_destroy(&b->lock);
    free(b);
}
