/* http.h: the HTTP front end (libmicrohttpd).  Routes, body limits, JSON
 * errors, and the request lifecycle: a POST /translate is parsed and
 * validated on an HTTP thread, handed to the batcher, and its connection is
 * suspended until the batcher's completion callback resumes it, so no HTTP
 * thread ever waits for the model.  Knows requests and JSON, no tensors.
 *
 * Threading: libmicrohttpd's own epoll threads run the handlers; the
 * completion callback runs on batcher workers.  The nmt_http functions below
 * are called from the main thread only. */
#ifndef NMT_HTTP_H
#define NMT_HTTP_H

#include <stddef.h>

#include "api.h"
#include "api_keys.h"
#include "batcher.h"
#include "libretranslate.h"
#include "err.h"
#include "metrics.h"
#include "model_set.h"

typedef struct nmt_http nmt_http;

/* Connections above connection_limit that are still accepted, to be
 * answered 503 at once rather than left in the listen backlog. */
#define NMT_HTTP_LIMIT_HEADROOM 64

typedef struct nmt_http_opts {
    const char *address;       /* IPv4 or IPv6 literal */
    int port;                  /* 0 = any free port (see nmt_http_port) */
    int threads;               /* polling threads */
    int connection_limit;      /* at the limit, slow or idle connections make room (conn_guard.h) */
    int per_ip_connection_limit; /* 0 = none */
    int connection_timeout_s;  /* idle clients are dropped after this */
    int request_read_timeout_s; /* headers + body must arrive within this */
    size_t max_body_bytes;
    int retry_after_s;         /* Retry-After on 503 */
    int access_log;            /* one info line per request */
    nmt_api_limits limits;
    int max_segments;          /* per request (all its texts) */
    int newline_join;          /* newline = join */
    const char *model_info_json; /* body of GET /v1/model */
    const nmt_model_set *models; /* what is served and where requests go */
    const char *cors_origin;   /* "" or NULL: no CORS; else Access-Control-Allow-Origin */
    nmt_api_keys *api_keys;    /* NULL: no keys; else translate and detect need one; stays the caller's */
} nmt_http_opts;

/* Binds and starts serving; /ready answers 503 until nmt_http_set_ready(1). */
nmt_code nmt_http_start(nmt_http **out, const nmt_http_opts *opts, nmt_batcher *batcher, nmt_metrics *metrics,
                        nmt_err *err);
int nmt_http_port(const nmt_http *http);
void nmt_http_set_ready(nmt_http *http, int ready);
/* Turns the access log on or off (SIGHUP reload); thread-safe. */
void nmt_http_set_access_log(nmt_http *http, int on);
/* Replaces the API keys (NULL: none) and returns the previous ones, which
 * no request uses once this returns: the caller frees them. */
nmt_api_keys *nmt_http_swap_api_keys(nmt_http *http, nmt_api_keys *keys);

/* Shutdown, step 1: /ready turns 503, the listening socket closes (no new
 * connections), new requests on open connections get 503 shutting_down. */
void nmt_http_drain(nmt_http *http);
/* Step 2 (after the batcher has closed): waits up to timeout_ms until every
 * accepted request's answer has been sent (or its connection has ended).
 * Returns the number still in flight. */
int nmt_http_wait_idle(nmt_http *http, int timeout_ms);
/* Step 3: stops the daemon and frees; accepts NULL. */
void nmt_http_stop(nmt_http *http);

#endif
