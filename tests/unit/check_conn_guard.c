/* check_conn_guard.c: the connection guard on real sockets (socketpairs):
 * eviction at the soft limit picks the connection waiting longest without a
 * request in progress and never one that is WORKING; a connection that
 * finds no room is over capacity; the read deadline and the idle deadline
 * cut; a peer that has gone is released; closed connections are forgotten. */
#include <check.h>
#include <errno.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "conn_guard.h"
#include "testutil.h"

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* 1 if the server side of pair was shut down: the client side reads EOF. */
static int was_cut(const int pair[2])
{
    char byte;
    ssize_t n = recv(pair[1], &byte, 1, MSG_DONTWAIT);
    return n == 0;
}

static void new_pair(int pair[2])
{
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
}

static nmt_conn_guard *start(int soft_limit, int read_ms, int idle_ms)
{
    nmt_conn_guard *g = NULL;
    nmt_err err;
    nmt_conn_guard_opts o = {.soft_limit = soft_limit, .read_timeout_ms = read_ms, .idle_timeout_ms = idle_ms,
                             .tick_ms = 20};
    ck_assert_int_eq(nmt_conn_guard_start(&g, &o, &err), NMT_OK);
    return g;
}

START_TEST(test_eviction_at_the_limit)
{
    nmt_conn_guard *g = start(3, 60000, 60000);
    int a[2], b[2], c[2], d[2], e[2];
    new_pair(a), new_pair(b), new_pair(c), new_pair(d), new_pair(e);
    nmt_conn *ca = nmt_conn_opened(g, a[0]);
    sleep_ms(5);
    nmt_conn *cb = nmt_conn_opened(g, b[0]);
    sleep_ms(5);
    nmt_conn *cc = nmt_conn_opened(g, c[0]);
    nmt_conn_set_phase(g, ca, NMT_CONN_WORKING); /* the oldest has a request in progress */
    sleep_ms(5);
    nmt_conn_set_phase(g, cc, NMT_CONN_IDLE);    /* idle since now: younger than b's receiving */
    nmt_conn *cd = nmt_conn_opened(g, d[0]);     /* at the limit: b waited longest */
    ck_assert(!was_cut(a));
    ck_assert(was_cut(b));
    ck_assert(!was_cut(c));
    ck_assert(!nmt_conn_over_capacity(g, cd));
    nmt_conn_set_phase(g, cc, NMT_CONN_WORKING);
    nmt_conn_set_phase(g, cd, NMT_CONN_WORKING);
    nmt_conn *ce = nmt_conn_opened(g, e[0]);     /* every live one is WORKING: no room */
    ck_assert(nmt_conn_over_capacity(g, ce));
    ck_assert(!was_cut(a) && !was_cut(c) && !was_cut(d));
    nmt_conn_guard_stats st;
    nmt_conn_guard_stats_get(g, &st);
    ck_assert_int_eq(st.open, 5);
    ck_assert_int_eq(st.evicted, 1);
    ck_assert_int_eq(st.over_capacity, 1);
    nmt_conn_closed(g, cb);
    nmt_conn_closed(g, ce);
    nmt_conn_guard_stats_get(g, &st);
    ck_assert_int_eq(st.open, 3);
    nmt_conn_closed(g, ca), nmt_conn_closed(g, cc), nmt_conn_closed(g, cd);
    nmt_conn_guard_stop(g);
    int *all[] = {a, b, c, d, e};
    for (int i = 0; i < 5; i++)
        close(all[i][0]), close(all[i][1]);
}
END_TEST

START_TEST(test_deadlines)
{
    nmt_conn_guard *g = start(100, 150, 1500);
    int slow[2], busy[2], idle[2];
    new_pair(slow), new_pair(busy), new_pair(idle);
    nmt_conn *cs = nmt_conn_opened(g, slow[0]);
    nmt_conn *cb = nmt_conn_opened(g, busy[0]);
    nmt_conn *ci = nmt_conn_opened(g, idle[0]);
    nmt_conn_set_phase(g, cb, NMT_CONN_WORKING);
    nmt_conn_set_phase(g, ci, NMT_CONN_IDLE);
    for (int i = 0; i < 10; i++) { /* a slow client keeps sending: the deadline does not move */
        ssize_t sent = send(slow[1], "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)sent; /* fails once the guard has cut it */
        sleep_ms(20);
    }
    sleep_ms(100);
    ck_assert(was_cut(slow)); /* 150 ms read deadline */
    ck_assert(!was_cut(idle)); /* 1.5 s idle deadline not yet */
    for (int i = 0; i < 200 && !was_cut(idle); i++)
        sleep_ms(20);
    ck_assert(was_cut(idle));
    ck_assert(!was_cut(busy)); /* a request in progress is left alone */
    nmt_conn_guard_stats st;
    nmt_conn_guard_stats_get(g, &st);
    ck_assert_int_eq(st.read_timeouts, 2);
    nmt_conn_closed(g, cs), nmt_conn_closed(g, cb), nmt_conn_closed(g, ci);
    nmt_conn_guard_stop(g);
    close(slow[0]), close(slow[1]), close(busy[0]), close(busy[1]), close(idle[0]), close(idle[1]);
}
END_TEST

START_TEST(test_peer_gone_is_released)
{
    nmt_conn_guard *g = start(100, 60000, 60000);
    int gone[2], stays[2];
    new_pair(gone), new_pair(stays);
    nmt_conn *cg = nmt_conn_opened(g, gone[0]);
    nmt_conn *cs = nmt_conn_opened(g, stays[0]);
    ck_assert_int_eq(send(gone[1], "half a body", 11, 0), 11);
    shutdown(gone[1], SHUT_WR); /* the client closes its end: EOF after the data */
    nmt_conn_guard_stats st = {0};
    for (int i = 0; i < 100 && st.peer_closed == 0; i++) {
        sleep_ms(20);
        nmt_conn_guard_stats_get(g, &st);
    }
    ck_assert_int_eq(st.peer_closed, 1);
    ck_assert(!was_cut(stays));
    nmt_conn_closed(g, cg), nmt_conn_closed(g, cs);
    nmt_conn_guard_stop(g);
    close(gone[0]), close(gone[1]), close(stays[0]), close(stays[1]);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("conn_guard");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_eviction_at_the_limit);
    tcase_add_test(tc, test_deadlines);
    tcase_add_test(tc, test_peer_gone_is_released);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
