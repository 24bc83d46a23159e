/* metrics.c: Prometheus counters, gauges and histograms on C11 atomics.
 *
 * Every update is one or two relaxed atomic read-modify-writes on fixed
 * storage inside struct nmt_metrics: no lock, no allocation, no ordering
 * between metrics (none is needed: each value is independent).  Histograms
 * keep one non-cumulative count per bucket plus an integer sum (seconds are
 * summed as whole microseconds, so concurrent adds are exact); rendering
 * accumulates the buckets and takes _count from that same accumulation, so a
 * scrape's _count always equals its +Inf bucket even while workers observe.
 *
 * Ownership: nmt_metrics_new allocates the struct and the escaped label
 * strings; nothing else is allocated except by nmt_metrics_render, whose
 * string the caller frees.  Threading: everything except new/free may be
 * called from any thread at any time. */
#include "metrics.h"

#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_BUCKETS 16

typedef struct hist_def {
    const char *name;
    const char *help;
    const double *bounds; /* ascending upper bounds; +Inf is implicit */
    int n_bounds;
    double unit; /* sum is stored as round(value * unit) */
} hist_def;

typedef struct histogram {
    _Atomic uint64_t bucket[MAX_BUCKETS + 1]; /* [n_bounds] = above the last bound (+Inf only) */
    _Atomic uint64_t sum;                     /* in 1/unit */
} histogram;

static const double seconds_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                        0.5,   1,      2.5,   5,    10,    30,   60};
static const double batch_bounds[] = {1, 2, 4, 8, 16, 32, 64, 128, 256};
_Static_assert(sizeof seconds_bounds / sizeof seconds_bounds[0] <= MAX_BUCKETS, "raise MAX_BUCKETS");
_Static_assert(sizeof batch_bounds / sizeof batch_bounds[0] <= MAX_BUCKETS, "raise MAX_BUCKETS");

enum { H_REQUEST_DURATION, H_QUEUE_WAIT, H_BATCH_SENTENCES, H_STEP_ROWS, H_COUNT_ };

#define NBOUNDS(a) (int)(sizeof(a) / sizeof((a)[0]))
static const hist_def hist_defs[H_COUNT_] = {
    {"nmtd_request_duration_seconds", "Time from receiving an HTTP request to queueing its response.",
     seconds_bounds, NBOUNDS(seconds_bounds), 1e6},
    {"nmtd_queue_wait_seconds", "Time between queueing work and a worker taking it.", seconds_bounds,
     NBOUNDS(seconds_bounds), 1e6},
    {"nmtd_batch_sentences", "Sentences per batch: decoded together (static) or admitted together (continuous).",
     batch_bounds, NBOUNDS(batch_bounds), 1},
    {"nmtd_step_rows", "Sentences decoding in each decoder step (continuous scheduling).", batch_bounds,
     NBOUNDS(batch_bounds), 1},
};

static const int statuses[] = {200, 400, 404, 405, 413, 500, 503, 504};
#define N_STATUSES NBOUNDS(statuses)

static const char *const reject_names[NMT_REJECT_COUNT_] = {
    "queue_full", "draining", "invalid_request", "body_too_large", "timeout", "client_gone"};

static const struct {
    const char *name, *help;
} gauge_defs[NMT_GAUGE_COUNT_] = {
    {"nmtd_queue_depth_sentences", "Sentences waiting for a worker."},
    {"nmtd_inflight_requests", "Requests accepted and not yet answered."},
    {"nmtd_ready", "1 when the model is loaded and the daemon is not draining, else 0."},
    {"nmtd_open_connections", "Client connections open now."},
};

static const char *const cut_names[NMT_CUT_COUNT_] = {"read_timeout", "peer_closed", "evicted", "over_capacity"};

enum { C_SENTENCES_IN, C_SENTENCES_OUT, C_TOKENS_IN, C_TOKENS_OUT, C_DECODE_STEPS, C_BATCHES, C_ROWS_CANCELLED, C_COUNT_ };
static const struct {
    const char *name, *help;
} counter_defs[C_COUNT_] = {
    {"nmtd_sentences_in_total", "Sentences accepted into the queue."},
    {"nmtd_sentences_out_total", "Sentences translated by a worker."},
    {"nmtd_tokens_in_total", "Source tokens (ids, end-of-sentence included) of translated sentences."},
    {"nmtd_tokens_out_total", "Generated tokens (ids, end-of-sentence included)."},
    {"nmtd_decode_steps_total", "Decoder steps run, one per generated position of a batch."},
    {"nmtd_batches_total", "Batches decoded (static) or admitted into a running batch (continuous)."},
    {"nmtd_rows_cancelled_total", "Sentences that left a running batch unfinished: client gone or timed out."},
};

