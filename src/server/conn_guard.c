/* conn_guard.c: the open connections in a doubly linked list (open order)
 * under one mutex, and a thread that checks them every tick_ms (see
 * conn_guard.h).  Each tick polls the sockets of connections that are not
 * WORKING in one poll(2) call, without holding the mutex (the descriptors
 * cannot be closed meanwhile: nmt_conn_closed, which the library calls
 * before closing, waits for the tick to finish with them), then cuts what
 * has expired or whose peer has gone. */
#include "conn_guard.h"
#include "util.h"

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>


/* a peer's hang-up is trusted once the phase is this old, so that a client
 * that half-closes right after a complete request is not cut before the
 * library has read it */
#define HANGUP_GRACE_S 0.3

struct nmt_conn {
    nmt_conn *prev, *next;
    int fd;
    nmt_conn_phase phase;
    double phase_since;      /* when the phase (or the connection) began */
    int cut;                 /* shut down already */
    int over_capacity;
    int polled;              /* in the current tick's poll set */
};

struct nmt_conn_guard {
    nmt_conn_guard_opts o;
    pthread_mutex_t lock;
    pthread_cond_t tick_done;
    nmt_conn *head, *tail;   /* oldest first */
    long open;
    int polling;             /* a tick is using the polled descriptors */
    nmt_conn_guard_stats stats;
    atomic_int stop;
    pthread_t thread;
    int started;
    struct pollfd *fds;      /* the tick's poll set */
    nmt_conn **who;
    size_t fds_cap;
};

/* lock held */
static void cut(nmt_conn *c)
{
    if (!c->cut) {
        c->cut = 1;
        shutdown(c->fd, SHUT_RDWR);
    }
}

static int evictable(const nmt_conn *c)
{
    return !c->cut && c->phase != NMT_CONN_WORKING;
}

/* lock held: cuts the connection that has waited longest without a request
 * in progress; 0 if there is none. */
static int evict_one(nmt_conn_guard *g, const nmt_conn *except)
{
    nmt_conn *victim = NULL;
    for (nmt_conn *c = g->head; c; c = c->next)
        if (c != except && evictable(c) && (!victim || c->phase_since < victim->phase_since))
            victim = c;
    if (!victim)
        return 0;
    cut(victim);
    g->stats.evicted++;
    return 1;
}

/* Connections already cut still count as open until the library closes
 * them; room is what is open and not cut. */
static long live(const nmt_conn_guard *g)
{
    long n = 0;
    for (const nmt_conn *c = g->head; c; c = c->next)
        n += !c->cut;
    return n;
}

static int grow(nmt_conn_guard *g, size_t n)
{
    if (n <= g->fds_cap)
        return 0;
    size_t cap = g->fds_cap ? g->fds_cap : 256;
    while (cap < n)
        cap *= 2;
    struct pollfd *fds = realloc(g->fds, cap * sizeof *fds);
    if (!fds)
        return -1;
    g->fds = fds;
    nmt_conn **who = realloc(g->who, cap * sizeof *who);
    if (!who)
        return -1;
    g->who = who;
    g->fds_cap = cap;
    return 0;
}

static void tick(nmt_conn_guard *g)
{
    double now = nmt_now_s();
    size_t n = 0;
    pthread_mutex_lock(&g->lock);
    if (grow(g, (size_t)g->open) == 0) {
        for (nmt_conn *c = g->head; c; c = c->next) {
            if (c->cut || c->phase == NMT_CONN_WORKING)
                continue;
            double age = now - c->phase_since;
            if (c->phase == NMT_CONN_RECEIVING && age * 1000.0 > g->o.read_timeout_ms) {
                cut(c);
                g->stats.read_timeouts++;
                continue;
            }
            if (c->phase == NMT_CONN_IDLE && age * 1000.0 > g->o.idle_timeout_ms) {
                cut(c);
                g->stats.read_timeouts++;
                continue;
            }
            if (age < HANGUP_GRACE_S)
                continue;
            g->fds[n] = (struct pollfd){.fd = c->fd, .events = POLLRDHUP};
            g->who[n] = c;
            c->polled = 1;
            n++;
        }
    }
    g->polling = n > 0;
    pthread_mutex_unlock(&g->lock);
    if (n == 0)
        return;
    int ready = poll(g->fds, (nfds_t)n, 0);
    pthread_mutex_lock(&g->lock);
    for (size_t i = 0; i < n; i++) {
        nmt_conn *c = g->who[i];
        c->polled = 0;
        if (ready > 0 && (g->fds[i].revents & (POLLRDHUP | POLLHUP | POLLERR)) && !c->cut &&
            c->phase != NMT_CONN_WORKING) {
            cut(c);
            g->stats.peer_closed++;
        }
    }
    g->polling = 0;
    pthread_cond_broadcast(&g->tick_done);
    pthread_mutex_unlock(&g->lock);
}

