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
#include <dirent.h>
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
#include "compute_auto.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "model_set.h"
#include "nmt_config.h"
#include "sdnotify.h"
#include "translator.h"
#include "util.h"

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

/* SIGHUP with api_keys_file: the file is read again (it may also be newly
 * set or cleared); a file that cannot be read keeps the keys in use. */
static void reload_api_keys(nmt_config *running, const nmt_config *fresh, nmt_http *http)
{
    nmt_api_keys *keys = NULL;
    nmt_err err;
    if (fresh->api_keys_file[0] && nmt_api_keys_load(&keys, fresh->api_keys_file, &err)) {
        nmt_error("main", "SIGHUP: api_keys_file: %s; the keys in use stay", err.msg);
        return;
    }
    nmt_api_keys_free(nmt_http_swap_api_keys(http, keys));
    if (keys)
        nmt_info("main", "SIGHUP: %d API keys from %s", nmt_api_keys_count(keys), fresh->api_keys_file);
    else if (running->api_keys_file[0])
        nmt_warn("main", "SIGHUP: api_keys_file cleared: translate and detect no longer need a key");
    snprintf(running->api_keys_file, sizeof running->api_keys_file, "%s", fresh->api_keys_file);
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
        if (fresh.api_keys_file[0] || running->api_keys_file[0])
            reload_api_keys(running, &fresh, http);
        nmt_info("main", "SIGHUP: configuration reloaded (log_level, access_log, api_keys_file apply now; other "
                         "keys need a restart)");
    }
    nmt_config_free(&fresh);
    nmt_sdnotify("READY=1\nSTATUS=serving");
}

static void observe_batch(void *user, int model, int sentences, long tokens_in, long tokens_out, int steps, int done)
{
    nmt_metrics_batch(user, model, sentences, tokens_in, tokens_out, steps, done);
}

static void observe_admission(void *user, int model, int sentences)
{
    (void)model;
    nmt_metrics_admission(user, sentences);
}

static void observe_step(void *user, int model, int live_rows, int finished, long tokens_in_finished, int done)
{
    nmt_metrics_step(user, model, live_rows, finished, tokens_in_finished, done);
}

static void observe_weights(void *user, int model, int loaded, double seconds)
{
    nmt_metrics_model_weights(user, model, loaded, seconds);
}

static void observe_cancelled(void *user, int model, int rows)
{
    (void)model;
    nmt_metrics_rows_cancelled(user, rows);
}

static void observe_queue_wait(void *user, int model, double seconds)
{
    (void)model;
    nmt_metrics_queue_wait(user, seconds);
}

/* The served models, loaded. */
typedef struct loaded_models {
    nmt_translator **trs;
    double *load_seconds;
    int n;
} loaded_models;

