/* conn_guard.h: keeps slow and abusive clients from starving good ones.
 * It knows every open client connection by its socket and the phase it is
 * in, and a thread of its own looks at them a few times a second:
 *   - a request whose header block and body have not both arrived within
 *     read_timeout_ms of the connection's start (slowloris, a stalled
 *     upload) is cut, and so is a keep-alive connection whose next request
 *     is not complete idle_timeout_ms after the previous answer;
 *   - a connection whose peer has closed or reset while the server was not
 *     reading it (a half-sent body, an idle keep-alive) is released at once
 *     rather than at the idle timeout;
 *   - when the open connections reach soft_limit, the one that has waited
 *     longest without a request in progress (headers still arriving, or idle
 *     between keep-alive requests) is cut to make room, so a new client is
 *     served promptly even when every slot is held by slow connections; a
 *     connection that finds no room even so is marked over capacity, and its
 *     request is answered 503 at once.
 * Cutting means shutdown(2) of the socket: the HTTP library then sees the
 * end of the stream and closes the connection itself; the guard never
 * closes a descriptor.  It knows sockets, not HTTP.
 *
 * Threading: every function is thread-safe (one mutex); the library's
 * threads call opened/closed/phase, the guard's thread does the cutting. */
#ifndef NMT_CONN_GUARD_H
#define NMT_CONN_GUARD_H

#include "err.h"

typedef struct nmt_conn_guard nmt_conn_guard;
typedef struct nmt_conn nmt_conn; /* one open connection */

typedef enum nmt_conn_phase {
    NMT_CONN_RECEIVING, /* reading a request's headers or body: deadline runs, may be evicted */
    NMT_CONN_WORKING,   /* the request is complete and being answered: left alone */
    NMT_CONN_IDLE       /* between keep-alive requests: may be evicted */
} nmt_conn_phase;

typedef struct nmt_conn_guard_opts {
    int soft_limit;       /* open connections at which eviction starts */
    int read_timeout_ms;  /* header block + body must arrive within this */
    int idle_timeout_ms;  /* a keep-alive connection with no complete request after this is cut */
    int tick_ms;          /* how often the thread looks (e.g. 100) */
} nmt_conn_guard_opts;

typedef struct nmt_conn_guard_stats {
    long open;            /* connections open now */
    long read_timeouts;   /* cut: request not received in time (or idle too long) */
    long peer_closed;     /* released: the peer had gone */
    long evicted;         /* cut to make room */
    long over_capacity;   /* found no room */
} nmt_conn_guard_stats;

nmt_code nmt_conn_guard_start(nmt_conn_guard **out, const nmt_conn_guard_opts *opts, nmt_err *err);
/* Stops the thread and frees; connections still registered are forgotten
 * (not cut).  Accepts NULL. */
void nmt_conn_guard_stop(nmt_conn_guard *g);

/* A connection on socket fd was accepted: it starts RECEIVING.  Returns its
 * handle (NULL when out of memory: the connection is then not guarded).
 * At soft_limit it evicts another connection, or marks this one over
 * capacity. */
nmt_conn *nmt_conn_opened(nmt_conn_guard *g, int fd);
/* The connection is closing: forget it.  Must be called before its socket
 * is closed.  Accepts NULL. */
void nmt_conn_closed(nmt_conn_guard *g, nmt_conn *c);
/* Moves the connection to a phase; RECEIVING restarts its read deadline
 * only when it comes from another phase.  Accepts NULL. */
void nmt_conn_set_phase(nmt_conn_guard *g, nmt_conn *c, nmt_conn_phase phase);
/* 1 if the connection found no room when it opened (answer it 503). */
int nmt_conn_over_capacity(nmt_conn_guard *g, const nmt_conn *c);

void nmt_conn_guard_stats_get(nmt_conn_guard *g, nmt_conn_guard_stats *out);

#endif
