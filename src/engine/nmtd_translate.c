/* nmtd_translate.c: the engine from the command line.  One sentence per
 * stdin line, one translation per stdout line, same order.  With --split, a
 * line is a text: it is cut into sentences (text_plan.h), each translated
 * on its own, and put back together with its gaps.  Lines (or sentences)
 * are sorted by length into batches that worker threads (each with its own
 * context and one share of the BLAS threads) take in turn; results are
 * written in input order at the end. */
#include "config.h"

#include <cblas.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "compute_auto.h"
#include "log.h"
#include "text_plan.h"
#include "translator.h"

typedef struct job {
    const nmt_translator *tr;
    char **lines;
    size_t *lens;
    int *order;           /* line indices sorted by length */
    int n_lines;
    int batch_size;
    nmt_translate_opts opts;
    nmt_translation *results;
    atomic_int next_batch;
    nmt_search_stats stats; /* summed under stats_lock */
    pthread_mutex_t stats_lock;
    int failed;
    nmt_err err;
} job;

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: nmtd-translate --model DIR [options] < input.txt > output.txt\n"
            "Translates one sentence per input line with a Marian (Hugging Face layout) model.\n\n"
            "  -m, --model DIR        model directory (config.json, model.safetensors, *.spm, vocab.json)\n"
            "  -b, --batch-size N     sentences per batch (default 32)\n"
            "  -l, --max-length N     at most N generated tokens, end-of-sequence included\n"
            "                         (default: min(model max_length, 2 x source + 10))\n"
            "  -n, --min-length N     suppress end-of-sequence until N tokens (default 0)\n"
            "  -t, --threads N        threads in all (default 1)\n"
            "  -w, --workers N        decoding workers sharing them (default: --threads; each worker\n"
            "                         gets threads/workers BLAS threads)\n"
            "  -s, --split            a line is a text: split it into sentences, translate each,\n"
            "                         keep the spaces between them; a sentence too long for the\n"
            "                         model is wrapped, never cut\n"
            "      --source-language L  sentence rules for L (default: the model's source_lang)\n"
            "      --compute-type T   float32 (exact, the default), int8 (weights and activations\n"
            "                         quantized per row, int32 sums), bfloat16 (weights rounded to\n"
            "                         bfloat16, fp32 activations and sums) or auto (int8 where the CPU\n"
            "                         has a vector int8 kernel, else float32; logs why)\n"
            "      --ids              print source ids TAB output ids TAB translation (not with --split)\n"
            "      --bench            print throughput and peak memory to stderr at the end\n"
            "      --log-level LEVEL  debug, info, warn (default), error, off\n"
            "  -h, --help             this help\n"
            "  -V, --version          version\n\n"
            "An empty line gives an empty line. A line longer than the model's position limit gives an\n"
            "empty line and an error on stderr; the exit status is then 1.\n");
}

