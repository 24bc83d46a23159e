/* http.c: libmicrohttpd routes and the suspend/resume lifecycle of a
 * translation request (after libmicrohttpd's suspend_resume_epoll example):
 *   1st call     allocate the request state, route, check Content-Length;
 *   body calls   accumulate up to max_body_bytes (past it: remember, discard);
 *   last call    parse + validate (api.c), submit to the batcher, suspend;
 *   completion   (batcher worker) mark done, resume the connection;
 *   next call    build the JSON answer from the job, queue the response;
 *   completed    (libmicrohttpd) free the state.
 * Every accepted request is answered exactly once: the batcher completes
 * every job it accepted, also at shutdown. */
#include "http.h"

#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

struct nmt_http {
    nmt_http_opts o;
    struct MHD_Daemon *daemon;
    nmt_batcher *batcher;
    nmt_metrics *metrics;
    atomic_int ready;
    atomic_int draining;
    atomic_int inflight;       /* translate requests accepted and not yet completed (answer sent) */
    int port;
    char retry_after[16];
};

#define NO_REJECT NMT_REJECT_COUNT_ /* an error that is not a rejection (500, 503 loading) */

typedef enum route { ROUTE_TRANSLATE, ROUTE_HEALTH, ROUTE_READY, ROUTE_METRICS, ROUTE_MODEL, ROUTE_NONE } route;

typedef struct request_state {
    nmt_http *http;
    struct MHD_Connection *conn;
    route route;
    char method[16];
    double t_start;
    char *body;
    size_t len, cap;
    int too_large;
    nmt_api_request req;
    nmt_job *job;
    pthread_mutex_t lock;      /* done / suspended handshake with the worker */
    int done, suspended, submitted;
    int responded;
} request_state;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- responses -------------------------------------------------------- */

static enum MHD_Result send_body(request_state *st, int status, char *body, const char *content_type,
                                 const char *allow, int n_sentences)
{
    nmt_http *http = st->http;
    if (!body)
        body = strdup("{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}"), status = 500;
    if (!body)
        return MHD_NO;
    struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    if (allow)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    if (status == 503)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, http->retry_after);
    enum MHD_Result r = MHD_queue_response(st->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    double latency = now_s() - st->t_start;
    st->responded = 1;
    if (http->metrics)
        nmt_metrics_request(http->metrics, status, latency);
    if (http->o.access_log) {
        nmt_info("access", "%s %s %d sentences=%d latency_ms=%.1f", st->method,
                 st->route == ROUTE_TRANSLATE ? "/translate" : st->route == ROUTE_HEALTH ? "/health"
                 : st->route == ROUTE_READY   ? "/ready"
                 : st->route == ROUTE_METRICS ? "/metrics"
                 : st->route == ROUTE_MODEL   ? "/v1/model"
                                              : "(unknown)",
                 status, n_sentences, latency * 1000.0);
    }
    return r;
}

static enum MHD_Result send_json(request_state *st, int status, char *body, int n)
{
    return send_body(st, status, body, "application/json", NULL, n);
}

static enum MHD_Result send_error(request_state *st, int status, const char *code, const char *message,
                                  nmt_reject_reason reason)
{
    if (st->http->metrics && reason != NO_REJECT)
        nmt_metrics_reject(st->http->metrics, reason);
    return send_body(st, status, nmt_api_error_body(code, message), "application/json",
                     status == 405 ? (st->route == ROUTE_TRANSLATE ? "POST" : "GET") : NULL, 0);
}

/* ---- the translate lifecycle ------------------------------------------ */

/* Batcher worker: the job is complete. */
static void on_job_done(nmt_job *job, void *ctx)
{
    request_state *st = ctx;
    pthread_mutex_lock(&st->lock);
    st->job = job;
    st->done = 1;
    if (st->suspended) {
        st->suspended = 0;
        MHD_resume_connection(st->conn);
    }
    pthread_mutex_unlock(&st->lock);
}

