/* batcher.c: one bounded FIFO of sentences, worker threads that cut it into
 * batches, and per-request completion.
 *
 * Design.  The queue is an array in arrival order (index 0 is the oldest);
 * a worker always takes the oldest sentence, so every sentence makes
 * progress, and fills the batch with the sentences closest to it in length
 * among the next few (4 x max_batch_sentences) waiting, to limit padding
 * work.  Removing taken sentences compacts the array: the queue is bounded,
 * so this is cheap.  Everything under b->lock is bookkeeping; tokenization
 * (in submit, on the caller's thread), decoding and detokenization run
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

typedef struct item {
    nmt_job *job;
    int index;
    int n_ids;
    double t_enq;
} item;

typedef struct candidate {
    int distance;
    int pos;
} candidate;

typedef struct worker {
    nmt_batcher *b;
    pthread_t thread;
    int started;
    nmt_translator_state *state;
    item *batch;             /* [max_batch_sentences] */
    const int **src;
    int *src_len, *limit, *out_len;
    int **out;               /* [max_batch_sentences][max_pos] */
    int *out_pool;
    nmt_job **gone_cache;    /* jobs found gone in this batch */
    struct candidate *cands; /* [4 * max_batch_sentences] */
    unsigned char *taken;    /* [4 * max_batch_sentences] */
    nmt_job **completed;     /* jobs to call done() for */
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
    const nmt_translator *tr;
    nmt_batcher_opts o;
    nmt_batcher_observer obs;
    pthread_mutex_t lock;
    pthread_cond_t work;     /* something to do, or closing */
    pthread_cond_t idle;     /* queue empty and no batch in flight */
    item *queue;             /* [queue_capacity], oldest first */
    int count;
    long queued_tokens;
    int busy;                /* workers decoding a batch */
    int running;             /* worker threads inside worker_main */
    double last_progress;    /* when a batch last started or finished */
    int closing, stopping, closed;
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
    int kept = 0;
    for (int i = 0; i < b->count; i++) {
        if (b->queue[i].job == job) {
            b->queued_tokens -= b->queue[i].n_ids;
            job->remaining--;
        } else {
            b->queue[kept++] = b->queue[i];
        }
    }
    b->count = kept;
    return job->remaining == 0;
}

/* ---- workers ---------------------------------------------------------- */

static int by_distance(const void *a, const void *b)
{
    const candidate *x = a, *y = b;
    return x->distance != y->distance ? (x->distance < y->distance ? -1 : 1) : (x->pos - y->pos);
}

/* Times out expired jobs still queued (lock held); appends completed jobs. */
static void sweep_expired(nmt_batcher *b, double now, nmt_job **completed, int *n_completed)
{
    double timeout = b->o.request_timeout_ms / 1000.0;
    for (int i = 0; i < b->count;) {
        nmt_job *job = b->queue[i].job;
        if (now - job->t_submit > timeout) {
            if (fail_job(b, job, NMT_JOB_TIMEOUT))
                completed[(*n_completed)++] = job;
            i = 0; /* the queue was compacted */
        } else {
            i++;
        }
    }
}

/* Moves the next batch from the queue into w->batch (lock held): the
 * oldest sentence and those nearest its length, at most max_n sentences and
 * max_tokens source tokens (the oldest alone may exceed them). */
static int take_batch(nmt_batcher *b, worker *w, double now, int max_n, long max_tokens)
{
    int window = b->count < 4 * b->o.max_batch_sentences ? b->count : 4 * b->o.max_batch_sentences;
    candidate *cands = w->cands;
    int head_len = b->queue[0].n_ids;
    for (int i = 0; i < window; i++) {
        int d = b->queue[i].n_ids - head_len;
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
        const item *it = &b->queue[cands[c].pos];
        if (n > 0 && tokens + it->n_ids > max_tokens)
            continue;
        taken[cands[c].pos] = 1;
        tokens += it->n_ids;
        w->batch[n++] = *it;
    }
    int kept = 0;
    for (int i = 0; i < b->count; i++)
        if (i >= window || !taken[i])
            b->queue[kept++] = b->queue[i];
    b->count = kept;
    b->queued_tokens -= tokens;
    if (b->obs.queue_wait)
        for (int i = 0; i < n; i++)
            b->obs.queue_wait(b->obs.user, now - w->batch[i].t_enq);
    return n;
}

