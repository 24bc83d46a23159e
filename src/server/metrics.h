/* metrics.h: the daemon's Prometheus metrics.  One nmt_metrics holds every
 * counter, gauge and histogram as a C11 atomic; updates are lock-free
 * relaxed atomic adds and never allocate, so any thread (HTTP callbacks,
 * batcher workers) may call them at any time.  Rendering reads the atomics
 * and writes Prometheus text format 0.0.4; it may run concurrently with
 * updates (a scrape sees each value at some instant, and a histogram's
 * _count always equals its +Inf bucket).
 *
 *   nmt_metrics *m;
 *   nmt_metrics_new(&m, PACKAGE_VERSION, "en-de-demo", &err);
 *   nmt_metrics_request(m, 200, 0.012);              // once per answered request
 *   char *text; size_t len;
 *   nmt_metrics_render(m, &text, &len, &err);        // GET /metrics body, free(text)
 *   nmt_metrics_free(m);                             // after every thread that uses it is gone
 *
 * Families (all prefixed nmtd_, base units):
 *   build_info{version,model} gauge 1
 *   requests_total{status="200|400|404|405|413|500|503|504|other"} counter
 *   request_duration_seconds, queue_wait_seconds  histograms (1 ms .. 60 s)
 *   batch_sentences, step_rows  histograms (1 .. 256)
 *   queue_depth_sentences, inflight_requests, ready, open_connections  gauges
 *   connections_cut_total{reason="read_timeout|peer_closed|evicted|over_capacity"} counter
 *   sentences_in_total, sentences_out_total, tokens_in_total, tokens_out_total,
 *   decode_steps_total, batches_total, rows_cancelled_total  counters
 *   rejections_total{reason="queue_full|draining|invalid_request|body_too_large|timeout|client_gone"} counter
 *   uptime_seconds gauge (computed at render)
 * and per served model (label model, one series per configured model):
 *   model_loaded, model_weight_bytes (0 while unloaded), model_load_seconds (the
 *   last load), model_queue_depth_sentences  gauges
 *   model_loads_total, model_unloads_total, model_sentences_total,
 *   model_tokens_in_total, model_tokens_out_total, model_decode_steps_total  counters */
#ifndef NMT_METRICS_H
#define NMT_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* The Content-Type of the rendered text. */
#define NMT_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

typedef struct nmt_metrics nmt_metrics;

typedef enum nmt_reject_reason {
    NMT_REJECT_QUEUE_FULL = 0, /* 503: the queue had no room */
    NMT_REJECT_DRAINING,       /* 503: shutting down */
    NMT_REJECT_INVALID_REQUEST,/* 400/404/405: refused before queueing */
    NMT_REJECT_BODY_TOO_LARGE, /* 413 */
    NMT_REJECT_TIMEOUT,        /* 504: waited past request_timeout_ms */
    NMT_REJECT_CLIENT_GONE,    /* the client disconnected before its answer */
    NMT_REJECT_COUNT_
} nmt_reject_reason;

typedef enum nmt_gauge {
    NMT_GAUGE_QUEUE_DEPTH = 0, /* nmtd_queue_depth_sentences: sentences waiting for a worker */
    NMT_GAUGE_INFLIGHT,        /* nmtd_inflight_requests: accepted, not yet answered */
    NMT_GAUGE_READY,           /* nmtd_ready: 1 when /ready answers 200, else 0 */
    NMT_GAUGE_OPEN_CONNECTIONS,/* nmtd_open_connections */
    NMT_GAUGE_COUNT_
} nmt_gauge;

/* Allocates the metrics (all zero; uptime counts from now).  version and
 * model_name (the served models' names, comma-separated) become the labels of nmtd_build_info (escaped here, copied:
 * the caller keeps its strings).  NMT_ERR_NOMEM on failure. */
nmt_code nmt_metrics_new(nmt_metrics **out, const char *version, const char *model_name, nmt_err *err);

/* Adds a served model (index = models added before it), its weights' size
 * once loaded, whether they are, and how long that took.  At start-up
 * only, before any other thread uses m. */
nmt_code nmt_metrics_add_model(nmt_metrics *m, const char *name, size_t weight_bytes, int loaded,
                               double load_seconds, nmt_err *err);

/* A model's weights were loaded (in seconds) or, loaded == 0, unloaded. */
void nmt_metrics_model_weights(nmt_metrics *m, int model, int loaded, double seconds);

/* Sets a model's nmtd_model_queue_depth_sentences (before rendering). */
void nmt_metrics_model_queue_depth(nmt_metrics *m, int model, long depth);