/* Batcher worker: has the client closed its end?  A suspended connection is
 * not polled by libmicrohttpd, so look at the socket: EOF means gone. */
static int client_gone(void *ctx)
{
    request_state *st = ctx;
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(st->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci)
        return 0;
    char byte;
    ssize_t n = recv(ci->connect_fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

static enum MHD_Result answer_job(request_state *st)
{
    nmt_http *http = st->http;
    nmt_job *job = st->job;
    if (http->metrics)
        nmt_metrics_gauge_add(http->metrics, NMT_GAUGE_INFLIGHT, -1);
    switch (nmt_job_status_of(job)) {
    case NMT_JOB_OK: {
        const char **texts = malloc(sizeof *texts * (size_t)(st->req.n ? st->req.n : 1));
        if (!texts)
            return send_error(st, 500, "internal", "out of memory", NO_REJECT);
        for (int i = 0; i < st->req.n; i++)
            texts[i] = nmt_job_text(job, i);
        char *body = nmt_api_translate_body(&st->req, texts);
        free(texts);
        return send_json(st, 200, body, st->req.n);
    }
    case NMT_JOB_TIMEOUT:
        return send_error(st, 504, "timeout", "the request waited longer than request_timeout_ms",
                          NMT_REJECT_TIMEOUT);
    case NMT_JOB_CANCELLED:
        if (http->metrics)
            nmt_metrics_reject(http->metrics, NMT_REJECT_CLIENT_GONE);
        return MHD_NO; /* nobody to answer: close */
    case NMT_JOB_SHUTDOWN:
        return send_error(st, 503, "shutting_down", "the server stopped before this request could run",
                          NMT_REJECT_DRAINING);
    case NMT_JOB_FAILED:
        break;
    }
    nmt_error("http", "translation failed inside the engine (see above)");
    return send_error(st, 500, "internal", "translation failed; the server log has details", NO_REJECT);
}

static enum MHD_Result start_translate(request_state *st)
{
    nmt_http *http = st->http;
    if (st->too_large) {
        char msg[128];
        snprintf(msg, sizeof msg, "the body is larger than %zu bytes (max_body_bytes)", http->o.max_body_bytes);
        return send_error(st, 413, "body_too_large", msg, NMT_REJECT_BODY_TOO_LARGE);
    }
    if (atomic_load(&http->draining))
        return send_error(st, 503, "shutting_down", "the server is shutting down", NMT_REJECT_DRAINING);
    nmt_api_error e;
    if (nmt_api_parse_translate(st->body ? st->body : "", st->len, &http->o.limits, &st->req, &e))
        return send_error(st, e.status, e.code, e.message, NMT_REJECT_INVALID_REQUEST);
    if (http->metrics)
        nmt_metrics_sentences_in(http->metrics, st->req.n);
    int bad = -1;
    nmt_err err;
    atomic_fetch_add(&http->inflight, 1);
    st->submitted = 1;
    nmt_code rc = nmt_batcher_submit(http->batcher, (const char *const *)st->req.texts, st->req.lens, st->req.n,
                                     st->req.max_length, on_job_done, client_gone, st, &bad, &err);
    if (rc) {
        atomic_fetch_sub(&http->inflight, 1);
        st->submitted = 0;
        switch (rc) {
        case NMT_ERR_TOO_LONG:
            return send_error(st, 400, "too_many_tokens", err.msg, NMT_REJECT_INVALID_REQUEST);
        case NMT_ERR_BUSY:
            return send_error(st, 503, "queue_full", err.msg, NMT_REJECT_QUEUE_FULL);
        case NMT_ERR_CLOSED:
            return send_error(st, 503, "shutting_down", "the server is shutting down", NMT_REJECT_DRAINING);
        default:
            nmt_error("http", "submit failed: %s", err.msg);
            return send_error(st, 500, "internal", "the request could not be queued", NO_REJECT);
        }
    }
    if (http->metrics)
        nmt_metrics_gauge_add(http->metrics, NMT_GAUGE_INFLIGHT, 1);
    pthread_mutex_lock(&st->lock);
    int done = st->done;
    if (!done) {
        st->suspended = 1;
        MHD_suspend_connection(st->conn);
    }
    pthread_mutex_unlock(&st->lock);
    return done ? answer_job(st) : MHD_YES;
}

/* ---- routing ---------------------------------------------------------- */

static route route_of(const char *url)
{
    static const struct { const char *path; route r; } table[] = {
        {"/translate", ROUTE_TRANSLATE}, {"/health", ROUTE_HEALTH}, {"/ready", ROUTE_READY},
        {"/metrics", ROUTE_METRICS},     {"/v1/model", ROUTE_MODEL},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(url, table[i].path) == 0)
            return table[i].r;
    return ROUTE_NONE;
}

static enum MHD_Result answer_get(request_state *st)
{
    nmt_http *http = st->http;
    switch (st->route) {
    case ROUTE_HEALTH:
        return send_json(st, 200, strdup("{\"status\":\"ok\"}"), 0);
    case ROUTE_READY:
        if (atomic_load(&http->ready) && !atomic_load(&http->draining))
            return send_json(st, 200, strdup("{\"status\":\"ready\"}"), 0);
        return send_error(st, 503, atomic_load(&http->draining) ? "shutting_down" : "loading",
                          atomic_load(&http->draining) ? "the server is shutting down" : "the model is loading",
                          NO_REJECT);
    case ROUTE_METRICS: {
        char *text = NULL;
        size_t len;
        nmt_err err;
        if (http->metrics) {
            nmt_metrics_gauge_set(http->metrics, NMT_GAUGE_QUEUE_DEPTH, nmt_batcher_queue_depth(http->batcher));
            if (nmt_metrics_render(http->metrics, &text, &len, &err))
                return send_error(st, 500, "internal", err.msg, NO_REJECT);
        }
        return send_body(st, 200, text ? text : strdup(""), NMT_METRICS_CONTENT_TYPE, NULL, 0);
    }
    case ROUTE_MODEL:
        return send_json(st, 200, strdup(http->o.model_info_json ? http->o.model_info_json : "{}"), 0);
    default:
        return send_error(st, 404, "not_found", "unknown path", NMT_REJECT_INVALID_REQUEST);
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    nmt_http *http = cls;
    request_state *st = *con_cls;
    if (!st) {
        st = calloc(1, sizeof *st);
        if (!st)
            return MHD_NO;
        st->http = http;
        st->conn = conn;
        st->t_start = now_s();
        st->route = route_of(url);
        snprintf(st->method, sizeof st->method, "%s", method);
        pthread_mutex_init(&st->lock, NULL);
        *con_cls = st;
        if (st->route == ROUTE_NONE)
            return send_error(st, 404, "not_found", "unknown path; try POST /translate", NMT_REJECT_INVALID_REQUEST);
        int is_post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
        int is_get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
        if (st->route == ROUTE_TRANSLATE ? !is_post : !is_get) {
            char msg[96];
            snprintf(msg, sizeof msg, "%s is not allowed on %s", method, url);
            return send_error(st, 405, "method_not_allowed", msg, NMT_REJECT_INVALID_REQUEST);
        }
        if (st->route != ROUTE_TRANSLATE)
            return MHD_YES; /* answered once the (empty) body is read */
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > http->o.max_body_bytes) {
            st->too_large = 1;
            return start_translate(st); /* 413 before reading the body; the connection closes */
        }
        return MHD_YES;
    }
    if (st->responded) {
        *upload_data_size = 0; /* the rest of a refused body is discarded */
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (st->route != ROUTE_TRANSLATE)
            return MHD_YES; /* GET bodies are ignored */
        if (st->len + n > http->o.max_body_bytes) {
            st->too_large = 1;
            return start_translate(st); /* 413 at once; the rest is not read */
        }
        if (st->len + n + 1 > st->cap) {
            size_t cap = st->cap ? st->cap : 4096;
            while (cap < st->len + n + 1)
                cap *= 2;
            char *grown = realloc(st->body, cap);
            if (!grown)
                return MHD_NO;
            st->body = grown;
            st->cap = cap;
        }
        memcpy(st->body + st->len, upload_data, n);
        st->len += n;
        st->body[st->len] = '\0';
        return MHD_YES;
    }
    if (st->route != ROUTE_TRANSLATE)
        return answer_get(st);
    if (!st->submitted)
        return start_translate(st);
    pthread_mutex_lock(&st->lock);
    int done = st->done;
    pthread_mutex_unlock(&st->lock);
    return done ? answer_job(st) : MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    request_state *st = *con_cls;
    if (!st)
        return;
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && st->submitted && !st->responded)
        nmt_debug("http", "connection ended before its answer (code %d)", (int)toe);
    if (st->submitted)
        atomic_fetch_sub(&st->http->inflight, 1);
    nmt_job_free(st->job);
    nmt_api_request_free(&st->req);
    free(st->body);
    pthread_mutex_destroy(&st->lock);
    free(st);
    *con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    nmt_debug("mhd", "%s", line);
}

/* ---- lifecycle -------------------------------------------------------- */

nmt_code nmt_http_start(nmt_http **out, const nmt_http_opts *opts, nmt_batcher *batcher, nmt_metrics *metrics,
                        nmt_err *err)
{
    *out = NULL;
    nmt_http *http = calloc(1, sizeof *http);
    if (!http)
        return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
    http->o = *opts;
    http->batcher = batcher;
    http->metrics = metrics;
    snprintf(http->retry_after, sizeof http->retry_after, "%d", opts->retry_after_s);
    struct sockaddr_storage addr;
    memset(&addr, 0, sizeof addr);
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG | MHD_USE_ITC;
    struct sockaddr_in *v4 = (struct sockaddr_in *)&addr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&addr;
    if (inet_pton(AF_INET, opts->address, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)opts->port);
    } else if (inet_pton(AF_INET6, opts->address, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)opts->port);
        flags |= MHD_USE_IPv6;
    } else {
        free(http);
        return nmt_err_set(err, NMT_ERR_INVALID, "listen_address '%s' is not an IPv4 or IPv6 address",
                           opts->address);
    }
    http->daemon = MHD_start_daemon(
        flags, (uint16_t)opts->port, NULL, NULL, on_request, http, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)opts->threads, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)opts->connection_limit, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)opts->connection_timeout_s,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, http, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, http,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u, MHD_OPTION_END);
    if (!http->daemon) {
        int e = errno;
        free(http);
        return nmt_err_set(err, NMT_ERR_IO, "cannot listen on %s:%d: %s", opts->address, opts->port,
                           e ? strerror(e) : "libmicrohttpd refused to start");
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(http->daemon, MHD_DAEMON_INFO_BIND_PORT);
    http->port = info ? info->port : opts->port;
    *out = http;
    return NMT_OK;
}

int nmt_http_port(const nmt_http *http) { return http->port; }

void nmt_http_set_ready(nmt_http *http, int ready)
{
    atomic_store(&http->ready, ready);
    if (http->metrics)
        nmt_metrics_gauge_set(http->metrics, NMT_GAUGE_READY, ready && !atomic_load(&http->draining));
}

void nmt_http_drain(nmt_http *http)
{
    atomic_store(&http->draining, 1);
    if (http->metrics)
        nmt_metrics_gauge_set(http->metrics, NMT_GAUGE_READY, 0);
    MHD_socket fd = MHD_quiesce_daemon(http->daemon);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
}

int nmt_http_wait_idle(nmt_http *http, int timeout_ms)
{
    double deadline = now_s() + timeout_ms / 1000.0;
    while (atomic_load(&http->inflight) > 0 && now_s() < deadline) {
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return atomic_load(&http->inflight);
}

void nmt_http_stop(nmt_http *http)
{
    if (!http)
        return;
    if (http->daemon)
        MHD_stop_daemon(http->daemon);
    free(http);
}
