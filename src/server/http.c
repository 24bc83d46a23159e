/* http.c: libmicrohttpd routes and the suspend/resume lifecycle of a
 * translation request (after libmicrohttpd's suspend_resume_epoll example):
 *   1st call     allocate the request state, route, check the framing
 *                headers and Content-Length;
 *   body calls   accumulate up to max_body_bytes; past it, or for a request
 *                already refused, read and discard up to a bound so that the
 *                refusal reaches the client instead of a reset;
 *   last call    parse + validate (api.c), submit to the batcher, suspend;
 *   completion   (batcher worker) mark done, resume the connection;
 *   next call    build the JSON answer from the job, queue the response;
 *   completed    (libmicrohttpd) count what went on the wire, drop a ref.
 *
 * Ownership.  A request's state has two owners, counted in refs: the
 * connection (from the first call until libmicrohttpd's completion
 * callback) and the batcher (from a successful submit until the job's done
 * callback has run).  Whoever drops the last reference frees the state and
 * the job, so a client that resets its connection at any moment costs
 * nothing but its own request.  The done callback resumes the connection
 * as its last use of the connection and only drops its reference after
 * that: no lock of the state is taken once the connection is handed back.
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
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "conn_guard.h"
#include "html_text.h"
#include "libretranslate.h"
#include "log.h"
#include "util.h"

struct nmt_http {
    nmt_http_opts o;
    struct MHD_Daemon *daemon;
    nmt_conn_guard *guard;
    nmt_batcher *batcher;
    nmt_metrics *metrics;
    atomic_int ready;
    atomic_int draining;
    atomic_int access_log;
    atomic_int inflight;       /* translate requests accepted whose connection has not ended */
    pthread_mutex_t keys_lock; /* guards api_keys, which a reload replaces */
    nmt_api_keys *api_keys;    /* the caller's (nmt_http_swap_api_keys) */
    MHD_socket quiesced_fd;    /* the listening socket after drain; closed after MHD stops */
    int port;
    char retry_after[16];
};

#define NO_REJECT NMT_REJECT_COUNT_ /* an error that is not a rejection (500, 503 loading) */

typedef enum route {
    ROUTE_TRANSLATE,
    ROUTE_DETECT,
    ROUTE_HEALTH,
    ROUTE_READY,
    ROUTE_METRICS,
    ROUTE_MODEL,
    ROUTE_LANGUAGES,
    ROUTE_NONE
} route;

static const char *route_path(route r)
{
    static const char *const paths[] = {"/translate", "/detect",   "/health",    "/ready",
                                        "/metrics",   "/v1/model", "/languages", "(unknown)"};
    return paths[r];
}

/* routes that take a POST body; the others answer GET and HEAD */
static int is_post_route(route r) { return r == ROUTE_TRANSLATE || r == ROUTE_DETECT; }

/* A refusal decided before the body was read, sent once it has been. */
typedef struct pending_error {
    int status;                /* 0: none */
    const char *code;
    char message[160];
    nmt_reject_reason reason;
} pending_error;

typedef struct request_state {
    nmt_http *http;
    struct MHD_Connection *conn;
    atomic_int refs;           /* connection + batcher, see the top comment */
    route route;
    char method[16];
    double t_start;
    int fd;                    /* the client socket (for client_gone) */
    nmt_conn *gconn;           /* the connection as the guard knows it (may be NULL) */
    /* libmicrohttpd's thread only: */
    char *body;
    size_t len, cap;
    size_t discarded;          /* body bytes read and dropped after a refusal */
    pending_error pending;
    int preflight;             /* a CORS OPTIONS request */
    nmt_api_request req;
    nmt_route *routes;         /* [req.n] where each text goes */
    int pivoted;               /* some text goes through the pivot language */
    int lt;                    /* LibreTranslate's API: its fields, shapes and errors */
    char lt_source[16];        /* its "source" ("auto": detect) */
    nmt_detection *detected;   /* source "auto": the language of each text of q */
    struct lt_html *html;      /* its format "html": req holds the text pieces */
    int submitted;             /* the batcher accepted the job */
    int status;                /* of the queued response; 0 before */
    /* shared with the batcher worker, under lock: */
    pthread_mutex_t lock;
    nmt_job *job;
    int done, suspended, closed;
} request_state;

/* A LibreTranslate request in format "html": the fragments as sent, each cut
 * into markup and text (html_text.h); the request's texts are the decoded
 * text pieces of all fragments in order. */
typedef struct lt_html {
    nmt_api_request source; /* q as sent */
    nmt_html_piece **pieces; /* [source.n] */
    int *n_pieces;
} lt_html;

static void lt_html_free(lt_html *h)
{
    if (!h)
        return;
    for (int k = 0; k < h->source.n; k++)
        free(h->pieces ? h->pieces[k] : NULL);
    free(h->pieces);
    free(h->n_pieces);
    nmt_api_request_free(&h->source);
    free(h);
}

