/* batcher.h: the micro-batcher, the scheduler between HTTP and the engine.
 * It serves one or several models with one pool of worker threads.  Each
 * model has its own bounded queue of sentences; a batch never mixes models.
 * A free worker serves the model whose work waits and was taken least
 * recently (round robin between busy models, so one busy pair cannot starve
 * another), taking a batch when enough of its sentences wait
 * (max_batch_sentences or max_batch_tokens) or the oldest has waited
 * max_wait_ms, grouping sentences of similar length.  With continuous
 * scheduling (the default) a worker keeps a running batch (running_batch.h)
 * of one model: waiting sentences of that model join it between decoder
 * steps while it has room (admit_min_rows free rows, every
 * admit_interval_steps steps, within max_batch_sentences and
 * max_batch_tokens), finished ones leave at once, and a sentence whose
 * request timed out or whose client left leaves at the next step; when
 * another model has work that no worker serves, the worker stops admitting
 * and takes that model once its rows are done.  A request's texts may each
 * have their own route (model, target-language token, and a second model
 * that translates each sentence's result again: pivoting through English).
 * Its sentences may travel in different batches; its results come back in
 * its own order, through one completion callback, called exactly once for
 * every accepted request (translated, timed out, cancelled because the
 * client left, or refused at shutdown).  The batcher knows nothing of HTTP.
 *
 * Threading: submit, close and the queries are thread-safe.  Completion
 * callbacks run on a worker thread (or on the closing thread) without any
 * batcher lock held. */
#ifndef NMT_BATCHER_H
#define NMT_BATCHER_H

#include <stddef.h>

#include "err.h"
#include "text_plan.h"
#include "translator.h"

typedef struct nmt_batcher nmt_batcher;

typedef enum nmt_scheduling {
    NMT_SCHED_CONTINUOUS, /* sentences join a worker's running decode at any step and leave when done */
    NMT_SCHED_STATIC      /* a worker decodes one batch until its last sentence ends, then takes the next */
} nmt_scheduling;

typedef struct nmt_batcher_opts {
    int workers;             /* decoding threads */
    int max_batch_sentences; /* a batch is full at this many sentences ... */
    int max_batch_tokens;    /* ... or this many source tokens */
    int max_wait_ms;         /* the oldest waiting sentence goes after this long */
    int queue_capacity;      /* sentences waiting per model; beyond it submit says NMT_ERR_BUSY */
    int request_timeout_ms;  /* a request not done after this long completes as timed out */
    nmt_scheduling scheduling;
    int admit_min_rows;      /* continuous: join a running decode only when this many rows are free ... */
    int admit_interval_steps;/* ... and at least this many steps after the last admission */
    int max_loaded_models;   /* > 0: at most this many models' weights resident; 0: no bound */
} nmt_batcher_opts;

typedef enum nmt_job_status {
    NMT_JOB_OK,        /* every sentence translated (results[i].text set) */
    NMT_JOB_TIMEOUT,   /* waited past request_timeout_ms */
    NMT_JOB_CANCELLED, /* the client went away before decoding */
    NMT_JOB_SHUTDOWN,  /* the batcher closed before the request could run */
    NMT_JOB_FAILED     /* an internal error (out of memory) */
} nmt_job_status;

typedef struct nmt_job nmt_job;

/* Called once when a job is complete; user is submit's user. */
typedef void (*nmt_job_done_fn)(nmt_job *job, void *user);
/* Optional: returns non-zero when the requester has gone, so the job's
 * remaining sentences are not decoded.  Called from worker threads. */
typedef int (*nmt_job_gone_fn)(void *user);

/* Observations for metrics, called from worker threads (may be NULL);
 * model is the index of the model that did the work.  A sentence that is
 * pivoted is decoded by two models: `finished` counts it on each, `done`
 * once, when its final translation is there. */
typedef struct nmt_batcher_observer {
    /* static: one batch decoded */
    void (*batch)(void *user, int model, int sentences, long tokens_in, long tokens_out, int steps, int done);
    void (*queue_wait)(void *user, int model, double seconds); /* once per sentence taken */
    /* continuous: a group joined; one step of live_rows, after which `finished` left done; rows cancelled */
    void (*admission)(void *user, int model, int sentences);
    void (*step)(void *user, int model, int live_rows, int finished, long tokens_in_finished, int done);
    void (*cancelled)(void *user, int model, int rows);
    /* a model's weights were loaded (in seconds) or, with loaded == 0, unloaded */
    void (*weights)(void *user, int model, int loaded, double seconds);
    void *user;
} nmt_batcher_observer;

