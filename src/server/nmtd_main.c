/* nmtd_main.c: the daemon's wiring.  Start-up in order: configuration, the
 * model (loaded and checked before any port opens), metrics, the batcher and
 * its workers, HTTP; then wait for SIGTERM/SIGINT.  Shutdown in reverse:
 * /ready turns 503 and the listening socket closes, the batcher finishes
 * every accepted request (up to shutdown_grace_ms; what is left is answered
 * 503), the answers are written, HTTP stops, everything is freed, exit 0.
 * A second signal exits at once.  SIGHUP re-reads the configuration
 * (file and flags, as at start-up) and applies what can change safely while
 * serving: log_level and access_log; anything else it reports as needing a
 * restart.  The signal handlers only set a flag and write to a pipe. */
#include "config.h"

#include <cblas.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "api.h"
#include "batcher.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "nmt_config.h"
#include "sdnotify.h"
#include "translator.h"

static volatile sig_atomic_t stop_signals;
static int signal_pipe[2] = {-1, -1};

static void wake_main(char why)
{
    int saved = errno;
    ssize_t rc = write(signal_pipe[1], &why, 1);
    (void)rc;
    errno = saved;
}

static void on_stop_signal(int sig)
{
    (void)sig;
    if (stop_signals++ > 0)
        _exit(1); /* second signal: no more waiting */
    wake_main('t');
}

static void on_hangup(int sig)
{
    (void)sig;
    wake_main('h');
}