static void request_unref(request_state *st)
{
    if (atomic_fetch_sub(&st->refs, 1) != 1)
        return;
    nmt_job_free(st->job);
    nmt_api_request_free(&st->req);
    free(st->routes);
    free(st->detected);
    lt_html_free(st->html);
    free(st->body);
    pthread_mutex_destroy(&st->lock);
    free(st);
}

/* Bytes of a refused body read and dropped before answering: enough that
 * an ordinary oversized upload receives its 413, bounded so that a client
 * streaming forever is cut off. */
static size_t discard_limit(const nmt_http *http)
{
    return 4 * http->o.max_body_bytes + ((size_t)32 << 20);
}

/* ---- responses -------------------------------------------------------- */

/* Queues body (taken, malloc'd) as the answer.  close_after: the connection
 * closes once it is sent (framing errors, refused bodies). */
static enum MHD_Result send_body(request_state *st, int status, char *body, const char *content_type,
                                 int close_after)
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
    if (status == 405)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, is_post_route(st->route) ? "POST" : "GET, HEAD");
    if (status == 429)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, http->retry_after);
    if (status == 503)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, http->retry_after);
    if (close_after)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    if (http->o.cors_origin && http->o.cors_origin[0]) {
        MHD_add_response_header(resp, "Access-Control-Allow-Origin", http->o.cors_origin);
        if (strcmp(http->o.cors_origin, "*") != 0)
            MHD_add_response_header(resp, "Vary", "Origin");
        if (st->preflight) {
            MHD_add_response_header(resp, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
            MHD_add_response_header(resp, "Access-Control-Allow-Headers", "Content-Type, X-API-Key");
            MHD_add_response_header(resp, "Access-Control-Max-Age", "86400");
        }
    }
    enum MHD_Result r = MHD_queue_response(st->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    if (r == MHD_YES)
        st->status = status;
    return r;
}

static enum MHD_Result send_json(request_state *st, int status, char *body)
{
    return send_body(st, status, body, "application/json", 0);
}

static enum MHD_Result send_error_ex(request_state *st, int status, const char *code, const char *message,
                                     nmt_reject_reason reason, int close_after)
{
    if (st->http->metrics && reason != NO_REJECT)
        nmt_metrics_reject(st->http->metrics, reason);
    char *body = st->lt ? nmt_lt_error_body(message) : nmt_api_error_body(code, message);
    return send_body(st, status, body, "application/json", close_after);
}

static enum MHD_Result send_error(request_state *st, int status, const char *code, const char *message,
                                  nmt_reject_reason reason)
{
    return send_error_ex(st, status, code, message, reason, 0);
}

static void set_pending(request_state *st, int status, const char *code, nmt_reject_reason reason,
                        const char *message)
{
    st->pending = (pending_error){.status = status, .code = code, .reason = reason};
    snprintf(st->pending.message, sizeof st->pending.message, "%s", message);
}

/* The refusal decided earlier; the connection closes after it (a refused
 * body may not have been read whole). */
static enum MHD_Result send_pending(request_state *st)
{
    return send_error_ex(st, st->pending.status, st->pending.code, st->pending.message, st->pending.reason, 1);
}

/* ---- the translate lifecycle ------------------------------------------ */

/* Batcher worker: the job is complete.  The connection is suspended (or
 * its handler has not yet suspended it), so it is valid here; resuming it
 * is the last use, then the batcher's reference goes. */
static void on_job_done(nmt_job *job, void *user)
{
    request_state *st = user;
    pthread_mutex_lock(&st->lock);
    st->job = job;
    st->done = 1;
    int resume = st->suspended;
    st->suspended = 0;
    pthread_mutex_unlock(&st->lock);
    if (resume)
        MHD_resume_connection(st->conn);
    request_unref(st);
}

/* Batcher worker: has the client closed its end?  A suspended connection is
 * not polled by libmicrohttpd, so look at the socket: EOF or an error (a
 * reset) means gone.  The batcher holds a reference, so st is valid; the
 * socket is, until the connection is closed. */
static int client_gone(void *user)
{
    request_state *st = user;
    int gone = 1;
    pthread_mutex_lock(&st->lock);
    if (!st->closed && st->fd >= 0) {
        char byte;
        ssize_t n = recv(st->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
        gone = n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
    }
    pthread_mutex_unlock(&st->lock);
    return gone;
}

/* ---- LibreTranslate's API ---------------------------------------------- */

static const char *content_type(struct MHD_Connection *conn)
{
    return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
}

/* a multipart body is LibreTranslate's from the first call on */
static int lt_content_type(struct MHD_Connection *conn)
{
    const char *ct = content_type(conn);
    return ct && strncasecmp(ct, "multipart/form-data", 19) == 0;
}

/* whether the query string has q (with a value or without) */
static int query_has_q(struct MHD_Connection *conn)
{
    const char *value;
    size_t size;
    return MHD_lookup_connection_value_n(conn, MHD_GET_ARGUMENT_KIND, "q", 1, &value, &size) == MHD_YES;
}

static enum MHD_Result add_query_field(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    nmt_form *f = cls;
    if (key)
        nmt_form_add(f, key, strlen(key), value ? value : "", value ? strlen(value) : 0);
    return MHD_YES;
}

/* the query string's fields (libmicrohttpd has decoded them) */
static void query_fields(const request_state *st, nmt_form *f)
{
    MHD_get_connection_values(st->conn, MHD_GET_ARGUMENT_KIND, add_query_field, f);
}

static int out_of_memory(nmt_api_error *e)
{
    *e = (nmt_api_error){.status = 500, .code = "internal"};
    snprintf(e->message, sizeof e->message, "out of memory");
    return -1;
}

/* With keys configured: whether the request carries one, in body_key (a
 * LibreTranslate api_key field, may be NULL) or the X-API-Key header. */
static int key_accepted(const request_state *st, const char *body_key)
{
    const char *header = MHD_lookup_connection_value(st->conn, MHD_HEADER_KIND, "X-API-Key");
    pthread_mutex_lock(&st->http->keys_lock);
    const nmt_api_keys *keys = st->http->api_keys;
    int ok = !keys || (body_key && nmt_api_keys_accept(keys, body_key, strlen(body_key))) ||
             (header && nmt_api_keys_accept(keys, header, strlen(header)));
    pthread_mutex_unlock(&st->http->keys_lock);
    return ok;
}

static int forbidden(nmt_api_error *e)
{
    *e = (nmt_api_error){.status = 403, .code = "invalid_api_key"};
    snprintf(e->message, sizeof e->message, "Invalid API key: this server needs a key in api_key or X-API-Key");
    return -1;
}

/* Parses st's body as LibreTranslate's /translate (detect = 0) or /detect
 * request into st->req; the key, and a /translate's languages, are checked. */
static int lt_parse(request_state *st, int detect, nmt_lt_request *lt, nmt_api_error *e)
{
    nmt_form *query = calloc(1, sizeof *query);
    if (!query)
        return out_of_memory(e);
    query_fields(st, query);
    int rc = nmt_lt_parse(detect, content_type(st->conn), st->body ? st->body : "", st->len, query,
                          &st->http->o.limits, lt, e);
    nmt_form_free(query);
    free(query);
    if (rc == 0 && !key_accepted(st, lt->api_key)) {
        nmt_lt_request_free(lt);
        rc = forbidden(e);
    }
    return rc;
}

/* format "html": cuts each fragment; the request's texts become the decoded
 * text pieces (st->req.n may be 0: nothing to translate) */
static int lt_cut_html(request_state *st, nmt_api_request *q, nmt_api_error *e)
{
    lt_html *h = calloc(1, sizeof *h);
    if (!h)
        return out_of_memory(e);
    st->html = h;
    h->source = *q; /* owned by h from here on */
    *q = (nmt_api_request){0};
    h->pieces = calloc((size_t)(h->source.n ? h->source.n : 1), sizeof *h->pieces);
    h->n_pieces = calloc((size_t)(h->source.n ? h->source.n : 1), sizeof *h->n_pieces);
    if (!h->pieces || !h->n_pieces)
        return out_of_memory(e);
    int total = 0;
    for (int k = 0; k < h->source.n; k++) {
        if (nmt_html_cut(h->source.texts[k], h->source.lens[k], &h->pieces[k], &h->n_pieces[k]))
            return out_of_memory(e);
        for (int j = 0; j < h->n_pieces[k]; j++)
            total += h->pieces[k][j].is_text;
    }
    nmt_api_request *r = &st->req;
    *r = (nmt_api_request){.is_list = 1, .split = 1};
    r->texts = calloc((size_t)(total ? total : 1), sizeof *r->texts);
    r->lens = calloc((size_t)(total ? total : 1), sizeof *r->lens);
    if (!r->texts || !r->lens)
        return out_of_memory(e);
    nmt_route *routes = calloc((size_t)(total > 0 ? total : 1), sizeof *routes);
    if (!routes)
        return out_of_memory(e);
    for (int k = 0; k < h->source.n; k++)
        for (int j = 0; j < h->n_pieces[k]; j++) {
            const nmt_html_piece *p = &h->pieces[k][j];
            if (!p->is_text)
                continue;
            routes[r->n] = st->routes[k]; /* a piece goes where its fragment goes */
            if (!(r->texts[r->n] = nmt_html_decode(h->source.texts[k] + p->off, p->len, &r->lens[r->n]))) {
                free(routes);
                return out_of_memory(e);
            }
            r->n++;
        }
    free(st->routes);
    st->routes = routes;
    return 0;
}

/* source "auto": each text's language among the sources that reach
 * target (CLD2), into st->detected; one candidate needs no certainty,
 * several need CLD2 to be sure.  0, or -1 with e filled. */
static int lt_detect(request_state *st, const nmt_api_request *q, const char *target, nmt_api_error *e)
{
    const char *cands[64];
    int n_cands = nmt_model_set_sources(st->http->o.models, target, cands, 64);
    if (n_cands == 0)
        return nmt_api_fail(e, 400, "unsupported_language_pair", "no served language translates into %.16s",
                            target);
    if (!(st->detected = calloc((size_t)(q->n > 0 ? q->n : 1), sizeof *st->detected)))
        return out_of_memory(e);
    for (int i = 0; i < q->n; i++) {
        nmt_detection *d = &st->detected[i];
        int found = nmt_detect_language(q->texts[i], q->lens[i], cands, n_cands, d, 1);
        if (n_cands == 1 && !found)
            *d = (nmt_detection){.language = cands[0]};
        else if (!found || (n_cands > 1 && !d->reliable && d->confidence < 90))
            return nmt_api_fail(e, 400, "detection_failed",
                                "could not tell the language of text %d with confidence; say \"source\"", i);
    }
    return 0;
}

/* Routes every text of q (a text's own detected source with "auto"); the
 * routes of html fragments are copied to their text pieces later. */
static int lt_route(request_state *st, const nmt_api_request *q, const nmt_lt_request *lt, nmt_api_error *e)
{
    int autodetect = strcasecmp(lt->source, "auto") == 0;
    if (autodetect && lt_detect(st, q, lt->target, e))
        return -1;
    if (!(st->routes = calloc((size_t)(q->n > 0 ? q->n : 1), sizeof *st->routes)))
        return out_of_memory(e);
    for (int i = 0; i < q->n; i++) {
        const char *source = autodetect ? st->detected[i].language : lt->source;
        if (nmt_model_set_route(st->http->o.models, NULL, source, lt->target, &st->routes[i], e))
            return -1;
        st->pivoted |= st->routes[i].pivot;
    }
    return 0;
}

static int lt_parse_translate(request_state *st, nmt_api_error *e)
{
    nmt_lt_request lt;
    if (lt_parse(st, 0, &lt, e))
        return -1;
    snprintf(st->lt_source, sizeof st->lt_source, "%s", lt.source);
    if (lt_route(st, &lt.text, &lt, e)) {
        nmt_lt_request_free(&lt);
        return -1;
    }
    if (lt.html)
        return lt_cut_html(st, &lt.text, e);
    st->req = lt.text; /* the texts move to the request; its own fields stay here */
    return 0;
}

/* format "html": each fragment again, its text pieces replaced by their
 * translations (escaped), its markup as it came */
static char **lt_join_html(const lt_html *h, const char *const *texts)
{
    char **out = calloc((size_t)(h->source.n ? h->source.n : 1), sizeof *out);
    int t = 0, ok = out != NULL;
    for (int k = 0; ok && k < h->source.n; k++) {
        size_t len = 0, cap = 0;
        ok = nmt_html_append(&out[k], &len, &cap, "", 0) == 0;
        for (int j = 0; ok && j < h->n_pieces[k]; j++) {
            const nmt_html_piece *p = &h->pieces[k][j];
            ok = p->is_text ? nmt_html_append_escaped(&out[k], &len, &cap, texts[t], strlen(texts[t])) == 0
                            : nmt_html_append(&out[k], &len, &cap, h->source.texts[k] + p->off, p->len) == 0;
            t += p->is_text;
        }
    }
    if (!ok && out) {
        for (int k = 0; k < h->source.n; k++)
            free(out[k]);
        free(out);
        out = NULL;
    }
    return out;
}

/* the answer in the shape of q: texts are the translations of st->req's
 * texts (html: of its text pieces) */
static char *lt_translate_body(const request_state *st, const char *const *texts)
{
    const nmt_api_request *q = st->html ? &st->html->source : &st->req;
    char **joined = NULL;
    if (st->html && !(joined = lt_join_html(st->html, texts)))
        return NULL;
    char *body = nmt_lt_translate_body(&(nmt_lt_request){.text = *q}, joined ? (const char *const *)joined : texts,
                                       st->detected);
    for (int k = 0; joined && k < q->n; k++)
        free(joined[k]);
    free(joined);
    return body;
}

/* POST /detect: CLD2 on the text, among the served source languages */
static enum MHD_Result answer_detect(request_state *st)
{
    nmt_api_error e;
    nmt_lt_request lt;
    if (lt_parse(st, 1, &lt, &e))
        return send_error(st, e.status, e.code, e.message, NMT_REJECT_INVALID_REQUEST);
    const char *served[64];
    int n_served = nmt_model_set_sources(st->http->o.models, NULL, served, 64);
    nmt_detection found[1];
    int n = nmt_detect_language(lt.text.texts[0], lt.text.lens[0], served, n_served, found, 1);
    nmt_lt_request_free(&lt);
    return send_json(st, 200, nmt_lt_detect_body(found, n));
}

/* The pivot language when some text went through it, else NULL. */
static const char *pivot_of(const request_state *st)
{
    return st->pivoted ? nmt_model_set_pivot(st->http->o.models) : NULL;
}

static enum MHD_Result answer_job(request_state *st)
{
    nmt_job *job = st->job;
    switch (nmt_job_status_of(job)) {
    case NMT_JOB_OK: {
        const char **texts = malloc(sizeof *texts * (size_t)(st->req.n ? st->req.n : 1));
        if (!texts)
            return send_error(st, 500, "internal", "out of memory", NO_REJECT);
        for (int i = 0; i < st->req.n; i++)
            texts[i] = nmt_job_text(job, i);
        char *body = st->lt ? lt_translate_body(st, texts) : nmt_api_translate_body(&st->req, texts, pivot_of(st));
        free(texts);
        return send_json(st, 200, body);
    }
    case NMT_JOB_TIMEOUT:
        return send_error(st, 504, "timeout", "the request waited longer than request_timeout_ms",
                          NMT_REJECT_TIMEOUT);
    case NMT_JOB_CANCELLED:
        return MHD_NO; /* nobody to answer: close (counted as client_gone when it ends) */
    case NMT_JOB_SHUTDOWN:
        return send_error(st, 503, "shutting_down", "the server stopped before this request could run",
                          NMT_REJECT_DRAINING);
    case NMT_JOB_FAILED:
        break;
    }
    nmt_error("http", "translation failed inside the engine (see above)");
    return send_error(st, 500, "internal", "translation failed; the server log has details", NO_REJECT);
}

/* nmtd's own API: source, target or model route every text of the request. */
static int native_route(request_state *st, nmt_api_error *e)
{
    nmt_route where;
    if (nmt_model_set_route(st->http->o.models, st->req.model, st->req.source, st->req.target, &where, e))
        return -1;
    if (!(st->routes = calloc((size_t)(st->req.n ? st->req.n : 1), sizeof *st->routes)))
        return out_of_memory(e);
    for (int i = 0; i < st->req.n; i++)
        st->routes[i] = where;
    st->pivoted = where.pivot;
    return 0;
}

static enum MHD_Result start_translate(request_state *st)
{
    nmt_http *http = st->http;
    if (atomic_load(&http->draining))
        return send_error(st, 503, "shutting_down", "the server is shutting down", NMT_REJECT_DRAINING);
    nmt_api_error e;
    const char *body = st->body ? st->body : "";
    if (!st->lt)
        st->lt = nmt_lt_is_libretranslate(content_type(st->conn), body, st->len, query_has_q(st->conn));
    if (st->lt) {
        if (lt_parse_translate(st, &e))
            return send_error(st, e.status, e.code, e.message, NMT_REJECT_INVALID_REQUEST);
    } else if (!key_accepted(st, NULL)) {
        return send_error(st, 403, "invalid_api_key", "this server needs an API key in the X-API-Key header",
                          NMT_REJECT_INVALID_REQUEST);
    } else if (nmt_api_parse_translate(body, st->len, &http->o.limits, &st->req, &e) || native_route(st, &e)) {
        return send_error(st, e.status, e.code, e.message, NMT_REJECT_INVALID_REQUEST);
    }
    if (st->req.n == 0 && st->html) /* markup only: the answer is the request */
        return send_json(st, 200, lt_translate_body(st, NULL));
    int bad = -1, units = 0;
    nmt_err err;
    nmt_text_opts text_opts = {
        .split = st->req.split, .newline_join = http->o.newline_join, .max_units = http->o.max_segments};
    atomic_fetch_add(&st->refs, 1); /* the batcher's, if it takes the job */
    nmt_code rc = nmt_batcher_submit(http->batcher, (const char *const *)st->req.texts, st->req.lens, st->req.n,
                                     st->routes, &text_opts, st->req.max_length, on_job_done, client_gone, st, &bad, &units,
                                     &err);
    if (rc) {
        atomic_fetch_sub(&st->refs, 1); /* not taken: the connection's reference remains */
        switch (rc) {
        case NMT_ERR_TOO_LONG:
            return send_error(st, 400, "too_many_segments", err.msg, NMT_REJECT_INVALID_REQUEST);
        case NMT_ERR_BUSY: /* LibreTranslate's clients know 429 as "slow down" */
            return send_error(st, st->lt ? 429 : 503, "queue_full", err.msg, NMT_REJECT_QUEUE_FULL);
        case NMT_ERR_CLOSED:
            return send_error(st, 503, "shutting_down", "the server is shutting down", NMT_REJECT_DRAINING);
        default:
            nmt_error("http", "submit failed: %s", err.msg);
            return send_error(st, 500, "internal", "the request could not be queued", NO_REJECT);
        }
    }
    st->submitted = 1;
    atomic_fetch_add(&http->inflight, 1);
    if (http->metrics) {
        nmt_metrics_sentences_in(http->metrics, units);
        nmt_metrics_gauge_add(http->metrics, NMT_GAUGE_INFLIGHT, 1);
    }
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
        {"/translate", ROUTE_TRANSLATE}, {"/detect", ROUTE_DETECT},       {"/health", ROUTE_HEALTH},
        {"/ready", ROUTE_READY},         {"/metrics", ROUTE_METRICS},     {"/v1/model", ROUTE_MODEL},
        {"/languages", ROUTE_LANGUAGES},
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
        return send_json(st, 200, strdup("{\"status\":\"ok\"}"));
    case ROUTE_READY:
        if (atomic_load(&http->ready) && !atomic_load(&http->draining))
            return send_json(st, 200, strdup("{\"status\":\"ready\"}"));
        return send_error(st, 503, atomic_load(&http->draining) ? "shutting_down" : "loading",
                          atomic_load(&http->draining) ? "the server is shutting down" : "the model is loading",
                          NO_REJECT);
    case ROUTE_METRICS: {
        char *text = NULL;
        size_t len;
        nmt_err err;
        if (http->metrics) {
            nmt_metrics_gauge_set(http->metrics, NMT_GAUGE_QUEUE_DEPTH, nmt_batcher_queue_depth(http->batcher, -1));
            for (int m = 0; m < nmt_model_set_count(http->o.models); m++)
                nmt_metrics_model_queue_depth(http->metrics, m, nmt_batcher_queue_depth(http->batcher, m));
            nmt_conn_guard_stats gs;
            nmt_conn_guard_stats_get(http->guard, &gs);
            nmt_metrics_gauge_set(http->metrics, NMT_GAUGE_OPEN_CONNECTIONS, gs.open);
            nmt_metrics_set_cuts(http->metrics, NMT_CUT_READ_TIMEOUT, (uint64_t)gs.read_timeouts);
            nmt_metrics_set_cuts(http->metrics, NMT_CUT_PEER_CLOSED, (uint64_t)gs.peer_closed);
            nmt_metrics_set_cuts(http->metrics, NMT_CUT_EVICTED, (uint64_t)gs.evicted);
            nmt_metrics_set_cuts(http->metrics, NMT_CUT_OVER_CAPACITY, (uint64_t)gs.over_capacity);
            if (nmt_metrics_render(http->metrics, &text, &len, &err))
                return send_error(st, 500, "internal", err.msg, NO_REJECT);
        }
        return send_body(st, 200, text ? text : strdup(""), NMT_METRICS_CONTENT_TYPE, 0);
    }
    case ROUTE_MODEL:
        return send_json(st, 200, strdup(http->o.model_info_json ? http->o.model_info_json : "{}"));
    case ROUTE_LANGUAGES:
        return send_json(st, 200, nmt_lt_languages_body(http->o.models));
    default:
        return send_error(st, 404, "not_found", "unknown path", NMT_REJECT_INVALID_REQUEST);
    }
}

/* ---- framing (RFC 9112 6.1, 6.3) -------------------------------------- */

typedef struct framing {
    int content_length;        /* Content-Length headers seen */
    int content_length_bad;    /* one was not a plain decimal number */
    unsigned long long length; /* its value */
    int transfer_encoding;     /* Transfer-Encoding headers seen */
    int chunked_only;          /* the (single) Transfer-Encoding is exactly "chunked" */
    int bad_name;              /* a header name with whitespace or control bytes */
    int host;                  /* Host headers seen */
} framing;

static int plain_decimal(const char *v, unsigned long long *out)
{
    if (!*v)
        return 0;
    unsigned long long n = 0;
    for (const char *p = v; *p; p++) {
        if (*p < '0' || *p > '9' || n > (~0ULL - 9) / 10)
            return 0;
        n = n * 10 + (unsigned)(*p - '0');
    }
    *out = n;
    return 1;
}

static enum MHD_Result see_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    framing *f = cls;
    for (const char *p = key; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            f->bad_name = 1;
    if (!*key)
        f->bad_name = 1;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
        unsigned long long n = 0;
        if (!value || !plain_decimal(value, &n) || (f->content_length && n != f->length))
            f->content_length_bad = 1;
        f->content_length++;
        f->length = n;
    } else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        f->transfer_encoding++;
        f->chunked_only = value && strcasecmp(value, "chunked") == 0;
    } else if (strcasecmp(key, MHD_HTTP_HEADER_HOST) == 0) {
        f->host++;
    }
    return MHD_YES;
}