/* Decodes the live sentences of a batch (no lock held). */
static void run_batch(nmt_batcher *b, worker *w, int n)
{
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
        w->src[m] = job->unit_ids[w->batch[i].index];
        w->src_len[m] = job->unit_len[w->batch[i].index];
        w->limit[m] = nmt_translator_limit(b->tr, w->src_len[m],
                                           &(nmt_translate_opts){.max_length = job->max_length});
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
                w->batch[i].job->unit_out[w->batch[i].index] = NULL;
        return;
    }
    long tokens_in = 0;
    for (int i = 0, k = 0; i < n; i++) {
        if (w->batch[i].index < 0)
            continue;
        nmt_job *job = w->batch[i].job;
        char *text = NULL;
        if (nmt_translator_decode(b->tr, w->out[k], w->out_len[k], &text, &err))
            nmt_error("batcher", "detokenization failed: %s", err.msg);
        job->unit_out[w->batch[i].index] = text; /* each slot is written by one worker only */
        tokens_in += w->src_len[k];
        __atomic_add_fetch(&job->tokens_out, w->out_len[k], __ATOMIC_RELAXED);
        k++;
    }
    if (b->obs.batch)
        b->obs.batch(b->obs.user, m, tokens_in, stats.tokens_out, stats.steps);
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
    return it->job->unit_out[it->index] ? NMT_JOB_OK : NMT_JOB_FAILED;
}

/* Accounts for a finished batch (lock held); appends completed jobs. */
static void finish_batch(nmt_batcher *b, worker *w, int n, nmt_job **completed, int *n_completed)
{
    for (int i = 0; i < n; i++)
        settle_unit(b, w->batch[i].job, unit_outcome(&w->batch[i]), completed, n_completed);
}

/* A job whose units are all translated: each text put back together with
 * its gaps (no lock held; the job is no longer shared). */