/* One served model's own figures (label model="name"). */
enum { M_SENTENCES, M_TOKENS_IN, M_TOKENS_OUT, M_DECODE_STEPS, M_COUNT_ };
static const struct {
    const char *name, *help;
} model_counter_defs[M_COUNT_] = {
    {"nmtd_model_sentences_total", "Sentences this model translated (a pivoted sentence counts on both models)."},
    {"nmtd_model_tokens_in_total", "Source tokens of the sentences this model translated."},
    {"nmtd_model_tokens_out_total", "Tokens this model generated."},
    {"nmtd_model_decode_steps_total", "Decoder steps this model ran."},
};

typedef struct model_metrics {
    char *name; /* escaped */
    uint64_t weight_bytes;             /* once loaded */
    _Atomic int loaded;
    _Atomic uint64_t load_microseconds; /* the last load */
    _Atomic uint64_t loads, unloads;
    _Atomic uint64_t counters[M_COUNT_];
    _Atomic long queue_depth;
} model_metrics;

struct nmt_metrics {
    model_metrics *models; /* [n_models], fixed before any thread starts */
    int n_models;
    _Atomic uint64_t requests[N_STATUSES + 1]; /* [N_STATUSES] = "other" */
    _Atomic uint64_t rejections[NMT_REJECT_COUNT_];
    _Atomic uint64_t counters[C_COUNT_];
    _Atomic long gauges[NMT_GAUGE_COUNT_];
    _Atomic uint64_t cuts[NMT_CUT_COUNT_];
    histogram hist[H_COUNT_];
    struct timespec start; /* CLOCK_MONOTONIC at new */
    char *version;         /* escaped label values */
    char *model;
};

/* ---- updates -------------------------------------------------------------- */

static void add(_Atomic uint64_t *a, uint64_t n) { atomic_fetch_add_explicit(a, n, memory_order_relaxed); }

static void observe(nmt_metrics *m, int which, double v)
{
    const hist_def *d = &hist_defs[which];
    histogram *h = &m->hist[which];
    if (!(v >= 0)) /* negative or NaN */
        v = 0;
    int i = 0;
    while (i < d->n_bounds && v > d->bounds[i])
        i++;
    add(&h->bucket[i], 1);
    double scaled = v * d->unit;
    add(&h->sum, scaled < 1e18 ? (uint64_t)llround(scaled) : (uint64_t)1e18);
}

void nmt_metrics_request(nmt_metrics *m, int status, double seconds)
{
    int i = 0;
    while (i < N_STATUSES && statuses[i] != status)
        i++;
    add(&m->requests[i], 1);
    observe(m, H_REQUEST_DURATION, seconds);
}

void nmt_metrics_queue_wait(nmt_metrics *m, double seconds) { observe(m, H_QUEUE_WAIT, seconds); }

void nmt_metrics_sentences_in(nmt_metrics *m, long n)
{
    if (n > 0)
        add(&m->counters[C_SENTENCES_IN], (uint64_t)n);
}

static void model_add(nmt_metrics *m, int model, int which, long n)
{
    if (model >= 0 && model < m->n_models && n > 0)
        add(&m->models[model].counters[which], (uint64_t)n);
}

void nmt_metrics_batch(nmt_metrics *m, int model, int sentences, long tokens_in, long tokens_out, long steps,
                       int done)
{
    model_add(m, model, M_SENTENCES, sentences);
    model_add(m, model, M_TOKENS_IN, tokens_in);
    model_add(m, model, M_TOKENS_OUT, tokens_out);
    model_add(m, model, M_DECODE_STEPS, steps);
    add(&m->counters[C_BATCHES], 1);
    add(&m->counters[C_SENTENCES_OUT], done > 0 ? (uint64_t)done : 0);
    add(&m->counters[C_TOKENS_IN], tokens_in > 0 ? (uint64_t)tokens_in : 0);
    add(&m->counters[C_TOKENS_OUT], tokens_out > 0 ? (uint64_t)tokens_out : 0);
    add(&m->counters[C_DECODE_STEPS], steps > 0 ? (uint64_t)steps : 0);
    observe(m, H_BATCH_SENTENCES, sentences);
}

void nmt_metrics_admission(nmt_metrics *m, int sentences)
{
    add(&m->counters[C_BATCHES], 1);
    observe(m, H_BATCH_SENTENCES, sentences);
}