static void *guard_main(void *arg)
{
    nmt_conn_guard *g = arg;
    struct timespec pause = {g->o.tick_ms / 1000, (long)(g->o.tick_ms % 1000) * 1000000L};
    while (!atomic_load(&g->stop)) {
        nanosleep(&pause, NULL);
        tick(g);
    }
    return NULL;
}

nmt_code nmt_conn_guard_start(nmt_conn_guard **out, const nmt_conn_guard_opts *opts, nmt_err *err)
{
    *out = NULL;
    if (opts->soft_limit < 1 || opts->read_timeout_ms < 1 || opts->idle_timeout_ms < 1 || opts->tick_ms < 1)
        return nmt_err_set(err, NMT_ERR_INVALID, "connection guard settings must be positive");
    nmt_conn_guard *g = calloc(1, sizeof *g);
    if (!g)
        return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
    g->o = *opts;
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->tick_done, NULL);
    atomic_init(&g->stop, 0);
    if (pthread_create(&g->thread, NULL, guard_main, g) != 0) {
        nmt_conn_guard_stop(g);
        return nmt_err_set(err, NMT_ERR_NOMEM, "cannot start the connection guard thread");
    }
    g->started = 1;
    *out = g;
    return NMT_OK;
}

void nmt_conn_guard_stop(nmt_conn_guard *g)
{
    if (!g)
        return;
    atomic_store(&g->stop, 1);
    if (g->started)
        pthread_join(g->thread, NULL);
    for (nmt_conn *c = g->head, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    free(g->fds);
    free(g->who);
    pthread_cond_destroy(&g->tick_done);
    pthread_mutex_destroy(&g->lock);
    free(g);
}

nmt_conn *nmt_conn_opened(nmt_conn_guard *g, int fd)
{
    nmt_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->fd = fd;
    c->phase = NMT_CONN_RECEIVING;
    c->phase_since = nmt_now_s();
    pthread_mutex_lock(&g->lock);
    if (g->open >= g->o.soft_limit && live(g) >= g->o.soft_limit && !evict_one(g, NULL)) {
        c->over_capacity = 1;
        g->stats.over_capacity++;
    }
    c->prev = g->tail;
    if (g->tail)
        g->tail->next = c;
    else
        g->head = c;
    g->tail = c;
    g->open++;
    pthread_mutex_unlock(&g->lock);
    return c;
}

void nmt_conn_closed(nmt_conn_guard *g, nmt_conn *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&g->lock);
    while (c->polled && g->polling) /* the tick is polling its descriptor */
        pthread_cond_wait(&g->tick_done, &g->lock);
    if (c->prev)
        c->prev->next = c->next;
    else
        g->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        g->tail = c->prev;
    g->open--;
    pthread_mutex_unlock(&g->lock);
    free(c);
}

void nmt_conn_set_phase(nmt_conn_guard *g, nmt_conn *c, nmt_conn_phase phase)
{
    if (!c)
        return;
    pthread_mutex_lock(&g->lock);
    if (c->phase != phase) {
        c->phase = phase;
        c->phase_since = nmt_now_s();
    }
    pthread_mutex_unlock(&g->lock);
}

int nmt_conn_over_capacity(nmt_conn_guard *g, const nmt_conn *c)
{
    if (!c)
        return 0;
    pthread_mutex_lock(&g->lock);
    int over = c->over_capacity;
    pthread_mutex_unlock(&g->lock);
    return over;
}

void nmt_conn_guard_stats_get(nmt_conn_guard *g, nmt_conn_guard_stats *out)
{
    pthread_mutex_lock(&g->lock);
    *out = g->stats;
    out->open = g->open;
    pthread_mutex_unlock(&g->lock);
}