/* A request whose body boundaries are ambiguous is refused and its
 * connection closed: another reading of the same bytes would be a second
 * request (desync, smuggling).  Returns 0 if the framing is sound. */
static int check_framing(request_state *st, const char *version, framing *f)
{
    memset(f, 0, sizeof *f);
    MHD_get_connection_values(st->conn, MHD_HEADER_KIND, see_header, f);
    const char *why = NULL;
    int status = 400;
    if (f->bad_name)
        why = "a header name contains whitespace or a control character";
    else if (f->transfer_encoding && f->content_length)
        why = "both Transfer-Encoding and Content-Length are present";
    else if (f->transfer_encoding > 1 || (f->transfer_encoding && !f->chunked_only))
        why = "the only transfer coding accepted is a single \"chunked\"", status = 501;
    else if (f->content_length_bad || f->content_length > 1)
        why = "Content-Length must be one plain decimal number";
    else if (strcmp(version, MHD_HTTP_VERSION_1_1) == 0 && f->host != 1)
        why = f->host ? "more than one Host header" : "an HTTP/1.1 request needs a Host header";
    if (!why)
        return 0;
    send_error_ex(st, status, status == 501 ? "not_implemented" : "bad_framing", why, NMT_REJECT_INVALID_REQUEST,
                  1);
    return -1;
}