static int install_signals(void)
{
    if (pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
        return -1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_hangup;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

/* Waits for a signal; returns 't' (stop) or 'h' (reload). */
static char wait_signal(void)
{
    for (;;) {
        struct pollfd p = {.fd = signal_pipe[0], .events = POLLIN};
        if (poll(&p, 1, -1) < 0 && errno != EINTR)
            return 't';
        char byte;
        if (read(signal_pipe[0], &byte, 1) == 1)
            return byte;
    }
}

/* SIGHUP: the configuration again, from the same file and flags.  A bad
 * file keeps the running settings. */
static void reload(nmt_config *running, int argc, char **argv, nmt_http *http)
{
    nmt_config fresh;
    nmt_config_action action;
    nmt_err err;
    nmt_config_defaults(&fresh);
    nmt_sdnotify("RELOADING=1\nSTATUS=reloading the configuration");
    if (nmt_config_parse_args(&fresh, argc, argv, &action, &err)) {
        nmt_error("main", "SIGHUP: configuration not reloaded, the running one stays: %s", err.msg);
    } else {
        if (fresh.log_level != running->log_level) {
            nmt_info("main", "SIGHUP: log_level %s -> %s", nmt_config_log_level_name(running->log_level),
                     nmt_config_log_level_name(fresh.log_level));
            nmt_log_set_level(fresh.log_level);
            running->log_level = fresh.log_level;
        }
        if (fresh.access_log != running->access_log) {
            nmt_info("main", "SIGHUP: access_log %d -> %d", running->access_log, fresh.access_log);
            nmt_http_set_access_log(http, fresh.access_log);
            running->access_log = fresh.access_log;
        }
        nmt_info("main", "SIGHUP: configuration reloaded (log_level, access_log apply now; other keys need a "
                         "restart)");
    }
    nmt_config_free(&fresh);
    nmt_sdnotify("READY=1\nSTATUS=serving");
}

static void observe_batch(void *user, int sentences, long tokens_in, long tokens_out, int steps)
{
    nmt_metrics_batch(user, sentences, tokens_in, tokens_out, steps);
}

static void observe_admission(void *user, int sentences) { nmt_metrics_admission(user, sentences); }

static void observe_step(void *user, int live_rows, int finished, long tokens_in_finished)
{
    nmt_metrics_step(user, live_rows, finished, tokens_in_finished);
}

static void observe_cancelled(void *user, int rows) { nmt_metrics_rows_cancelled(user, rows); }

static void observe_queue_wait(void *user, double seconds)
{
    nmt_metrics_queue_wait(user, seconds);
}

/* The watchdog's question: do the workers run and does the queue move? */
static int batcher_healthy(void *user, double stall_seconds) { return nmt_batcher_healthy(user, stall_seconds); }

/* Each connection is a descriptor: raise the soft limit to the hard one
 * (systemd's default soft limit is 1024) and say so if it is still short. */
static void raise_fd_limit(int connection_limit)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    rlim_t need = (rlim_t)connection_limit + NMT_HTTP_LIMIT_HEADROOM + 64;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
        nmt_warn("main", "open file limit %llu is below connection_limit + %d: raise LimitNOFILE=",
                 (unsigned long long)rl.rlim_cur, NMT_HTTP_LIMIT_HEADROOM + 64);
}

int main(int argc, char **argv)
{
    nmt_config cfg;
    nmt_config_action action;
    nmt_err err;
    nmt_config_defaults(&cfg);
    if (nmt_config_parse_args(&cfg, argc, argv, &action, &err)) {
        fprintf(stderr, "nmtd: %s\n", err.msg);
        return 2;
    }
    switch (action) {
    case NMT_CONFIG_HELP:
        nmt_config_print_help(stdout, "nmtd");
        return 0;
    case NMT_CONFIG_VERSION:
        printf("nmtd %s\n", PACKAGE_VERSION);
        return 0;
    case NMT_CONFIG_CHECK:
    case NMT_CONFIG_RUN:
        break;
    }
    nmt_log_set_level(cfg.log_level);
    signal(SIGHUP, SIG_IGN); /* a hang-up while the model loads must not kill us; handled once serving */
    openblas_set_num_threads(cfg.blas_threads);

    nmt_translator *tr = NULL;
    nmt_metrics *metrics = NULL;
    nmt_batcher *batcher = NULL;
    nmt_http *http = NULL;
    nmt_api_keys *api_keys = NULL;
    char *info = NULL;
    int status = 1;
    nmt_info("main", "nmtd %s starting: model %s", PACKAGE_VERSION, cfg.model);
    char notice[NMT_CONFIG_PATH_MAX + 128];
    snprintf(notice, sizeof notice, "STATUS=loading model %s", cfg.model);
    if (action == NMT_CONFIG_RUN)
        nmt_sdnotify(notice);
    if (nmt_translator_load(&tr, cfg.model, &err)) {
        nmt_error("main", "cannot load the model: %s", err.msg);
        goto out;
    }
    if (cfg.source_language[0] && nmt_translator_set_language(tr, cfg.source_language, &err)) {
        nmt_error("main", "source_language: %s", err.msg);
        goto out;
    }
    if (cfg.api_keys_file[0]) {
        if (nmt_api_keys_load(&api_keys, cfg.api_keys_file, &err)) {
            nmt_error("main", "api_keys_file: %s", err.msg);
            goto out;
        }
        nmt_info("main", "%d API keys from %s: translate and detect need one", nmt_api_keys_count(api_keys),
                 cfg.api_keys_file);
    }
    if (cfg.max_segments_per_request > cfg.queue_capacity) {
        nmt_warn("main", "max_segments_per_request %d lowered to queue_capacity %d (a larger request could never "
                         "be queued)", cfg.max_segments_per_request, cfg.queue_capacity);
        cfg.max_segments_per_request = cfg.queue_capacity;
    }
    if (action == NMT_CONFIG_CHECK) {
        nmt_config_dump(&cfg, stdout);
        printf("# configuration valid; model %s loaded and checked\n", nmt_translator_name(tr));
        status = 0;
        goto out;
    }
    if (install_signals()) {
        nmt_error("main", "cannot install signal handlers: %s", strerror(errno));
        goto out;
    }
    if (nmt_metrics_new(&metrics, PACKAGE_VERSION, nmt_translator_name(tr), &err)) {
        nmt_error("main", "%s", err.msg);
        goto out;
    }
    nmt_batcher_opts bo = {
        .workers = cfg.workers,
        .max_batch_sentences = cfg.max_batch_sentences,
        .max_batch_tokens = cfg.max_batch_tokens,
        .max_wait_ms = cfg.max_wait_ms,
        .scheduling = cfg.scheduling == NMT_SCHEDULING_STATIC ? NMT_SCHED_STATIC : NMT_SCHED_CONTINUOUS,
        .admit_min_rows = cfg.admit_min_rows,
        .admit_interval_steps = cfg.admit_interval_steps,
        .queue_capacity = cfg.queue_capacity,
        .request_timeout_ms = cfg.request_timeout_ms,
    };
    nmt_batcher_observer obs = {.batch = observe_batch,
                                .queue_wait = observe_queue_wait,
                                .admission = observe_admission,
                                .step = observe_step,
                                .cancelled = observe_cancelled,
                                .user = metrics};
    if (nmt_batcher_start(&batcher, tr, &bo, &obs, &err)) {
        nmt_error("main", "%s", err.msg);
        goto out;
    }
    nmt_translator_info ti;
    nmt_translator_describe(tr, &ti);
    info = nmt_api_model_body(&ti, &cfg);
    raise_fd_limit(cfg.connection_limit);
    nmt_http_opts ho = {
        .address = cfg.listen_address,
        .port = cfg.port,
        .threads = cfg.http_threads,
        .connection_limit = cfg.connection_limit,
        .per_ip_connection_limit = cfg.per_ip_connection_limit,
        .connection_timeout_s = cfg.connection_timeout_s,
        .request_read_timeout_s = cfg.request_read_timeout_s,
        .max_body_bytes = (size_t)cfg.max_body_bytes,
        .retry_after_s = cfg.retry_after_s,
        .access_log = cfg.access_log,
        .limits = {.max_sentences = cfg.max_sentences_per_request,
                   .max_chars = cfg.max_chars_per_text,
                   .max_length_limit = cfg.max_length_limit},
        .model_info_json = info,
        .served = {.source = ti.source_lang, .target = ti.target_lang},
        .api_keys = api_keys,
        .max_segments = cfg.max_segments_per_request,
        .newline_join = cfg.newline == NMT_NEWLINE_JOIN,
    };
    if (nmt_http_start(&http, &ho, batcher, metrics, &err)) {
        nmt_error("main", "%s", err.msg);
        goto out;
    }
    nmt_http_set_ready(http, 1);
    snprintf(notice, sizeof notice, "READY=1\nSTATUS=serving %s on %s port %d", nmt_translator_name(tr), cfg.listen_address,
             nmt_http_port(http));
    nmt_sdnotify(notice); /* the model is loaded and the port listens */
    nmt_watchdog *wd = nmt_watchdog_start(batcher_healthy, batcher);
    nmt_info("main", "listening on http://%s%s%s:%d (model %s, %d workers x %d BLAS threads)",
             strchr(cfg.listen_address, ':') ? "[" : "", cfg.listen_address,
             strchr(cfg.listen_address, ':') ? "]" : "", nmt_http_port(http), nmt_translator_name(tr), cfg.workers,
             cfg.blas_threads);

    while (wait_signal() == 'h')
        reload(&cfg, argc, argv, http);
    nmt_info("main", "signal received: draining (grace %d ms)", cfg.shutdown_grace_ms);
    nmt_sdnotify("STOPPING=1\nSTATUS=draining: finishing accepted requests");
    nmt_http_drain(http);
    nmt_batcher_close(batcher, cfg.shutdown_grace_ms);
    int left = nmt_http_wait_idle(http, 5000);
    if (left)
        nmt_warn("main", "%d answers could not be delivered before stopping", left);
    nmt_watchdog_stop(wd);
    nmt_info("main", "stopped");
    status = 0;
out:
    nmt_http_stop(http);
    nmt_batcher_free(batcher);
    nmt_metrics_free(metrics);
    nmt_translator_free(tr);
    nmt_api_keys_free(api_keys);
    free(info);
    nmt_config_free(&cfg);
    return status;
}