void nmt_metrics_step(nmt_metrics *m, int model, int live_rows, int finished, long tokens_in_finished, int done)
{
    model_add(m, model, M_SENTENCES, finished);
    model_add(m, model, M_TOKENS_IN, tokens_in_finished);
    model_add(m, model, M_TOKENS_OUT, live_rows);
    model_add(m, model, M_DECODE_STEPS, 1);
    add(&m->counters[C_DECODE_STEPS], 1);
    add(&m->counters[C_TOKENS_OUT], live_rows > 0 ? (uint64_t)live_rows : 0);
    add(&m->counters[C_SENTENCES_OUT], done > 0 ? (uint64_t)done : 0);
    add(&m->counters[C_TOKENS_IN], tokens_in_finished > 0 ? (uint64_t)tokens_in_finished : 0);
    observe(m, H_STEP_ROWS, live_rows);
}

void nmt_metrics_rows_cancelled(nmt_metrics *m, int rows)
{
    if (rows > 0)
        add(&m->counters[C_ROWS_CANCELLED], (uint64_t)rows);
}

void nmt_metrics_reject(nmt_metrics *m, nmt_reject_reason reason)
{
    if ((int)reason >= 0 && reason < NMT_REJECT_COUNT_)
        add(&m->rejections[reason], 1);
}

void nmt_metrics_gauge_add(nmt_metrics *m, nmt_gauge which, long delta)
{
    if ((int)which >= 0 && which < NMT_GAUGE_COUNT_)
        atomic_fetch_add_explicit(&m->gauges[which], delta, memory_order_relaxed);
}

void nmt_metrics_gauge_set(nmt_metrics *m, nmt_gauge which, long value)
{
    if ((int)which >= 0 && which < NMT_GAUGE_COUNT_)
        atomic_store_explicit(&m->gauges[which], value, memory_order_relaxed);
}

long nmt_metrics_gauge_get(const nmt_metrics *m, nmt_gauge which)
{
    if ((int)which < 0 || which >= NMT_GAUGE_COUNT_)
        return 0;
    return atomic_load_explicit(&m->gauges[which], memory_order_relaxed);
}

static uint64_t load(const _Atomic uint64_t *a)
{
    return atomic_load_explicit(a, memory_order_relaxed);
}

/* ---- life cycle ----------------------------------------------------------- */

/* Label value escaping per the text format: \ -> \\, " -> \", newline -> \n. */
static char *escape_label(const char *s)
{
    size_t n = 0;
    for (const char *p = s; *p; p++)
        n += (*p == '\\' || *p == '"' || *p == '\n') ? 2 : 1;
    char *out = malloc(n + 1), *w = out;
    if (!out)
        return NULL;
    for (const char *p = s; *p; p++) {
        if (*p == '\\' || *p == '"' || *p == '\n') {
            *w++ = '\\';
            *w++ = *p == '\n' ? 'n' : *p;
        } else {
            *w++ = *p;
        }
    }
    *w = '\0';
    return out;
}

nmt_code nmt_metrics_new(nmt_metrics **out, const char *version, const char *model_name, nmt_err *err)
{
    *out = NULL;
    nmt_metrics *m = calloc(1, sizeof *m); /* all-zero bytes are zero atomics (lock-free integers) */
    if (!m)
        return nmt_err_set(err, NMT_ERR_NOMEM, "metrics: out of memory");
    clock_gettime(CLOCK_MONOTONIC, &m->start);
    m->version = escape_label(version ? version : "");
    m->model = escape_label(model_name ? model_name : "");
    if (!m->version || !m->model) {
        nmt_metrics_free(m);
        return nmt_err_set(err, NMT_ERR_NOMEM, "metrics: out of memory");
    }
    *out = m;
    return NMT_OK;
}

nmt_code nmt_metrics_add_model(nmt_metrics *m, const char *name, size_t weight_bytes, int loaded,
                               double load_seconds, nmt_err *err)
{
    model_metrics *grown = realloc(m->models, (size_t)(m->n_models + 1) * sizeof *grown);
    if (!grown)
        return nmt_err_set(err, NMT_ERR_NOMEM, "metrics: out of memory");
    m->models = grown;
    model_metrics *mm = &m->models[m->n_models];
    memset(mm, 0, sizeof *mm);
    if (!(mm->name = escape_label(name)))
        return nmt_err_set(err, NMT_ERR_NOMEM, "metrics: out of memory");
    mm->weight_bytes = weight_bytes;
    m->n_models++;
    if (loaded)
        nmt_metrics_model_weights(m, m->n_models - 1, 1, load_seconds);
    return NMT_OK;
}