static int parse_int(const char *s, const char *flag, int min, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < min || v > INT_MAX) {
        fprintf(stderr, "nmtd-translate: %s needs an integer >= %d, got '%s'\n", flag, min, s);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int read_lines(char ***lines_out, size_t **lens_out, int *n_out)
{
    size_t cap = 1024, n = 0;
    char **lines = malloc(cap * sizeof *lines);
    size_t *lens = malloc(cap * sizeof *lens);
    char *buf = NULL;
    size_t bufcap = 0;
    ssize_t got;
    if (!lines || !lens)
        goto oom;
    while ((got = getline(&buf, &bufcap, stdin)) >= 0) {
        size_t len = (size_t)got;
        while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
            len--;
        if (n == cap) {
            cap *= 2;
            char **l2 = realloc(lines, cap * sizeof *l2);
            if (!l2)
                goto oom;
            lines = l2;
            size_t *s2 = realloc(lens, cap * sizeof *s2);
            if (!s2)
                goto oom;
            lens = s2;
        }
        if (n >= INT_MAX || !(lines[n] = strndup(buf, len)))
            goto oom;
        lens[n++] = len;
    }
    free(buf);
    *lines_out = lines;
    *lens_out = lens;
    *n_out = (int)n;
    return 0;
oom:
    fprintf(stderr, "nmtd-translate: out of memory reading input\n");
    free(buf);
    return -1;
}

/* --split: plans every line; the units of all lines, in order, become the
 * "lines" to translate (pointing into the plans).  Returns 0 or -1. */
static int split_lines(const nmt_translator *tr, char **lines, const size_t *lens, int n_lines,
                       nmt_text_plan ***plans_out, char ***units_out, size_t **unit_lens_out, int *n_units_out)
{
    nmt_text_plan **plans = calloc((size_t)(n_lines ? n_lines : 1), sizeof *plans);
    nmt_text_opts o = {.split = 1, .newline_join = 0, .max_units = INT_MAX};
    nmt_err err;
    size_t total = 0;
    if (!plans)
        goto oom;
    for (int i = 0; i < n_lines; i++) {
        if (nmt_text_plan_new(&plans[i], tr, lines[i], lens[i], &o, &err)) {
            fprintf(stderr, "nmtd-translate: line %d: %s\n", i + 1, err.msg);
            goto fail;
        }
        total += (size_t)nmt_text_plan_units(plans[i]);
    }
    char **units = malloc((total ? total : 1) * sizeof *units);
    size_t *unit_lens = malloc((total ? total : 1) * sizeof *unit_lens);
    if (!units || !unit_lens) {
        free(units);
        free(unit_lens);
        goto oom;
    }
    size_t k = 0;
    for (int i = 0; i < n_lines; i++)
        for (int u = 0; u < nmt_text_plan_units(plans[i]); u++, k++)
            units[k] = (char *)nmt_text_plan_text(plans[i], u, &unit_lens[k]);
    *plans_out = plans;
    *units_out = units;
    *unit_lens_out = unit_lens;
    *n_units_out = (int)total;
    return 0;
oom:
    fprintf(stderr, "nmtd-translate: out of memory\n");
fail:
    for (int i = 0; plans && i < n_lines; i++)
        nmt_text_plan_free(plans[i]);
    free(plans);
    return -1;
}

/* --split: one output line per input line, its units' translations in its
 * gaps.  Returns 0, or -1 after reporting a unit that failed. */
static int print_joined(nmt_text_plan **plans, int n_lines, const nmt_translation *results)
{
    int status = 0;
    size_t k = 0;
    for (int i = 0; i < n_lines; i++) {
        int n = nmt_text_plan_units(plans[i]);
        const char **texts = malloc((size_t)(n ? n : 1) * sizeof *texts);
        if (!texts) {
            fprintf(stderr, "nmtd-translate: out of memory\n");
            return -1;
        }
        for (int u = 0; u < n; u++, k++) {
            texts[u] = results[k].text ? results[k].text : "";
            if (results[k].code) {
                fprintf(stderr, "nmtd-translate: line %d, sentence %d: %s\n", i + 1, u + 1,
                        nmt_code_name(results[k].code));
                status = -1;
            }
        }
        char *joined = NULL;
        nmt_err err;
        if (nmt_text_plan_join(plans[i], texts, &joined, &err)) {
            fprintf(stderr, "nmtd-translate: line %d: %s\n", i + 1, err.msg);
            status = -1;
        }
        fputs(joined ? joined : "", stdout);
        putchar('\n');
        free(joined);
        free(texts);
    }
    return status;
}

static const size_t *sort_lens;
static int by_length(const void *a, const void *b)
{
    size_t la = sort_lens[*(const int *)a], lb = sort_lens[*(const int *)b];
    return la < lb ? -1 : la > lb ? 1 : (*(const int *)a - *(const int *)b);
}

static void *worker_main(void *arg)
{
    job *j = arg;
    nmt_translator_state *ctx = NULL;
    nmt_err err;
    const char **texts = malloc((size_t)j->batch_size * sizeof *texts);
    size_t *lens = malloc((size_t)j->batch_size * sizeof *lens);
    nmt_translation *res = malloc((size_t)j->batch_size * sizeof *res);
    nmt_search_stats stats = {0, 0};
    if (!texts || !lens || !res) {
        nmt_err_set(&err, NMT_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if (nmt_translator_state_new(&ctx, j->tr, j->batch_size, j->batch_size * 64, &err))
        goto fail;
    int n_batches = (j->n_lines + j->batch_size - 1) / j->batch_size;
    for (int b; (b = atomic_fetch_add(&j->next_batch, 1)) < n_batches;) {
        int begin = b * j->batch_size, m = j->n_lines - begin < j->batch_size ? j->n_lines - begin : j->batch_size;
        for (int i = 0; i < m; i++) {
            texts[i] = j->lines[j->order[begin + i]];
            lens[i] = j->lens[j->order[begin + i]];
        }
        if (nmt_translate(ctx, texts, lens, m, &j->opts, res, &stats, &err))
            goto fail;
        for (int i = 0; i < m; i++)
            j->results[j->order[begin + i]] = res[i];
    }
    goto done;
fail:
    pthread_mutex_lock(&j->stats_lock);
    if (!j->failed)
        j->err = err;
    j->failed = 1;
    pthread_mutex_unlock(&j->stats_lock);
done:
    pthread_mutex_lock(&j->stats_lock);
    j->stats.steps += stats.steps;
    j->stats.tokens_out += stats.tokens_out;
    pthread_mutex_unlock(&j->stats_lock);
    nmt_translator_state_free(ctx);
    free(texts);
    free(lens);
    free(res);
    return NULL;
}

static void print_ids(const nmt_translator *tr, const char *line, size_t len, const nmt_translation *r)
{
    /* Source ids are derived again for display: cheap next to decoding. */
    const nmt_hparams *hp = &nmt_translator_model(tr)->hp;
    int *ids = malloc(((size_t)hp->max_pos + 1) * sizeof *ids), n = 0;
    nmt_err err;
    if (ids && nmt_tokenizer_encode(nmt_translator_tokenizer(tr), line, len, ids, hp->max_pos + 1, &n, &err) == NMT_OK)
        for (int i = 0; i < n; i++)
            printf(i ? " %d" : "%d", ids[i]);
    free(ids);
    putchar('\t');
    for (int i = 0; i < r->n_out && r->ids; i++)
        printf(i ? " %d" : "%d", r->ids[i]);
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"model", required_argument, NULL, 'm'},      {"batch-size", required_argument, NULL, 'b'},
        {"max-length", required_argument, NULL, 'l'}, {"min-length", required_argument, NULL, 'n'},
        {"threads", required_argument, NULL, 't'},    {"workers", required_argument, NULL, 'w'},
        {"ids", no_argument, NULL, 'I'},              {"bench", no_argument, NULL, 'B'},
        {"log-level", required_argument, NULL, 'L'},  {"help", no_argument, NULL, 'h'},
        {"split", no_argument, NULL, 's'},            {"source-language", required_argument, NULL, 'S'},
        {"version", no_argument, NULL, 'V'},          {"compute-type", required_argument, NULL, 'C'},
        {NULL, 0, NULL, 0}};
    nmt_compute_type compute = NMT_COMPUTE_FLOAT32;
    int compute_auto = 0; /* --compute-type auto: resolved once the options (the log level) are read */
    const char *model_dir = NULL;
    int batch_size = 32, threads = 1, workers = 0, show_ids = 0, bench = 0, split = 0, opt;
    const char *source_language = NULL;
    nmt_translate_opts opts = {0, 0, 0};
    nmt_log_set_level(NMT_LOG_WARN);
    while ((opt = getopt_long(argc, argv, "m:b:l:n:t:w:shV", options, NULL)) != -1) {
        switch (opt) {
        case 'm': model_dir = optarg; break;
        case 'b': if (parse_int(optarg, "--batch-size", 1, &batch_size)) return 2; break;
        case 'l': if (parse_int(optarg, "--max-length", 1, &opts.max_length)) return 2; break;
        case 'n': if (parse_int(optarg, "--min-length", 0, &opts.min_length)) return 2; break;
        case 't': if (parse_int(optarg, "--threads", 1, &threads)) return 2; break;
        case 'w': if (parse_int(optarg, "--workers", 1, &workers)) return 2; break;
        case 'I': show_ids = opts.return_ids = 1; break;
        case 'B': bench = 1; break;
        case 's': split = 1; break;
        case 'S': source_language = optarg; break;
        case 'C':
            compute_auto = 0;
            if (strcmp(optarg, "int8") == 0) {
                compute = NMT_COMPUTE_INT8;
            } else if (strcmp(optarg, "bfloat16") == 0) {
                compute = NMT_COMPUTE_BFLOAT16;
            } else if (strcmp(optarg, "float32") == 0) {
                compute = NMT_COMPUTE_FLOAT32;
            } else if (strcmp(optarg, "auto") == 0) {
                compute_auto = 1;
            } else {
                fprintf(stderr, "nmtd-translate: --compute-type must be auto, float32, int8 or bfloat16\n");
                return 2;
            }
            break;
        case 'L': {
            nmt_log_level level;
            if (nmt_log_parse_level(optarg, &level)) {
                fprintf(stderr, "nmtd-translate: --log-level must be debug, info, warn, error or off\n");
                return 2;
            }
            nmt_log_set_level(level);
            break;
        }
        case 'h': usage(stdout); return 0;
        case 'V': printf("nmtd-translate %s\n", PACKAGE_VERSION); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "nmtd-translate: unexpected argument '%s' (input comes from stdin)\n", argv[optind]);
        return 2;
    }
    if (!model_dir) {
        fprintf(stderr, "nmtd-translate: --model DIR is required (try --help)\n");
        return 2;
    }
    if (split && show_ids) {
        fprintf(stderr, "nmtd-translate: --ids and --split do not go together\n");
        return 2;
    }
    if (workers == 0)
        workers = threads;
    if (workers > threads) {
        fprintf(stderr, "nmtd-translate: --workers %d is more than --threads %d\n", workers, threads);
        return 2;
    }
    openblas_set_num_threads(threads / workers);

    if (compute_auto) {
        char why[256];
        compute = nmt_compute_auto(why, sizeof why);
        nmt_info("main", "compute_type auto: %s (%s)", nmt_compute_type_name(compute), why);
    }
    nmt_translator *tr = NULL;
    nmt_err err;
    nmt_translator_opts load_opts = {.load_weights = 1, .compute = compute};
    if (nmt_translator_open(&tr, model_dir, &load_opts, &err)) {
        fprintf(stderr, "nmtd-translate: cannot load model: %s\n", err.msg);
        return 1;
    }
    if (source_language && nmt_translator_set_language(tr, source_language, &err)) {
        fprintf(stderr, "nmtd-translate: --source-language: %s\n", err.msg);
        nmt_translator_free(tr);
        return 2;
    }
    char **lines = NULL;
    size_t *lens = NULL;
    int n_lines = 0, status = 0;
    if (read_lines(&lines, &lens, &n_lines)) {
        nmt_translator_free(tr);
        return 1;
    }
    /* --split: the units of every line's plan are what gets translated */
    nmt_text_plan **plans = NULL;
    char **units = lines;
    size_t *unit_lens = lens;
    int n_units = n_lines;
    if (split && split_lines(tr, lines, lens, n_lines, &plans, &units, &unit_lens, &n_units)) {
        nmt_translator_free(tr);
        return 1;
    }
    job j = {.tr = tr, .lines = units, .lens = unit_lens, .n_lines = n_units, .batch_size = batch_size, .opts = opts};
    j.order = malloc((size_t)(n_units ? n_units : 1) * sizeof *j.order);
    j.results = calloc((size_t)(n_units ? n_units : 1), sizeof *j.results);
    pthread_t *tids = calloc((size_t)workers, sizeof *tids);
    if (!j.order || !j.results || !tids) {
        fprintf(stderr, "nmtd-translate: out of memory\n");
        return 1;
    }
    for (int i = 0; i < n_units; i++)
        j.order[i] = i;
    sort_lens = unit_lens;
    qsort(j.order, (size_t)n_units, sizeof *j.order, by_length);
    atomic_init(&j.next_batch, 0);
    pthread_mutex_init(&j.stats_lock, NULL);

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int started = 0;
    for (; started < workers; started++)
        if (pthread_create(&tids[started], NULL, worker_main, &j)) {
            fprintf(stderr, "nmtd-translate: cannot start worker thread %d\n", started);
            status = 1;
            break;
        }
    for (int i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (j.failed) {
        fprintf(stderr, "nmtd-translate: %s\n", j.err.msg);
        status = 1;
    }
    const nmt_hparams *hp = &nmt_translator_model(tr)->hp;
    if (split && !j.failed && print_joined(plans, n_lines, j.results))
        status = 1;
    for (int i = 0; i < n_lines && !j.failed && !split; i++) {
        const nmt_translation *r = &j.results[i];
        if (r->code == NMT_ERR_TOO_LONG) {
            fprintf(stderr,
                    "nmtd-translate: line %d: %d tokens, more than the model's %d positions "
                    "(max_position_embeddings); skipped\n",
                    i + 1, r->n_src, hp->max_pos);
            status = 1;
        } else if (r->code) {
            fprintf(stderr, "nmtd-translate: line %d: %s\n", i + 1, nmt_code_name(r->code));
            status = 1;
        }
        if (show_ids && (r->n_out > 0 || r->code)) { /* an empty line stays empty */
            print_ids(tr, lines[i], lens[i], r);
            putchar('\t');
        }
        fputs(r->text ? r->text : "", stdout);
        putchar('\n');
    }
    if (fflush(stdout) != 0) {
        fprintf(stderr, "nmtd-translate: write error: %s\n", strerror(errno));
        status = 1;
    }
    if (bench) {
        double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        fprintf(stderr,
                "nmtd: sentences=%d tokens_out=%ld seconds=%.3f sentences_per_s=%.1f tokens_per_s=%.1f batch=%d "
                "threads=%d workers=%d peak_rss_mb=%.0f\n",
                n_units, j.stats.tokens_out, secs, n_units / secs, (double)j.stats.tokens_out / secs, batch_size,
                threads, workers, (double)ru.ru_maxrss / 1024.0);
    }
    for (int i = 0; i < n_lines; i++) {
        free(lines[i]);
        if (plans)
            nmt_text_plan_free(plans[i]);
    }
    if (plans) {
        free(plans);
        free(units);
        free(unit_lens);
    }
    nmt_translations_clear(j.results, n_units);
    free(j.results);
    free(j.order);
    free(tids);
    free(lines);
    free(lens);
    pthread_mutex_destroy(&j.stats_lock);
    nmt_translator_free(tr);
    return status;
}