/* Where a text goes: its model, the target-language token of a
 * multilingual model, and optionally a second model that translates each
 * of its sentences' translations again (source -> English -> target). */
typedef struct nmt_route {
    int model;           /* index into nmt_batcher_start's models */
    int lang_token;      /* > 0: every unit starts with this >>xxx<< id (text_plan.h) */
    int pivot;           /* 1: then_model translates each unit's result */
    int then_model;
    int then_lang_token;
} nmt_route;

/* Starts opts->workers threads over n_models shared translators (each a
 * separate model with its own queue).  A translator opened without its
 * weights (nmt_translator_open) is loaded by the first worker that takes
 * its work; the requests of that model wait for it, the others go on.
 * With max_loaded_models, a load first unloads the least recently used
 * model that no worker is decoding (one with nothing queued first); when
 * every loaded model is being decoded the bound is exceeded until one is
 * done.  The batcher owns the weights' coming and going; the translators
 * stay the caller's. */
nmt_code nmt_batcher_start(nmt_batcher **out, nmt_translator *const *models, int n_models,
                           const nmt_batcher_opts *opts, const nmt_batcher_observer *observer, nmt_err *err);

/* Cuts n texts into units (text_plan.h: segments, wrapped when too long;
 * text_opts->max_units is the budget of the whole request), tokenizes
 * them in the calling thread with the model of their route (routes[i]; NULL:
 * every text to model 0 without a language token) and queues the units as
 * one job: each unit is its own item, so a paragraph's sentences are
 * decoded in parallel batches.  max_length > 0 caps each unit's generated
 * tokens (of a pivoted unit: in its second model).  A pivoted unit's first
 * translation is tokenized for the second model by the worker that made it
 * and queued there at once, past queue_capacity (it was accepted already);
 * one too long for the second model fails the job.  *units (may be NULL)
 * tells how many units the job has.  On NMT_OK the batcher owns the job
 * until done(job, user) has been called; the caller then reads the results
 * (each text put back together with its gaps) and frees it with
 * nmt_job_free.  Otherwise nothing is queued and done is never called:
 *   NMT_ERR_TOO_LONG  the texts need more than text_opts->max_units units
 *                     (*bad_index: the text that went past the budget)
 *   NMT_ERR_BUSY      a model's queue cannot take its units
 *   NMT_ERR_CLOSED    the batcher is closing
 * A job with nothing to decode (n == 0, only whitespace) completes at once,
 * inside submit. */
nmt_code nmt_batcher_submit(nmt_batcher *b, const char *const *texts, const size_t *lens, int n,
                            const nmt_route *routes, const nmt_text_opts *text_opts, int max_length, nmt_job_done_fn done, nmt_job_gone_fn gone,
                            void *user, int *bad_index, int *units, nmt_err *err);

/* A completed job's outcome (valid inside and after the done callback). */
nmt_job_status nmt_job_status_of(const nmt_job *job);
int nmt_job_count(const nmt_job *job);
const char *nmt_job_text(const nmt_job *job, int i); /* NULL unless NMT_JOB_OK */
int nmt_job_units(const nmt_job *job);
long nmt_job_tokens_out(const nmt_job *job);
void nmt_job_free(nmt_job *job);

/* Sentences waiting now: in all queues (model < 0) or in one model's. */
int nmt_batcher_queue_depth(nmt_batcher *b, int model);

/* 1 while every worker thread runs and the queue moves: sentences waiting
 * with no batch started or finished for stall_seconds means stuck (0).  For
 * the systemd watchdog. */
int nmt_batcher_healthy(nmt_batcher *b, double stall_seconds);

/* Stops accepting (submit -> NMT_ERR_CLOSED), lets the workers finish what
 * is queued for up to grace_ms, completes anything left as NMT_JOB_SHUTDOWN,
 * and joins the workers.  Every accepted job has completed when it returns. */
void nmt_batcher_close(nmt_batcher *b, int grace_ms);

/* Closes (grace 0) if needed and frees; accepts NULL. */
void nmt_batcher_free(nmt_batcher *b);

#endif