static void join_texts(nmt_job *job)
{
    if (job->status != NMT_JOB_OK)
        return;
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

/* What an idle worker does next (lock held; may wait on b->work). */
enum { WAIT_TAKE, WAIT_AGAIN, WAIT_STOP };
static int wait_for_batch(nmt_batcher *b, worker *w, double now)
{
    if (b->count == 0) {
        if (b->stopping)
            return WAIT_STOP;
        pthread_cond_wait(&b->work, &b->lock);
        return WAIT_AGAIN;
    }
    int n_completed = 0;
    sweep_expired(b, now, w->completed, &n_completed);
    if (n_completed) {
        pthread_mutex_unlock(&b->lock);
        complete_all(w->completed, n_completed);
        pthread_mutex_lock(&b->lock);
        return WAIT_AGAIN;
    }
    if (b->count == 0)
        return WAIT_AGAIN;
    /* a batch that is not full waits for more, up to max_wait_ms for its oldest */
    double waited = now - b->queue[0].t_enq, max_wait = b->o.max_wait_ms / 1000.0;
    if (!b->closing && b->count < b->o.max_batch_sentences && b->queued_tokens < b->o.max_batch_tokens &&
        waited < max_wait) {
        struct timespec until = abs_deadline(max_wait - waited);
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
        int next = wait_for_batch(b, w, now);
        if (next == WAIT_STOP)
            break;
        if (next == WAIT_AGAIN)
            continue;
        int n_completed = 0;
        int n = take_batch(b, w, now, b->o.max_batch_sentences, b->o.max_batch_tokens);
        b->busy++;
        b->last_progress = now;
        pthread_mutex_unlock(&b->lock);
        run_batch(b, w, n);
        pthread_mutex_lock(&b->lock);
        b->busy--;
        b->last_progress = nmt_now_s();
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
        int len = job->unit_len[w->batch[i].index];
        w->inputs[m] = (nmt_row_input){
            .ids = job->unit_ids[w->batch[i].index], .len = len,
            .limit = nmt_translator_limit(b->tr, len, &(nmt_translate_opts){.max_length = job->max_length})};
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
        b->obs.admission(b->obs.user, m);
}

/* One step; the finished rows' translations go into their jobs (no lock
 * held).  Returns how many rows finished (their numbers in w->finished). */
static int step_rows(nmt_batcher *b, worker *w)
{
    int live = nmt_running_live(w->rb);
    if (live == 0)
        return 0;
    int n_fin = nmt_running_step(w->rb, w->finished, NULL);
    long tokens_in = 0;
    for (int f = 0; f < n_fin; f++) {
        int row = w->finished[f], n_out;
        const int *ids = nmt_running_output(w->rb, row, &n_out);
        nmt_job *job = w->row_item[row].job;
        int unit = w->row_item[row].index;
        char *text = NULL;
        nmt_err err;
        if (nmt_translator_decode(b->tr, ids, n_out, &text, &err))
            nmt_error("batcher", "detokenization failed: %s", err.msg);
        job->unit_out[unit] = text; /* each slot is written by one worker only */
        tokens_in += job->unit_len[unit];
        __atomic_add_fetch(&job->tokens_out, n_out, __ATOMIC_RELAXED);
    }
    if (b->obs.step)
        b->obs.step(b->obs.user, live, n_fin, tokens_in);
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
        int live = nmt_running_live(w->rb), n_completed = 0;
        double now = nmt_now_s();
        if (live == 0) { /* idle: wait for work as a static worker does */
            int next = wait_for_batch(b, w, now);
            if (next == WAIT_STOP)
                break;
            if (next == WAIT_AGAIN)
                continue;
        }
        /* admission: the oldest waiting sentence first, while rows and tokens allow */
        int n_take = 0, free_rows = B - live;
        long token_room = b->o.max_batch_tokens - nmt_running_live_tokens(w->rb);
        if (token_room > nmt_running_max_tokens(w->rb))
            token_room = nmt_running_max_tokens(w->rb);
        if (b->count > 0 && free_rows > 0 &&
            (live == 0 || (free_rows >= b->o.admit_min_rows && w->since_admit >= b->o.admit_interval_steps &&
                           b->queue[0].n_ids <= token_room)))
            n_take = take_batch(b, w, now, free_rows, token_room);
        if (n_take > 0)
            w->since_admit = 0;
        if (!w->active) {
            w->active = 1;
            b->busy++;
        }
        b->last_progress = now;
        pthread_mutex_unlock(&b->lock);

        int n_gone = 0;
        w->admit_failed = 0;
        if (n_take > 0)
            admit_items(b, w, n_take, &n_gone);
        int n_fin = step_rows(b, w);
        w->since_admit++;
        /* rows whose client went away leave before the next step */
        int max_rows = nmt_running_max_rows(w->rb);
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
            settle_unit(b, it->job, unit_outcome(it), w->completed, &n_completed);
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
            b->obs.cancelled(b->obs.user, n_cancel);
        if (nmt_running_live(w->rb) == 0) {
            w->active = 0;
            b->busy--;
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
    int B = b->o.max_batch_sentences, P = nmt_translator_max_positions(b->tr);
    w->b = b;
    nmt_code rc = b->o.scheduling == NMT_SCHED_STATIC
                      ? nmt_translator_state_new(&w->state, b->tr, B, b->o.max_batch_tokens, err)
                      : NMT_OK;
    if (rc)
        return rc;
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
    /* a batch completes at most B jobs; a sweep at most the whole queue */
    w->completed = calloc((size_t)(b->o.queue_capacity + B), sizeof *w->completed);
    if (!w->batch || !w->src || !w->src_len || !w->limit || !w->out_len || !w->out || !w->out_pool ||
        !w->gone_cache || !w->completed || !w->cands || !w->taken)
        return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory for a batcher worker");
    for (int i = 0; i < B; i++)
        w->out[i] = w->out_pool + (size_t)i * P;
    if (b->o.scheduling == NMT_SCHED_CONTINUOUS) {
        if ((rc = nmt_running_new(&w->rb, b->tr, B, b->o.max_batch_tokens, 0, err)))
            return rc;
        w->row_item = calloc((size_t)B, sizeof *w->row_item);
        w->inputs = calloc((size_t)B, sizeof *w->inputs);
        w->rows = calloc((size_t)B, sizeof(int));
        w->finished = calloc((size_t)B, sizeof(int));
        w->admitted = calloc((size_t)B, sizeof(int));
        w->leave = calloc((size_t)B, 1);
        if (!w->row_item || !w->inputs || !w->rows || !w->finished || !w->admitted || !w->leave)
            return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory for a batcher worker");
    }
    return NMT_OK;
}

/* ---- the batcher ------------------------------------------------------ */

nmt_code nmt_batcher_start(nmt_batcher **out, const nmt_translator *tr, const nmt_batcher_opts *opts,
                           const nmt_batcher_observer *observer, nmt_err *err)
{
    *out = NULL;
    if (opts->workers < 1 || opts->max_batch_sentences < 1 || opts->max_batch_tokens < 1 ||
        opts->queue_capacity < 1 || opts->max_wait_ms < 0 || opts->request_timeout_ms < 1)
        return nmt_err_set(err, NMT_ERR_INVALID, "batcher settings must be positive");
    nmt_batcher *b = calloc(1, sizeof *b);
    if (!b)
        return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
    b->tr = tr;
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
    b->queue = calloc((size_t)opts->queue_capacity, sizeof *b->queue);
    b->workers = calloc((size_t)opts->workers, sizeof *b->workers);
    if (!b->queue || !b->workers) {
        nmt_batcher_free(b);
        return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
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
    nmt_info("batcher", "%d workers, batches of up to %d sentences / %d tokens, max wait %d ms, queue %d",
             opts->workers, opts->max_batch_sentences, opts->max_batch_tokens, opts->max_wait_ms,
             opts->queue_capacity);
    *out = b;
    return NMT_OK;
}

nmt_code nmt_batcher_submit(nmt_batcher *b, const char *const *texts, const size_t *lens, int n,
                            const nmt_text_opts *text_opts, int max_length, nmt_job_done_fn done, nmt_job_gone_fn gone,
                            void *user, int *bad_index, int *units, nmt_err *err)
{
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
    nmt_code rc = NMT_OK;
    if (!job->plans || !job->texts || !job->first_unit) {
        rc = nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
        goto fail;
    }
    /* every text into units; the request's unit budget is shared by its texts */
    nmt_text_opts o = *text_opts;
    for (int i = 0; i < n; i++) {
        o.max_units = text_opts->max_units - job->n_units;
        rc = nmt_text_plan_new(&job->plans[i], b->tr, texts[i], lens[i], &o, err);
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
    if (!job->unit_ids || !job->unit_len || !job->unit_out) {
        rc = nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
        goto fail;
    }
    int to_queue = 0;
    for (int i = 0; i < n; i++) {
        for (int u = job->first_unit[i]; u < job->first_unit[i + 1]; u++) {
            job->unit_ids[u] = nmt_text_plan_ids(job->plans[i], u - job->first_unit[i], &job->unit_len[u]);
            if (nmt_text_plan_unit_empty(job->plans[i], u - job->first_unit[i])) {
                if (!(job->unit_out[u] = strdup(""))) {
                    rc = nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
                    goto fail;
                }
            } else {
                to_queue++;
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
    if (b->count + to_queue > b->o.queue_capacity) {
        int depth = b->count;
        pthread_mutex_unlock(&b->lock);
        rc = nmt_err_set(err, NMT_ERR_BUSY, "queue full (%d of %d segments waiting, %d more asked)", depth,
                         b->o.queue_capacity, to_queue);
        goto fail;
    }
    job->remaining = to_queue;
    for (int u = 0; u < job->n_units; u++) {
        if (job->unit_out[u])
            continue;
        b->queue[b->count++] = (item){.job = job, .index = u, .n_ids = job->unit_len[u], .t_enq = job->t_submit};
        b->queued_tokens += job->unit_len[u];
    }
    if (to_queue)
        pthread_cond_signal(&b->work);
    pthread_mutex_unlock(&b->lock);
    if (to_queue == 0) {
        join_texts(job);
        done(job, user);
    }
    return NMT_OK;
fail:
    nmt_job_free(job);
    return rc;
}

int nmt_batcher_queue_depth(nmt_batcher *b)
{
    pthread_mutex_lock(&b->lock);
    int n = b->count;
    pthread_mutex_unlock(&b->lock);
    return n;
}

int nmt_batcher_healthy(nmt_batcher *b, double stall_seconds)
{
    pthread_mutex_lock(&b->lock);
    double now = nmt_now_s();
    int ok = b->running == b->n_workers &&
             (b->count == 0 || now - b->last_progress < stall_seconds || now - b->queue[0].t_enq < stall_seconds);
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
    /* whatever is still queued will not run */
    nmt_job **left = calloc((size_t)b->count + 1, sizeof *left);
    int n_left = 0;
    while (b->count > 0) {
        nmt_job *job = b->queue[0].job;
        if (fail_job(b, job, NMT_JOB_SHUTDOWN) && left)
            left[n_left++] = job;
    }
    if (n_left)
        nmt_warn("batcher", "%d requests not translated before the shutdown deadline", n_left);
    b->stopping = 1;
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
    for (int i = 0; i < b->n_workers; i++)
        worker_free(&b->workers[i]);
    free(b->workers);
    free(b->queue);
    pthread_cond_destroy(&b->work);
    pthread_cond_destroy(&b->idle);
    pthread_mutex_destroy(&b->lock);
    free(b);
}