static void loaded_free(loaded_models *l)
{
    for (int i = 0; i < l->n; i++)
        nmt_translator_free(l->trs[i]);
    free(l->trs);
    free(l->load_seconds);
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The model directories to serve: the model entries (unless only
 * models_dir was set), then models_dir's subdirectories with a config.json,
 * in name order.  A malloc'd list of malloc'd paths; NULL with err set. */
static char **model_dirs(const nmt_config *cfg, int *n_out, nmt_err *err)
{
    int use_list = cfg->model.origin != 0 || !cfg->models_dir[0];
    char **found = NULL;
    int n_found = 0;
    if (cfg->models_dir[0]) {
        DIR *d = opendir(cfg->models_dir);
        if (!d) {
            nmt_err_set(err, NMT_ERR_IO, "models_dir %s: %s", cfg->models_dir, strerror(errno));
            return NULL;
        }
        struct dirent *de;
        while ((de = readdir(d))) {
            if (de->d_name[0] == '.')
                continue;
            char *dir = nmt_path_join(cfg->models_dir, de->d_name);
            char *conf = dir ? nmt_path_join(dir, "config.json") : NULL;
            char **grown = conf && nmt_file_exists(conf) ? realloc(found, (size_t)(n_found + 1) * sizeof *found) : NULL;
            free(conf);
            if (!grown) {
                free(dir);
                continue;
            }
            found = grown;
            found[n_found++] = dir;
        }
        closedir(d);
        if (n_found > 1)
            qsort(found, (size_t)n_found, sizeof *found, by_name);
        if (n_found == 0 && !use_list) {
            free(found);
            nmt_err_set(err, NMT_ERR_INVALID, "models_dir %s has no model (no subdirectory with a config.json)",
                        cfg->models_dir);
            return NULL;
        }
    }
    int n = (use_list ? cfg->model.n : 0) + n_found;
    char **dirs = calloc((size_t)(n ? n : 1), sizeof *dirs);
    int k = 0;
    for (int i = 0; dirs && use_list && i < cfg->model.n; i++)
        dirs[k++] = strdup(cfg->model.items[i]);
    for (int i = 0; i < n_found; i++) {
        if (dirs)
            dirs[k++] = found[i];
        else
            free(found[i]);
    }
    free(found);
    if (!dirs) {
        nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
        return NULL;
    }
    *n_out = n;
    return dirs;
}

/* A model_languages entry's SRC-TGT when the entry (NAME=SRC-TGT) names
 * model name, else NULL. */
static const char *entry_for(const char *item, const char *name)
{
    const char *eq = strrchr(item, '=');
    size_t n = strlen(name);
    return eq && (size_t)(eq - item) == n && strncmp(item, name, n) == 0 ? eq : NULL;
}

/* model_languages: the NAME=SRC-TGT entry for name, split into source and
 * target; 0 when there is none, -1 when it is malformed (err set). */
static int languages_for(const nmt_config *cfg, const char *name, char source[32], char target[32], nmt_err *err)
{
    for (int i = 0; i < cfg->model_languages.n; i++) {
        const char *item = cfg->model_languages.items[i], *eq = entry_for(item, name);
        if (!eq)
            continue;
        const char *dash = strchr(eq + 1, '-');
        if (!dash || dash == eq + 1 || !dash[1] || dash - eq - 1 >= 32 || strlen(dash + 1) >= 32) {
            nmt_err_set(err, NMT_ERR_INVALID, "model_languages '%s' is not NAME=SRC-TGT (e.g. %s=en-de)", item,
                        name);
            return -1;
        }
        snprintf(source, 32, "%.*s", (int)(dash - eq - 1), eq + 1);
        snprintf(target, 32, "%s", dash + 1);
        return 1;
    }
    return 0;
}

/* The compute type of the model in dir (compute_type or its
 * model_compute_types entry; auto resolved for this CPU and logged). 0, or
 * -1 (logged). */
static int model_compute(const nmt_config *cfg, const char *dir, nmt_compute_type *compute)
{
    char *name = nmt_path_basename(dir);
    if (!name) {
        nmt_error("main", "out of memory");
        return -1;
    }
    int asked = nmt_config_compute_for(cfg, name);
    if (asked == NMT_COMPUTE_AUTO) {
        char why[256];
        *compute = nmt_compute_auto(why, sizeof why);
        nmt_info("main", "model %s: compute_type auto is %s: %s", name, nmt_compute_type_name(*compute), why);
    } else {
        *compute = (nmt_compute_type)asked;
        nmt_info("main", "model %s: compute_type %s", name, nmt_compute_type_name(*compute));
    }
    free(name);
    return 0;
}

/* 1 (logged) when an entry NAME=... of list (the key named key) names no
 * model in l, else 0. */
static int unserved_entry(const nmt_config_list *list, const char *key, const loaded_models *l)
{
    for (int i = 0; i < list->n; i++) {
        int known = 0;
        for (int k = 0; k < l->n && !known; k++)
            known = entry_for(list->items[i], nmt_translator_name(l->trs[k])) != NULL;
        if (!known) {
            nmt_error("main", "%s '%s' names no served model", key, list->items[i]);
            return 1;
        }
    }
    return 0;
}

/* Loads every model (each once) into l and the routing set.  0, or -1
 * (logged). */
static int load_models(const nmt_config *cfg, loaded_models *l, nmt_model_set *set)
{
    nmt_err err;
    int n_dirs = 0;
    char **dirs = model_dirs(cfg, &n_dirs, &err);
    if (!dirs) {
        nmt_error("main", "%s", err.msg);
        return -1;
    }
    int rc = 0;
    l->trs = calloc((size_t)(n_dirs ? n_dirs : 1), sizeof *l->trs);
    l->load_seconds = calloc((size_t)(n_dirs ? n_dirs : 1), sizeof *l->load_seconds);
    if (!l->trs || !l->load_seconds) {
        nmt_error("main", "out of memory");
        rc = -1;
    }
    for (int i = 0; rc == 0 && i < n_dirs; i++) {
        double t0 = nmt_now_s();
        nmt_translator *tr = NULL;
        char src[32] = "", tgt[32] = "", notice[NMT_CONFIG_PATH_MAX + 64];
        /* with max_loaded_models, the first that many load at start; the others on use */
        int load_now = cfg->preload && (cfg->max_loaded_models == 0 || i < cfg->max_loaded_models);
        nmt_compute_type compute;
        if (model_compute(cfg, dirs[i], &compute)) {
            rc = -1;
            break;
        }
        snprintf(notice, sizeof notice, "STATUS=%s model %s", load_now ? "loading" : "checking", dirs[i]);
        nmt_sdnotify(notice);
        nmt_translator_opts to = {.load_weights = load_now, .compute = compute};
        if (nmt_translator_open(&tr, dirs[i], &to, &err)) {
            nmt_error("main", "cannot load the model %s: %s", dirs[i], err.msg);
            rc = -1;
            break;
        }
        l->trs[l->n] = tr;
        l->load_seconds[l->n] = nmt_now_s() - t0;
        l->n++;
        int declared = 0;
        if (cfg->source_language[0] && nmt_translator_set_language(tr, cfg->source_language, &err)) {
            nmt_error("main", "source_language: %s", err.msg);
            rc = -1;
        } else if ((declared = languages_for(cfg, nmt_translator_name(tr), src, tgt, &err)) < 0 ||
                   nmt_model_set_add(set, tr, src, tgt, &err)) {
            nmt_error("main", "%s", err.msg);
            rc = -1;
        } else if (declared && !cfg->source_language[0] && nmt_translator_set_language(tr, src, &err)) {
            /* model_languages also says how to cut its source into sentences */
            nmt_error("main", "model_languages for %s: %s", nmt_translator_name(tr), err.msg);
            rc = -1;
        } else {
            nmt_translator_info ti;
            nmt_translator_describe(tr, &ti);
            char pairs[256];
            nmt_model_set_describe(set, nmt_model_set_count(set) - 1, pairs, sizeof pairs);
            if (load_now)
                nmt_info("main", "model %s (%s): %s, weights %.1f MiB, loaded in %.2f s", ti.name, dirs[i], pairs,
                         (double)ti.weight_bytes / (1 << 20), l->load_seconds[l->n - 1]);
            else
                nmt_info("main", "model %s (%s): %s, weights %.1f MiB, checked in %.2f s; loads on first use",
                         ti.name, dirs[i], pairs, (double)ti.weight_bytes / (1 << 20),
                         l->load_seconds[l->n - 1]);
        }
    }
    for (int i = 0; i < n_dirs; i++)
        free(dirs[i]);
    free(dirs);
    if (rc == 0 && l->n == 0) {
        nmt_error("main", "no model to serve (give model or models_dir)");
        rc = -1;
    }
    if (rc == 0 && (unserved_entry(&cfg->model_compute_types, "model_compute_types", l) ||
                    unserved_entry(&cfg->model_languages, "model_languages", l)))
        rc = -1;
    return rc;
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

    loaded_models models = {0};
    nmt_model_set *set = NULL;
    nmt_metrics *metrics = NULL;
    nmt_batcher *batcher = NULL;
    nmt_http *http = NULL;
    nmt_api_keys *api_keys = NULL;
    nmt_api_model *described = NULL;
    char *info = NULL;
    int status = 1;
    char notice[NMT_CONFIG_PATH_MAX + 128];
    nmt_info("main", "nmtd %s starting", PACKAGE_VERSION);
    if (nmt_model_set_new(&set, cfg.pivot_language, &err)) {
        nmt_error("main", "%s", err.msg);
        goto out;
    }
    if (load_models(&cfg, &models, set))
        goto out;
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
        for (int i = 0; i < models.n; i++)
            printf("# model %s %s\n", nmt_translator_name(models.trs[i]),
                   nmt_translator_weights_loaded(models.trs[i]) ? "loaded and checked"
                                                                : "checked (weights load on first use)");
        printf("# configuration valid\n");
        status = 0;
        goto out;
    }
    if (install_signals()) {
        nmt_error("main", "cannot install signal handlers: %s", strerror(errno));
        goto out;
    }
    char names[1024] = "";
    for (int i = 0; i < models.n; i++)
        snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? "," : "",
                 nmt_translator_name(models.trs[i]));
    if (nmt_metrics_new(&metrics, PACKAGE_VERSION, names, &err)) {
        nmt_error("main", "%s", err.msg);
        goto out;
    }
    described = calloc((size_t)models.n, sizeof *described);
    if (!described) {
        nmt_error("main", "out of memory");
        goto out;
    }
    size_t total_weights = 0;
    for (int i = 0; i < models.n; i++) {
        nmt_api_model *d = &described[i];
        nmt_translator_describe(models.trs[i], &d->info);
        d->source = nmt_model_set_source(set, i);
        d->n_targets = nmt_model_set_target_count(set, i);
        d->targets = calloc((size_t)(d->n_targets ? d->n_targets : 1), sizeof *d->targets);
        for (int t = 0; d->targets && t < d->n_targets; t++)
            ((const char **)d->targets)[t] = nmt_model_set_target(set, i, t);
        d->load_seconds = d->info.weights_loaded ? models.load_seconds[i] : 0.0;
        total_weights += d->info.weights_loaded ? d->info.weight_bytes : 0;
        if (!d->targets || nmt_metrics_add_model(metrics, d->info.name, d->info.weight_bytes,
                                                 d->info.weights_loaded, d->load_seconds, &err)) {
            nmt_error("main", "out of memory");
            goto out;
        }
    }
    nmt_info("main", "%d model%s, %.1f MiB of weights loaded", models.n, models.n == 1 ? "" : "s",
             (double)total_weights / (1 << 20));
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
        .max_loaded_models = cfg.max_loaded_models,
    };
    nmt_batcher_observer obs = {.batch = observe_batch,
                                .queue_wait = observe_queue_wait,
                                .admission = observe_admission,
                                .step = observe_step,
                                .cancelled = observe_cancelled,
                                .weights = observe_weights,
                                .user = metrics};
    if (nmt_batcher_start(&batcher, models.trs, models.n, &bo, &obs, &err)) {
        nmt_error("main", "%s", err.msg);
        goto out;
    }
    info = nmt_api_model_body(described, models.n, &cfg);
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
        .models = set,
        .cors_origin = cfg.cors_origin,
        .api_keys = api_keys,
        .max_segments = cfg.max_segments_per_request,
        .newline_join = cfg.newline == NMT_NEWLINE_JOIN,
    };
    if (nmt_http_start(&http, &ho, batcher, metrics, &err)) {
        nmt_error("main", "%s", err.msg);
        goto out;
    }
    nmt_http_set_ready(http, 1);
    snprintf(notice, sizeof notice, "READY=1\nSTATUS=serving %s on %s port %d", names, cfg.listen_address,
             nmt_http_port(http));
    nmt_sdnotify(notice); /* the model is loaded and the port listens */
    nmt_watchdog *wd = nmt_watchdog_start(batcher_healthy, batcher);
    nmt_info("main", "listening on http://%s%s%s:%d (models %s, %d workers x %d BLAS threads)",
             strchr(cfg.listen_address, ':') ? "[" : "", cfg.listen_address,
             strchr(cfg.listen_address, ':') ? "]" : "", nmt_http_port(http), names, cfg.workers,
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
    if (http) /* the keys in use: those of start-up or of the last reload */
        api_keys = nmt_http_swap_api_keys(http, NULL);
    nmt_http_stop(http);
    nmt_batcher_free(batcher);
    nmt_metrics_free(metrics);
    for (int i = 0; described && i < models.n; i++)
        free((void *)described[i].targets);
    free(described);
    nmt_model_set_free(set);
    loaded_free(&models);
    nmt_api_keys_free(api_keys);
    free(info);
    nmt_config_free(&cfg);
    return status;
}