void nmt_metrics_model_weights(nmt_metrics *m, int model, int loaded, double seconds)
{
    if (model < 0 || model >= m->n_models)
        return;
    model_metrics *mm = &m->models[model];
    atomic_store_explicit(&mm->loaded, loaded ? 1 : 0, memory_order_relaxed);
    if (loaded) {
        atomic_store_explicit(&mm->load_microseconds, (uint64_t)(seconds > 0 ? seconds * 1e6 : 0),
                              memory_order_relaxed);
        atomic_fetch_add_explicit(&mm->loads, 1, memory_order_relaxed);
    } else {
        atomic_fetch_add_explicit(&mm->unloads, 1, memory_order_relaxed);
    }
}

void nmt_metrics_model_queue_depth(nmt_metrics *m, int model, long depth)
{
    if (model >= 0 && model < m->n_models)
        atomic_store_explicit(&m->models[model].queue_depth, depth, memory_order_relaxed);
}

void nmt_metrics_free(nmt_metrics *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->n_models; i++)
        free(m->models[i].name);
    free(m->models);
    free(m->version);
    free(m->model);
    free(m);
}

/* ---- rendering ------------------------------------------------------------ */

/* An snprintf-style writer: len counts what the whole text needs even after
 * buf is full. */
typedef struct writer {
    char *buf;
    size_t cap, len;
} writer;