/* ---- the access handler ----------------------------------------------- */

static enum MHD_Result first_call(request_state *st, const char *url, const char *method, const char *version)
{
    nmt_http *http = st->http;
    nmt_conn_set_phase(http->guard, st->gconn, NMT_CONN_RECEIVING);
    framing f;
    if (check_framing(st, version, &f))
        return MHD_YES; /* answered; the connection closes */
    if (nmt_conn_over_capacity(http->guard, st->gconn))
        return send_error_ex(st, 503, "overloaded",
                             "every connection slot has a request in progress (connection_limit); retry later",
                             NO_REJECT, 1);
    int is_post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
    int is_get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    st->preflight = strcmp(method, MHD_HTTP_METHOD_OPTIONS) == 0 && http->o.cors_origin && http->o.cors_origin[0];
    char msg[160];
    if (st->route == ROUTE_NONE) {
        set_pending(st, 404, "not_found", NMT_REJECT_INVALID_REQUEST, "unknown path; try POST /translate");
    } else if (st->preflight) {
        /* answered with the CORS headers once the (empty) body is read */
    } else if (is_post_route(st->route) ? !is_post : !is_get) {
        snprintf(msg, sizeof msg, "%.16s is not allowed on %.64s", method, url);
        set_pending(st, 405, "method_not_allowed", NMT_REJECT_INVALID_REQUEST, msg);
    } else if (is_post_route(st->route) && f.content_length && f.length > http->o.max_body_bytes) {
        snprintf(msg, sizeof msg, "the body is larger than %zu bytes (max_body_bytes)", http->o.max_body_bytes);
        set_pending(st, 413, "body_too_large", NMT_REJECT_BODY_TOO_LARGE, msg);
    }
    /* A refusal waits for the body, so that the client reads it rather than a
     * reset; a body announced past the discard bound is not waited for. */
    if (st->pending.status && f.content_length && f.length > discard_limit(http))
        return send_pending(st);
    return MHD_YES;
}