/* Frees; accepts NULL.  No other thread may use m during or after the call. */
void nmt_metrics_free(nmt_metrics *m);

/* One answered HTTP request: nmtd_requests_total{status} += 1 (a status
 * outside the fixed set counts as "other") and its duration (seconds, from
 * the first byte received to the response queued) into
 * nmtd_request_duration_seconds.  Thread-safe, lock-free. */
void nmt_metrics_request(nmt_metrics *m, int status, double seconds);

/* One sentence's (or request's) wait between queueing and a worker taking it,
 * in seconds, into nmtd_queue_wait_seconds.  Thread-safe, lock-free. */
void nmt_metrics_queue_wait(nmt_metrics *m, double seconds);

/* n sentences accepted into the queue: nmtd_sentences_in_total += n.
 * Thread-safe, lock-free. */
void nmt_metrics_sentences_in(nmt_metrics *m, long n);

/* One batch decoded by model: nmtd_batches_total += 1, nmtd_sentences_out_total +=
 * done (sentences whose final translation this was), nmtd_tokens_in_total += tokens_in (source ids), nmtd_tokens_out_total
 * += tokens_out (generated ids), nmtd_decode_steps_total += steps, and
 * sentences into nmtd_batch_sentences; the model's own counters too.
 * Thread-safe, lock-free. */
void nmt_metrics_batch(nmt_metrics *m, int model, int sentences, long tokens_in, long tokens_out, long steps,
                       int done);

/* Continuous scheduling: a group of sentences joined a running batch
 * (nmtd_batches_total += 1, sentences into nmtd_batch_sentences). */
void nmt_metrics_admission(nmt_metrics *m, int sentences);

/* Continuous scheduling: one decoder step of model over live_rows
 * sentences, one token each, after which `finished` sentences of
 * tokens_in_finished source ids left done, `done` of them with their final
 * translation (nmtd_decode_steps_total, tokens_out_total,
 * sentences_out_total (done), tokens_in_total; live_rows into
 * nmtd_step_rows; the model's own counters). */
void nmt_metrics_step(nmt_metrics *m, int model, int live_rows, int finished, long tokens_in_finished, int done);

/* Sentences that left a running batch unfinished: nmtd_rows_cancelled_total. */
void nmt_metrics_rows_cancelled(nmt_metrics *m, int rows);

/* nmtd_rejections_total{reason} += 1.  A rejected request is also counted by
 * nmt_metrics_request with the status it got.  Thread-safe, lock-free. */
void nmt_metrics_reject(nmt_metrics *m, nmt_reject_reason reason);

/* nmtd_connections_cut_total{reason}: connections the server closed to
 * protect the others (conn_guard.h). */
typedef enum nmt_cut_reason {
    NMT_CUT_READ_TIMEOUT = 0, /* request not received within request_read_timeout_s (or idle too long) */
    NMT_CUT_PEER_CLOSED,      /* the client had gone while nobody was reading */
    NMT_CUT_EVICTED,          /* closed to make room at connection_limit */
    NMT_CUT_OVER_CAPACITY,    /* found no room: answered 503 */
    NMT_CUT_COUNT_
} nmt_cut_reason;

/* Sets a cut counter to its running total (the guard keeps the counts).
 * Thread-safe, lock-free. */
void nmt_metrics_set_cuts(nmt_metrics *m, nmt_cut_reason which, uint64_t total);

/* Gauges: add a (possibly negative) delta, or set.  Thread-safe, lock-free. */
void nmt_metrics_gauge_add(nmt_metrics *m, nmt_gauge which, long delta);
void nmt_metrics_gauge_set(nmt_metrics *m, nmt_gauge which, long value);
long nmt_metrics_gauge_get(const nmt_metrics *m, nmt_gauge which);

/* Renders every family into buf (cap bytes, NUL-terminated when cap > 0) and
 * returns the length the whole text needs, without the NUL, like snprintf:
 * a result >= cap means buf was too small (the text is cut).  Does not
 * allocate.  Thread-safe. */
size_t nmt_metrics_render_buf(const nmt_metrics *m, char *buf, size_t cap);

/* Renders into a malloc'd NUL-terminated string (*out, caller frees) of *len
 * bytes (len may be NULL).  NMT_ERR_NOMEM on failure.  Thread-safe. */
nmt_code nmt_metrics_render(const nmt_metrics *m, char **out, size_t *len, nmt_err *err);

#endif