static void emit(writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit(writer *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = w->len < w->cap ? w->cap - w->len : 0;
    int n = vsnprintf(room ? w->buf + w->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        w->len += (size_t)n;
}

static void family(writer *w, const char *name, const char *type, const char *help)
{
    emit(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void render_histogram(writer *w, const nmt_metrics *m, int which)
{
    const hist_def *d = &hist_defs[which];
    const histogram *h = &m->hist[which];
    family(w, d->name, "histogram", d->help);
    uint64_t cum = 0;
    for (int i = 0; i < d->n_bounds; i++) {
        cum += load(&h->bucket[i]);
        emit(w, "%s_bucket{le=\"%g\"} %llu\n", d->name, d->bounds[i], (unsigned long long)cum);
    }
    cum += load(&h->bucket[d->n_bounds]);
    emit(w, "%s_bucket{le=\"+Inf\"} %llu\n", d->name, (unsigned long long)cum);
    uint64_t sum = load(&h->sum);
    if (d->unit == 1)
        emit(w, "%s_sum %llu\n", d->name, (unsigned long long)sum);
    else
        emit(w, "%s_sum %.6f\n", d->name, (double)sum / d->unit);
    emit(w, "%s_count %llu\n", d->name, (unsigned long long)cum);
}

size_t nmt_metrics_render_buf(const nmt_metrics *m, char *buf, size_t cap)
{
    writer w = {buf, cap, 0};
    if (cap)
        buf[0] = '\0';

    family(&w, "nmtd_build_info", "gauge", "Version of nmtd and the names of the served models (comma-separated); always 1.");
    emit(&w, "nmtd_build_info{version=\"%s\",model=\"%s\"} 1\n", m->version, m->model);

    family(&w, "nmtd_requests_total", "counter", "HTTP requests answered, by status code.");
    for (int i = 0; i < N_STATUSES; i++)
        emit(&w, "nmtd_requests_total{status=\"%d\"} %llu\n", statuses[i],
             (unsigned long long)load(&m->requests[i]));
    emit(&w, "nmtd_requests_total{status=\"other\"} %llu\n", (unsigned long long)load(&m->requests[N_STATUSES]));

    for (int h = 0; h < H_COUNT_; h++)
        render_histogram(&w, m, h);

    for (int g = 0; g < NMT_GAUGE_COUNT_; g++) {
        family(&w, gauge_defs[g].name, "gauge", gauge_defs[g].help);
        emit(&w, "%s %ld\n", gauge_defs[g].name, nmt_metrics_gauge_get(m, (nmt_gauge)g));
    }

    for (int c = 0; c < C_COUNT_; c++) {
        family(&w, counter_defs[c].name, "counter", counter_defs[c].help);
        emit(&w, "%s %llu\n", counter_defs[c].name, (unsigned long long)load(&m->counters[c]));
    }

    family(&w, "nmtd_connections_cut_total", "counter",
           "Connections closed by the server to protect the others, by reason.");
    for (int c = 0; c < NMT_CUT_COUNT_; c++)
        emit(&w, "nmtd_connections_cut_total{reason=\"%s\"} %llu\n", cut_names[c],
             (unsigned long long)load(&m->cuts[c]));

    family(&w, "nmtd_rejections_total", "counter", "Requests refused or abandoned, by reason.");
    for (int r = 0; r < NMT_REJECT_COUNT_; r++)
        emit(&w, "nmtd_rejections_total{reason=\"%s\"} %llu\n", reject_names[r],
             (unsigned long long)load(&m->rejections[r]));

    if (m->n_models > 0) {
        family(&w, "nmtd_model_loaded", "gauge", "1 while a served model's weights are in memory, else 0.");
        for (int i = 0; i < m->n_models; i++)
            emit(&w, "nmtd_model_loaded{model=\"%s\"} %d\n", m->models[i].name,
                 atomic_load_explicit(&m->models[i].loaded, memory_order_relaxed));
        family(&w, "nmtd_model_weight_bytes", "gauge",
               "Bytes of a served model's weights in memory as computed (fp32, or int8 rows; 0 while unloaded).");
        for (int i = 0; i < m->n_models; i++)
            emit(&w, "nmtd_model_weight_bytes{model=\"%s\"} %llu\n", m->models[i].name,
                 atomic_load_explicit(&m->models[i].loaded, memory_order_relaxed)
                     ? (unsigned long long)m->models[i].weight_bytes : 0ULL);
        family(&w, "nmtd_model_load_seconds", "gauge", "Seconds the last load of a served model's weights took.");
        for (int i = 0; i < m->n_models; i++)
            emit(&w, "nmtd_model_load_seconds{model=\"%s\"} %.3f\n", m->models[i].name,
                 (double)load(&m->models[i].load_microseconds) / 1e6);
        family(&w, "nmtd_model_loads_total", "counter",
               "Times a served model's weights were loaded (at start or on use).");
        for (int i = 0; i < m->n_models; i++)
            emit(&w, "nmtd_model_loads_total{model=\"%s\"} %llu\n", m->models[i].name,
                 (unsigned long long)load(&m->models[i].loads));
        family(&w, "nmtd_model_unloads_total", "counter",
               "Times a served model's weights were unloaded (max_loaded_models).");
        for (int i = 0; i < m->n_models; i++)
            emit(&w, "nmtd_model_unloads_total{model=\"%s\"} %llu\n", m->models[i].name,
                 (unsigned long long)load(&m->models[i].unloads));
        family(&w, "nmtd_model_queue_depth_sentences", "gauge", "Sentences waiting for a worker, by model.");
        for (int i = 0; i < m->n_models; i++)
            emit(&w, "nmtd_model_queue_depth_sentences{model=\"%s\"} %ld\n", m->models[i].name,
                 atomic_load_explicit(&m->models[i].queue_depth, memory_order_relaxed));
        for (int c = 0; c < M_COUNT_; c++) {
            family(&w, model_counter_defs[c].name, "counter", model_counter_defs[c].help);
            for (int i = 0; i < m->n_models; i++)
                emit(&w, "%s{model=\"%s\"} %llu\n", model_counter_defs[c].name, m->models[i].name,
                     (unsigned long long)load(&m->models[i].counters[c]));
        }
    }

    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double up = (double)(now.tv_sec - m->start.tv_sec) + (double)(now.tv_nsec - m->start.tv_nsec) / 1e9;
    family(&w, "nmtd_uptime_seconds", "gauge", "Seconds since the metrics were created at start-up.");
    emit(&w, "nmtd_uptime_seconds %.3f\n", up > 0 ? up : 0.0);
    return w.len;
}

void nmt_metrics_set_cuts(nmt_metrics *m, nmt_cut_reason which, uint64_t total)
{
    if ((int)which >= 0 && which < NMT_CUT_COUNT_)
        atomic_store_explicit(&m->cuts[which], total, memory_order_relaxed);
}

nmt_code nmt_metrics_render(const nmt_metrics *m, char **out, size_t *len, nmt_err *err)
{
    size_t cap = 8192;
    *out = NULL;
    for (;;) {
        char *buf = malloc(cap);
        if (!buf)
            return nmt_err_set(err, NMT_ERR_NOMEM, "metrics: out of memory rendering %zu bytes", cap);
        size_t need = nmt_metrics_render_buf(m, buf, cap);
        if (need < cap) {
            *out = buf;
            if (len)
                *len = need;
            return NMT_OK;
        }
        free(buf);
        cap = need + 1024; /* values may have grown a digit meanwhile */
    }
}