static enum MHD_Result body_call(request_state *st, const char *data, size_t n)
{
    nmt_http *http = st->http;
    if (st->status)
        return MHD_YES; /* answered already */
    if (!st->pending.status && is_post_route(st->route) && st->len + n > http->o.max_body_bytes) {
        char msg[128];
        snprintf(msg, sizeof msg, "the body is larger than %zu bytes (max_body_bytes)", http->o.max_body_bytes);
        set_pending(st, 413, "body_too_large", NMT_REJECT_BODY_TOO_LARGE, msg);
        free(st->body);
        st->body = NULL;
        st->len = st->cap = 0;
    }
    if (st->pending.status || !is_post_route(st->route)) { /* GET bodies are ignored */
        st->discarded += n;
        if (st->pending.status && st->discarded > discard_limit(http))
            return send_pending(st);
        return MHD_YES;
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
    memcpy(st->body + st->len, data, n);
    st->len += n;
    st->body[st->len] = '\0';
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    nmt_http *http = cls;
    request_state *st = *con_cls;
    if (!st) {
        st = calloc(1, sizeof *st);
        if (!st)
            return MHD_NO;
        st->http = http;
        st->conn = conn;
        atomic_init(&st->refs, 1); /* the connection's */
        st->t_start = nmt_now_s();
        st->route = route_of(url);
        st->lt = st->route == ROUTE_DETECT || st->route == ROUTE_LANGUAGES ||
                 (st->route == ROUTE_TRANSLATE && lt_content_type(conn));
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        st->fd = ci ? ci->connect_fd : -1;
        ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        st->gconn = ci ? ci->socket_context : NULL;
        snprintf(st->method, sizeof st->method, "%s", method);
        pthread_mutex_init(&st->lock, NULL);
        *con_cls = st;
        return first_call(st, url, method, version);
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        return body_call(st, upload_data, n);
    }
    if (st->status)
        return MHD_YES; /* answered already (a refusal sent before the body ended) */
    nmt_conn_set_phase(http->guard, st->gconn, NMT_CONN_WORKING); /* the request is whole */
    if (st->pending.status)
        return send_pending(st);
    if (st->preflight)
        return send_body(st, 204, strdup(""), "text/plain", 0);
    if (st->route == ROUTE_DETECT)
        return answer_detect(st);
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
    *con_cls = NULL;
    nmt_http *http = st->http;
    pthread_mutex_lock(&st->lock);
    st->closed = 1;
    pthread_mutex_unlock(&st->lock);
    nmt_conn_set_phase(http->guard, st->gconn, NMT_CONN_IDLE);
    int delivered = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK && st->status;
    double latency = nmt_now_s() - st->t_start;
    if (http->metrics) {
        if (delivered)
            nmt_metrics_request(http->metrics, st->status, latency);
        if (st->submitted && !delivered)
            nmt_metrics_reject(http->metrics, NMT_REJECT_CLIENT_GONE);
        if (st->submitted)
            nmt_metrics_gauge_add(http->metrics, NMT_GAUGE_INFLIGHT, -1);
    }
    if (atomic_load(&http->access_log)) {
        if (delivered)
            nmt_info("access", "%s %s %d sentences=%d latency_ms=%.1f", st->method, route_path(st->route),
                     st->status, st->req.n, latency * 1000.0);
        else
            nmt_info("access", "%s %s - (connection ended before the answer was sent, code %d) latency_ms=%.1f",
                     st->method, route_path(st->route), (int)toe, latency * 1000.0);
    }
    if (st->submitted)
        atomic_fetch_sub(&http->inflight, 1);
    request_unref(st);
}
/* libmicrohttpd: a connection was accepted or is about to be closed (its
 * socket is still open then): the guard's bookkeeping. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    nmt_http *http = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = ci ? nmt_conn_opened(http->guard, ci->connect_fd) : NULL;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        nmt_conn_closed(http->guard, *socket_context);
        *socket_context = NULL;
    }
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

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
    http->quiesced_fd = MHD_INVALID_SOCKET;
    atomic_init(&http->access_log, opts->access_log);
    pthread_mutex_init(&http->keys_lock, NULL);
    http->api_keys = opts->api_keys;
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
    nmt_conn_guard_opts go = {
        .soft_limit = opts->connection_limit,
        .read_timeout_ms = opts->request_read_timeout_s * 1000,
        .idle_timeout_ms = opts->connection_timeout_s * 1000,
        .tick_ms = 100,
    };
    nmt_code rc = nmt_conn_guard_start(&http->guard, &go, err);
    if (rc) {
        free(http);
        return rc;
    }
    /* libmicrohttpd's own limit sits above the guard's: the connections in
     * between are the ones answered 503 at once */
    unsigned hard_limit = (unsigned)opts->connection_limit + NMT_HTTP_LIMIT_HEADROOM;
    http->daemon = MHD_start_daemon(
        flags, (uint16_t)opts->port, NULL, NULL, on_request, http, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)opts->threads, MHD_OPTION_CONNECTION_LIMIT, hard_limit,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)opts->per_ip_connection_limit,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)opts->connection_timeout_s, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, http, MHD_OPTION_NOTIFY_CONNECTION, on_connection, http, MHD_OPTION_EXTERNAL_LOGGER,
        on_mhd_log, http, MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u, MHD_OPTION_END);
    if (!http->daemon) {
        int e = errno;
        nmt_conn_guard_stop(http->guard);
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
    /* The pool threads may still poll the returned socket for a while, so
     * it is not closed before MHD stops; shutting it down makes the kernel
     * refuse new connections at once (a balancer moves on) while the
     * descriptor stays ours. */
    MHD_socket fd = MHD_quiesce_daemon(http->daemon);
    if (fd != MHD_INVALID_SOCKET) {
        shutdown(fd, SHUT_RDWR);
        http->quiesced_fd = fd;
    }
}

void nmt_http_set_access_log(nmt_http *http, int on) { atomic_store(&http->access_log, on); }

nmt_api_keys *nmt_http_swap_api_keys(nmt_http *http, nmt_api_keys *keys)
{
    pthread_mutex_lock(&http->keys_lock);
    nmt_api_keys *old = http->api_keys;
    http->api_keys = keys;
    pthread_mutex_unlock(&http->keys_lock);
    return old;
}

int nmt_http_wait_idle(nmt_http *http, int timeout_ms)
{
    double deadline = nmt_now_s() + timeout_ms / 1000.0;
    while (atomic_load(&http->inflight) > 0 && nmt_now_s() < deadline) {
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
    nmt_conn_guard_stop(http->guard);
    if (http->quiesced_fd != MHD_INVALID_SOCKET)
        close(http->quiesced_fd);
    pthread_mutex_destroy(&http->keys_lock);
    free(http);
}
