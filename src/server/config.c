/* config.c: the daemon configuration.  One declarative directive table (name,
 * kind, bounds, default, help, offset into nmt_config) drives everything:
 * defaults, the `key = value` file, the command-line flags, --help and
 * --check-config.  Adding a key is adding a field and a table row.
 *
 * Defaults are written in the table as text and go through the same parser as
 * the file and the flags, so a default cannot escape its own bounds check.
 *
 * Threading: pure functions over a caller-owned struct; nothing global is
 * written.  Call at start-up, before threads exist.  The struct owns no heap
 * memory; the file buffer is read, parsed in place and freed here.  The file
 * is text handled with its length: a NUL byte in it is an error naming
 * file:line, never an early end. */
#include "nmt_config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "model.h"
#include "util.h"

#define CONFIG_FILE_MAX_BYTES (1u << 20)
#define NAME_MAX_LEN 64 /* longer names cannot be keys; no suggestion either */

typedef enum kind {
    KIND_PATH,     /* non-empty string, char[size] */
    KIND_ADDR,     /* IPv4 or IPv6 literal, char[size] */
    KIND_INT,      /* int in [min, max] */
    KIND_BOOL,     /* int 0/1 from yes/no, true/false, on/off, 1/0 */
    KIND_LOGLEVEL, /* nmt_log_level from debug|info|warn|error|off (log.h) */
    KIND_NEWLINE,  /* int NMT_NEWLINE_SPLIT / NMT_NEWLINE_JOIN from split|join */
    KIND_LANG,     /* a language code (letters, '_', '-'), or empty, char[size] */
    KIND_SCHEDULING, /* int NMT_SCHEDULING_CONTINUOUS / NMT_SCHEDULING_STATIC from continuous|static */
    KIND_COMPUTE,  /* int NMT_COMPUTE_AUTO or an nmt_compute_type from auto|float32|int8|bfloat16 */
    KIND_OPT_PATH, /* a string that may be empty, char[size] */
    KIND_NAMED_COMPUTE, /* a repeatable NAME=auto|float32|int8|bfloat16, nmt_config_list */
    KIND_LIST,     /* a repeatable non-empty string, nmt_config_list (the last kind) */
} kind;

/* The kinds kept in an nmt_config_list, one entry per line or flag. */
static int is_list(kind k) { return k == KIND_LIST || k == KIND_NAMED_COMPUTE; }

/* TYPE of compute_type: NMT_COMPUTE_AUTO or an nmt_compute_type; -2 when text is none. */
static int compute_of(const char *text, size_t len)
{
    if (len == 4 && strncasecmp(text, "auto", 4) == 0)
        return NMT_COMPUTE_AUTO;
    for (int t = NMT_COMPUTE_FLOAT32; t <= NMT_COMPUTE_BFLOAT16; t++) {
        const char *name = nmt_compute_type_name((nmt_compute_type)t);
        if (len == strlen(name) && strncasecmp(text, name, len) == 0)
            return t;
    }
    return -2;
}

typedef struct directive {
    const char *name;
    kind kind;
    size_t offset; /* into nmt_config */
    size_t size;   /* bytes of the field (string capacity, NUL included) */
    int min, max;  /* KIND_INT only */
    const char *def;
    const char *help;
} directive;

#define FIELD(f) offsetof(nmt_config, f), sizeof(((nmt_config *)0)->f)
#define D_STR(f, k, def, help) {#f, k, FIELD(f), 0, 0, def, help}
#define D_INT(f, lo, hi, def, help) {#f, KIND_INT, FIELD(f), lo, hi, #def, help}

static const directive directives[] = {
    D_STR(model, KIND_LIST, "models/en-de-demo",
          "Model directory in the Hugging Face Marian layout (config.json, model.safetensors, source.spm, "
          "target.spm, vocab.json). A relative path is relative to the working directory. Give it once per "
          "model to serve several (at most 16; more through models_dir); each is loaded once and all share "
          "the workers. Its languages come from tokenizer_config.json (source_lang, target_lang) and its "
          ">>xxx<< tokens (a multilingual target model), or from model_languages. Flags replace the file's "
          "models; \"\" clears the list."),
    D_STR(models_dir, KIND_OPT_PATH, "",
          "A directory whose subdirectories (those with a config.json) are models to serve, in name order, "
          "after the model entries; with models_dir set and no model given, only these."),
    D_STR(model_languages, KIND_LIST, "",
          "NAME=SRC-TGT (e.g. my-model=en-de): the languages of the model whose directory is named NAME, "
          "when its tokenizer_config.json does not say or says wrong; SRC also chooses its sentence rules "
          "(unless source_language is set). Repeatable."),
    D_STR(pivot_language, KIND_LANG, "en",
          "A pair no model serves is translated through this language when one model translates the source "
          "into it and another translates it into the target (the answer says \"pivot\"). Empty: never."),
    D_STR(compute_type, KIND_COMPUTE, "float32",
          "How the models' linear layers compute (each model's unless model_compute_types names it). float32: "
          "exact, the PyTorch reference's tokens. int8: weights quantized per row at load (a quarter of the "
          "memory), activations per row, int32 sums (CTranslate2's int8_float32). bfloat16: weights rounded to "
          "bfloat16 at load (half the memory), activations and sums fp32. auto: int8 where this CPU has a "
          "vector int8 kernel (AMX, AVX-512 VNNI, AVX2), else float32; the log says which and why."),
    D_STR(model_compute_types, KIND_NAMED_COMPUTE, "",
          "NAME=TYPE (e.g. opus-mt-en-de=int8): the compute type of the model whose directory is named NAME, "
          "instead of compute_type; TYPE is auto, float32, int8 or bfloat16. Repeatable."),
    D_STR(preload, KIND_BOOL, "yes",
          "yes: every model's weights are loaded at start (up to max_loaded_models), so start-up fails on a "
          "bad model and no request waits for a load. no: at start each model is only checked (config, "
          "tokenizer, tensor names and shapes) and its weights load when its first request arrives; only "
          "that model's requests wait for the load."),
    D_INT(max_loaded_models, 0, 1000, 0,
          "0: every model's weights stay loaded. N: at most N models' weights are resident; loading another "
          "first unloads the least recently used model that no worker is decoding (it loads again when next "
          "needed). With several workers the bound may be exceeded while every loaded model is busy."),
    D_STR(cors_origin, KIND_OPT_PATH, "",
          "Empty: no CORS headers. Otherwise the Access-Control-Allow-Origin sent on every answer (\"*\" or "
          "one origin, e.g. https://example.org), and OPTIONS preflight requests are answered, so that web "
          "pages on that origin can call the API."),
    D_STR(listen_address, KIND_ADDR, "127.0.0.1",
          "Address to listen on: an IPv4 or IPv6 literal (0.0.0.0 or :: for every interface). Host names are "
          "not resolved."),
    D_INT(port, 0, 65535, 8080, "TCP port. 0 lets the kernel pick a free port; the daemon logs which."),
    D_INT(workers, 1, 64, 2,
          "Decoding worker threads. Each owns its scratch buffers and KV caches and decodes one batch at a "
          "time; all share the read-only model."),
    D_INT(blas_threads, 1, 64, 1,
          "OpenBLAS threads (process-wide). With AVX-512, nmtd's own single-threaded kernels do the work and "
          "parallelism comes from workers; OpenBLAS is used only on CPUs without it. Keep workers x "
          "blas_threads at or below the number of cores."),
    D_INT(max_batch_sentences, 1, 1024, 32, "A batch holds at most this many sentences."),
    D_INT(max_batch_tokens, 16, 1048576, 4096, "A batch holds at most this many source tokens (batches are packed: no padding)."),
    D_INT(max_wait_ms, 0, 10000, 5,
          "A batch that is not full starts once its oldest sentence has waited this long (milliseconds). 0 "
          "starts at once with whatever is queued."),
    D_STR(scheduling, KIND_SCHEDULING, "continuous",
          "continuous: sentences join a worker's running decode between decoder steps and leave it the step "
          "they finish, so a short request does not wait for long ones. static: a worker decodes one batch "
          "until its last sentence has finished before it takes the next (the earlier behaviour)."),
    D_INT(admit_min_rows, 1, 1024, 1,
          "continuous: waiting sentences join a running decode only when at least this many of its "
          "max_batch_sentences rows are free (an idle worker always takes them)."),
    D_INT(admit_interval_steps, 1, 10000, 1,
          "continuous: and at most once every this many decoder steps; each admission runs the encoder on "
          "the newcomers, which the running sentences wait for."),
    D_INT(queue_capacity, 1, 1000000, 2048,
          "Sentences that may wait for a worker. A request that would overflow the queue gets 503 with "
          "Retry-After."),
    D_INT(request_timeout_ms, 1, 3600000, 30000,
          "A request still unanswered after this many milliseconds gets 504."),
    D_INT(max_sentences_per_request, 1, 100000, 128, "The most sentences one request may carry (else 400)."),
    D_INT(max_chars_per_text, 1, 100000000, 100000,
          "The longest text a request may carry, in UTF-8 code points (else 400 text_too_long). A text is "
          "split into sentences; each is translated on its own."),
    D_INT(max_segments_per_request, 1, 1000000, 1024,
          "The most segments (sentences, and pieces of sentences too long for the model) all texts of one "
          "request may make (else 400 too_many_segments). At most queue_capacity."),
    D_STR(newline, KIND_NEWLINE, "split",
          "split: a line break always ends a segment. join: a single line break inside a paragraph is read as "
          "a space (hard-wrapped text); only a blank line ends a paragraph. Either way the line breaks come "
          "back in the answer where they were."),
    D_STR(api_keys_file, KIND_OPT_PATH, "",
          "A file of API keys, one per line (# comments and blank lines ignored). Empty: no keys, every "
          "client is served. Set: POST /translate and /detect need one of the keys, in LibreTranslate's "
          "api_key field or an X-API-Key header (else 403); health, readiness, metrics, /v1/model and "
          "/languages stay open. Read at start and again on SIGHUP (a file that then fails to read keeps the "
          "keys in use)."),
    D_STR(source_language, KIND_LANG, "",
          "The source language's code for sentence splitting (en, de, ...), for every served model. Empty: "
          "each model's tokenizer_config.json source_lang; a language without rules of its own uses ICU's "
          "root rules."),
    D_INT(max_body_bytes, 64, 1073741824, 1048576, "The largest request body, in bytes (else 413)."),
    D_INT(max_length_limit, 1, 100000, 512,
          "The largest max_length a request may ask for (else 400); the model's own limits still apply."),
    D_INT(http_threads, 1, 64, 2, "libmicrohttpd polling threads (epoll). They never block on the model."),
    D_INT(connection_limit, 1, 100000, 1024,
          "Simultaneous client connections. At the limit, the connection that has waited longest without a "
          "request in progress (slow headers, idle keep-alive) is closed to make room; if every connection "
          "has a request in progress, the newcomer gets 503."),
    D_INT(per_ip_connection_limit, 0, 100000, 0,
          "Simultaneous connections from one client address; 0 = no limit. Leave 0 behind a proxy, where "
          "every client has the proxy's address."),
    D_INT(connection_timeout_s, 1, 3600, 30,
          "An idle connection is closed after this many seconds (a waiting request is not idle)."),
    D_INT(request_read_timeout_s, 1, 3600, 10,
          "A request's header block and body must have arrived this many seconds after the connection "
          "opened (after the previous answer, on a kept-alive connection: connection_timeout_s); slower "
          "clients are cut off."),
    D_STR(log_level, KIND_LOGLEVEL, "info", "Least severe log level written to stderr: debug, info, warn, error, or off (nothing)."),
    D_STR(access_log, KIND_BOOL, "yes",
          "Log one info line per request (method, path, status, sentences, duration); never the text."),
    D_INT(shutdown_grace_ms, 0, 3600000, 30000,
          "On SIGTERM or SIGINT, how long to wait for accepted requests to be answered; those still waiting "
          "then get 503."),
    D_INT(retry_after_s, 0, 3600, 1, "The Retry-After header value, in seconds, sent with 503."),
};

#define N_DIRECTIVES (sizeof directives / sizeof directives[0])

static const char bool_words[][2][6] = {{"no", "yes"}, {"false", "true"}, {"off", "on"}, {"0", "1"}};

/* ---- names and suggestions -------------------------------------------- */

/* Copies name into out with '-' -> '_'; 0 when it does not fit. */
static int normalize(const char *name, size_t len, char out[NAME_MAX_LEN + 1])
{
    if (len > NAME_MAX_LEN)
        return 0;
    for (size_t i = 0; i < len; i++)
        out[i] = name[i] == '-' ? '_' : name[i];
    out[len] = '\0';
    return 1;
}

static const directive *find(const char *name, size_t len)
{
    char key[NAME_MAX_LEN + 1];
    if (!normalize(name, len, key))
        return NULL;
    for (size_t i = 0; i < N_DIRECTIVES; i++)
        if (strcmp(key, directives[i].name) == 0)
            return &directives[i];
    return NULL;
}

/* Levenshtein distance of two short strings (each <= NAME_MAX_LEN). */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), row[NAME_MAX_LEN + 1];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* Writes " (did you mean X or Y?)" into out, or "" when nothing is close.
 * Close = the smallest edit distance when it is small for the name's length;
 * failing that, keys that contain the name (at least 3 characters).  Flags
 * are shown as --dashed-names. */
static void suggest(const char *name, size_t len, int as_flag, char *out, size_t cap)
{
    char key[NAME_MAX_LEN + 1];
    out[0] = '\0';
    if (!normalize(name, len, key) || len == 0)
        return;
    for (char *p = key; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    size_t dist[N_DIRECTIVES], best = SIZE_MAX;
    for (size_t i = 0; i < N_DIRECTIVES; i++) {
        dist[i] = edit_distance(key, directives[i].name);
        if (dist[i] < best)
            best = dist[i];
    }
    size_t limit = len <= 4 ? 1 : len <= 8 ? 2 : 3;
    int pick[N_DIRECTIVES], n = 0;
    for (size_t i = 0; i < N_DIRECTIVES; i++)
        pick[i] = best <= limit && dist[i] == best;
    for (size_t i = 0; i < N_DIRECTIVES; i++)
        n += pick[i];
    if (n == 0 && len >= 3) {
        for (size_t i = 0; i < N_DIRECTIVES; i++) {
            pick[i] = strstr(directives[i].name, key) != NULL;
            n += pick[i];
        }
    }
    if (n == 0 || n > 3)
        return;
    size_t at = (size_t)snprintf(out, cap, " (did you mean ");
    int shown = 0;
    for (size_t i = 0; i < N_DIRECTIVES && at < cap; i++) {
        if (!pick[i])
            continue;
        const char *sep = shown == 0 ? "" : shown == n - 1 ? " or " : ", ";
        at += (size_t)snprintf(out + at, cap - at, "%s%s", sep, as_flag ? "--" : "");
        for (const char *p = directives[i].name; *p && at + 1 < cap; p++)
            out[at++] = as_flag && *p == '_' ? '-' : *p;
        if (at < cap)
            out[at] = '\0';
        shown++;
    }
    if (at < cap)
        snprintf(out + at, cap - at, "?)");
}

/* ---- values -------------------------------------------------------------- */

/* Parses text for d into *field; on error fills err with a reason that does
 * not name the key (the caller adds the key, the flag or file:line). */
static nmt_code parse_value(const directive *d, const char *text, void *field, nmt_err *err)
{
    size_t len = strlen(text);
    switch (d->kind) {
    case KIND_PATH:
        if (len == 0)
            return nmt_err_set(err, NMT_ERR_INVALID, "empty value");
        if (len >= d->size)
            return nmt_err_set(err, NMT_ERR_INVALID, "value is %zu bytes long, more than the %zu allowed", len,
                               d->size - 1);
        memcpy(field, text, len + 1);
        return NMT_OK;
    case KIND_ADDR: {
        unsigned char buf[sizeof(struct in6_addr)];
        if (len >= d->size ||
            (inet_pton(AF_INET, text, buf) != 1 && inet_pton(AF_INET6, text, buf) != 1))
            return nmt_err_set(err, NMT_ERR_INVALID,
                               "'%.64s' is not an IPv4 or IPv6 address literal (e.g. 127.0.0.1, 0.0.0.0, ::1)",
                               text);
        memcpy(field, text, len + 1);
        return NMT_OK;
    }
    case KIND_INT: {
        char *end;
        errno = 0;
        long long v = strtoll(text, &end, 10);
        if (len == 0 || end == text || *end != '\0' || isspace((unsigned char)text[0]))
            return nmt_err_set(err, NMT_ERR_INVALID, "'%.64s' is not an integer", text);
        if (errno == ERANGE || v < d->min || v > d->max)
            return nmt_err_set(err, NMT_ERR_INVALID, "%.64s is out of range (%d..%d)", text, d->min, d->max);
        *(int *)field = (int)v;
        return NMT_OK;
    }
    case KIND_BOOL:
        for (size_t i = 0; i < sizeof bool_words / sizeof bool_words[0]; i++) {
            for (int b = 0; b < 2; b++) {
                if (strcasecmp(text, bool_words[i][b]) == 0) {
                    *(int *)field = b;
                    return NMT_OK;
                }
            }
        }
        return nmt_err_set(err, NMT_ERR_INVALID, "'%.64s' is not a boolean (yes/no, true/false, on/off, 1/0)",
                           text);
    case KIND_LOGLEVEL:
        if (nmt_log_parse_level(text, (nmt_log_level *)field) == 0)
            return NMT_OK;
        return nmt_err_set(err, NMT_ERR_INVALID, "'%.64s' is not a log level (debug, info, warn, error, off)", text);
    case KIND_NEWLINE:
        if (strcasecmp(text, "split") == 0 || strcasecmp(text, "join") == 0) {
            *(int *)field = strcasecmp(text, "join") == 0 ? NMT_NEWLINE_JOIN : NMT_NEWLINE_SPLIT;
            return NMT_OK;
        }
        return nmt_err_set(err, NMT_ERR_INVALID, "'%.64s' is not split or join", text);
    case KIND_SCHEDULING:
        if (strcasecmp(text, "continuous") == 0 || strcasecmp(text, "static") == 0) {
            *(int *)field = strcasecmp(text, "static") == 0 ? NMT_SCHEDULING_STATIC : NMT_SCHEDULING_CONTINUOUS;
            return NMT_OK;
        }
        return nmt_err_set(err, NMT_ERR_INVALID, "'%.64s' is not continuous or static", text);
    case KIND_COMPUTE: {
        int t = compute_of(text, len);
        if (t != -2) {
            *(int *)field = t;
            return NMT_OK;
        }
        return nmt_err_set(err, NMT_ERR_INVALID, "'%.64s' is not auto, float32, int8 or bfloat16", text);
    }
    case KIND_OPT_PATH:
        if (len >= d->size)
            return nmt_err_set(err, NMT_ERR_INVALID, "value is %zu bytes long, more than the %zu allowed", len,
                               d->size - 1);
        memcpy(field, text, len + 1);
        return NMT_OK;
    case KIND_NAMED_COMPUTE:
    case KIND_LIST:
        if (len == 0)
            return nmt_err_set(err, NMT_ERR_INVALID, "empty value");
        if (len >= NMT_CONFIG_PATH_MAX)
            return nmt_err_set(err, NMT_ERR_INVALID, "value is %zu bytes long, more than the %d allowed", len,
                               NMT_CONFIG_PATH_MAX - 1);
        if (d->kind == KIND_NAMED_COMPUTE && nmt_config_named_compute(text, NULL, NULL) != NMT_OK)
            return nmt_err_set(err, NMT_ERR_INVALID,
                               "'%.64s' is not NAME=TYPE with TYPE auto, float32, int8 or bfloat16 (e.g. "
                               "opus-mt-en-de=int8)",
                               text);
        memcpy(field, text, len + 1);
        return NMT_OK;
    case KIND_LANG:
        if (len >= d->size)
            return nmt_err_set(err, NMT_ERR_INVALID, "'%.64s' is too long for a language code", text);
        for (const char *p = text; *p; p++)
            if (!isalpha((unsigned char)*p) && *p != '_' && *p != '-')
                return nmt_err_set(err, NMT_ERR_INVALID, "'%.64s' is not a language code (en, de, pt_BR, ...)",
                                   text);
        memcpy(field, text, len + 1);
        return NMT_OK;
    }
    return nmt_err_set(err, NMT_ERR_INVALID, "internal error: unknown kind for %s", d->name);
}

/* A list entry from origin (0 default, 1 file, 2 flags): entries from a
 * later layer replace those of an earlier one. */
static nmt_code apply_list(nmt_config_list *l, const directive *d, const char *text, int origin, nmt_err *err)
{
    if (!text[0]) { /* "" clears the list */
        l->n = 0;
        l->origin = origin;
        return NMT_OK;
    }
    char value[NMT_CONFIG_PATH_MAX];
    nmt_code rc = parse_value(d, text, value, err);
    if (rc)
        return rc;
    if (l->origin < origin) {
        l->n = 0;
        l->origin = origin;
    }
    if (l->n == NMT_CONFIG_LIST_MAX)
        return nmt_err_set(err, NMT_ERR_INVALID, "more than %d entries", NMT_CONFIG_LIST_MAX);
    memcpy(l->items[l->n++], value, strlen(value) + 1);
    return NMT_OK;
}

/* Parses into a scratch copy first, so that a bad value leaves *c unchanged. */
static nmt_code apply(nmt_config *c, const directive *d, const char *text, int origin, nmt_err *err)
{
    if (is_list(d->kind))
        return apply_list((nmt_config_list *)(void *)((char *)c + d->offset), d, text, origin, err);
    union {
        char s[NMT_CONFIG_PATH_MAX];
        int i;
        nmt_log_level l;
    } tmp;
    if (d->size > sizeof tmp)
        return nmt_err_set(err, NMT_ERR_INVALID, "internal error: field %s too large", d->name);
    nmt_code rc = parse_value(d, text, &tmp, err);
    if (rc)
        return rc;
    char *field = (char *)c + d->offset;
    if (d->kind == KIND_PATH || d->kind == KIND_ADDR || d->kind == KIND_LANG || d->kind == KIND_OPT_PATH) {
        memset(field, 0, d->size);
        memcpy(field, tmp.s, strlen(tmp.s) + 1);
    } else {
        memcpy(field, &tmp, d->size);
    }
    return NMT_OK;
}

const char *nmt_config_log_level_name(nmt_log_level level) { return nmt_log_level_name(level); }

static void print_quoted(FILE *f, const char *s)
{
    fputc('"', f);
    for (const char *p = s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fputc('\\', f);
        fputc(*p, f);
    }
    fputc('"', f);
}

/* Writes d's value in c as the file would write it (strings quoted; a
 * list's entries separated by ", " for the help text). */
static void print_value(FILE *f, const directive *d, const nmt_config *c)
{
    const char *field = (const char *)c + d->offset;
    switch (d->kind) {
    case KIND_NAMED_COMPUTE:
    case KIND_LIST: {
        const nmt_config_list *l = (const nmt_config_list *)(const void *)field;
        if (l->n == 0)
            fputs("\"\"", f);
        for (int i = 0; i < l->n; i++) {
            fputs(i ? ", " : "", f);
            print_quoted(f, l->items[i]);
        }
        break;
    }
    case KIND_PATH:
    case KIND_ADDR:
    case KIND_LANG:
    case KIND_OPT_PATH:
        print_quoted(f, field);
        break;
    case KIND_INT: fprintf(f, "%d", *(const int *)field); break;
    case KIND_BOOL: fputs(*(const int *)field ? "yes" : "no", f); break;
    case KIND_LOGLEVEL: fputs(nmt_config_log_level_name(*(const nmt_log_level *)field), f); break;
    case KIND_NEWLINE: fputs(*(const int *)field == NMT_NEWLINE_JOIN ? "join" : "split", f); break;
    case KIND_SCHEDULING:
        fputs(*(const int *)field == NMT_SCHEDULING_STATIC ? "static" : "continuous", f);
        break;
    case KIND_COMPUTE:
        fputs(*(const int *)field == NMT_COMPUTE_AUTO ? "auto" : nmt_compute_type_name(*(const int *)field), f);
        break;
    }
}

/* ---- public: a model's compute type ------------------------------------- */

nmt_code nmt_config_named_compute(const char *entry, size_t *name_len, int *compute)
{
    const char *eq = strrchr(entry, '=');
    if (!eq || eq == entry)
        return NMT_ERR_INVALID;
    int t = compute_of(eq + 1, strlen(eq + 1));
    if (t == -2)
        return NMT_ERR_INVALID;
    if (name_len)
        *name_len = (size_t)(eq - entry);
    if (compute)
        *compute = t;
    return NMT_OK;
}

int nmt_config_compute_for(const nmt_config *c, const char *name)
{
    size_t n = strlen(name), len;
    int t;
    for (int i = 0; i < c->model_compute_types.n; i++)
        if (nmt_config_named_compute(c->model_compute_types.items[i], &len, &t) == NMT_OK && len == n &&
            strncmp(c->model_compute_types.items[i], name, n) == 0)
            return t;
    return c->compute_type;
}

/* ---- public: struct ----------------------------------------------------- */

void nmt_config_defaults(nmt_config *c)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < N_DIRECTIVES; i++)
        apply(c, &directives[i], directives[i].def, 0, NULL); /* the defaults are tested to parse */
}

void nmt_config_free(nmt_config *c) { (void)c; }

nmt_code nmt_config_set(nmt_config *c, const char *key, const char *value, nmt_err *err)
{
    const directive *d = find(key, strlen(key));
    if (!d) {
        char hint[256];
        suggest(key, strlen(key), 0, hint, sizeof hint);
        return nmt_err_set(err, NMT_ERR_INVALID, "unknown key '%.64s'%s", key, hint);
    }
    nmt_code rc = apply(c, d, value, 2, err);
    return rc ? nmt_err_prefix(err, d->name) : NMT_OK;
}

void nmt_config_dump(const nmt_config *c, FILE *f)
{
    for (size_t i = 0; i < N_DIRECTIVES; i++) {
        if (is_list(directives[i].kind)) { /* one line per entry; none: a comment */
            const nmt_config_list *l = (const nmt_config_list *)(const void *)((const char *)c + directives[i].offset);
            if (l->n == 0)
                fprintf(f, "%s = \"\"\n", directives[i].name);
            for (int k = 0; k < l->n; k++) {
                fprintf(f, "%s = ", directives[i].name);
                print_quoted(f, l->items[k]);
                fputc('\n', f);
            }
            continue;
        }
        fprintf(f, "%s = ", directives[i].name);
        print_value(f, &directives[i], c);
        fputc('\n', f);
    }
}

/* ---- public: the file ----------------------------------------------------- */

static char *skip_space(char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

static void trim_right(char *start, char *end)
{
    while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    *end = '\0';
}

/* Splits one line (NUL-terminated, no newline) into key and value, in place.
 * A blank or comment line leaves *key NULL. */
static nmt_code split_line(char *line, char **key, char **value, nmt_err *err)
{
    *key = *value = NULL;
    char *p = skip_space(line);
    if (*p == '\0' || *p == '#')
        return NMT_OK;
    char *eq = strchr(p, '=');
    if (!eq)
        return nmt_err_set(err, NMT_ERR_INVALID, "missing '=' in '%.64s' (lines are key = value)", p);
    trim_right(p, eq);
    if (*p == '\0')
        return nmt_err_set(err, NMT_ERR_INVALID, "missing key before '='");
    char *v = skip_space(eq + 1);
    if (*v == '"') {
        char *r = v + 1, *w = v;
        while (*r && *r != '"') {
            if (*r == '\\' && (r[1] == '"' || r[1] == '\\'))
                r++;
            *w++ = *r++;
        }
        if (*r != '"')
            return nmt_err_set(err, NMT_ERR_INVALID, "unterminated quoted value for '%.64s'", p);
        *w = '\0';
        char *rest = skip_space(r + 1);
        if (*rest != '\0' && *rest != '#')
            return nmt_err_set(err, NMT_ERR_INVALID, "unexpected '%.32s' after the closing quote", rest);
        *key = p;
        *value = v;
        return NMT_OK;
    }
    char *end = v;
    while (*end && !(*end == '#' && (end == v || end[-1] == ' ' || end[-1] == '\t')))
        end++;
    trim_right(v, end);
    if (*v == '\0')
        return nmt_err_set(err, NMT_ERR_INVALID, "missing value for '%.64s'", p);
    *key = p;
    *value = v;
    return NMT_OK;
}

/* Applies the file text[0..len) (writable: lines are cut in place; text[len]
 * must exist and is overwritten with a NUL) named name in messages.  The
 * text is handled with its length: a NUL byte is refused with its line, not
 * taken for the end of the file. */
static nmt_code load_text(nmt_config *c, const char *name, char *text, size_t len, nmt_err *err)
{
    text[len] = '\0';
    const char *nul = memchr(text, '\0', len);
    if (nul) {
        int nul_line = 1;
        const char *line_start = text;
        for (const char *p = text; p < nul; p++)
            if (*p == '\n') {
                nul_line++;
                line_start = p + 1;
            }
        nmt_err_set(err, NMT_ERR_INVALID, "NUL byte at column %zu (a config file is text)",
                    (size_t)(nul - line_start) + 1);
        char where[NMT_CONFIG_PATH_MAX + 16];
        snprintf(where, sizeof where, "%s:%d", name, nul_line);
        return nmt_err_prefix(err, where);
    }
    int seen[N_DIRECTIVES] = {0}; /* line of each key's first appearance */
    int lineno = 0;
    nmt_code rc = NMT_OK;
    char *line = text, *text_end = text + len;
    while (line < text_end && rc == NMT_OK) {
        char *nl = memchr(line, '\n', (size_t)(text_end - line));
        char *line_end = nl ? nl : text_end;
        *line_end = '\0';
        lineno++;
        if (line_end > line && line_end[-1] == '\r')
            line_end[-1] = '\0';
        char *key = NULL, *value = NULL;
        rc = split_line(line, &key, &value, err);
        if (rc == NMT_OK && key) {
            const directive *d = find(key, strlen(key));
            if (!d) {
                char hint[256];
                suggest(key, strlen(key), 0, hint, sizeof hint);
                rc = nmt_err_set(err, NMT_ERR_INVALID, "unknown key '%.64s'%s", key, hint);
            } else if (seen[d - directives] && !is_list(d->kind)) {
                rc = nmt_err_set(err, NMT_ERR_INVALID, "duplicate key '%s' (first set on line %d)", d->name,
                                 seen[d - directives]);
            } else {
                seen[d - directives] = lineno;
                if ((rc = apply(c, d, value, 1, err)) != NMT_OK)
                    nmt_err_prefix(err, d->name);
            }
        }
        line = line_end + 1;
    }
    if (rc) {
        char where[NMT_CONFIG_PATH_MAX + 16];
        snprintf(where, sizeof where, "%s:%d", name, lineno);
        return nmt_err_prefix(err, where);
    }
    return NMT_OK;
}

nmt_code nmt_config_load_file(nmt_config *c, const char *path, nmt_err *err)
{
    char *text;
    size_t len;
    nmt_code rc = nmt_read_file(path, CONFIG_FILE_MAX_BYTES, &text, &len, err);
    if (rc)
        return rc;
    rc = load_text(c, path, text, len, err);
    free(text);
    return rc;
}

nmt_code nmt_config_load_buffer(nmt_config *c, const char *name, const char *text, size_t len, nmt_err *err)
{
    if (len > CONFIG_FILE_MAX_BYTES)
        return nmt_err_set(err, NMT_ERR_FORMAT, "%s: %zu bytes, more than the %u this file may have", name, len,
                           CONFIG_FILE_MAX_BYTES);
    char *copy = malloc(len + 1);
    if (!copy)
        return nmt_err_set(err, NMT_ERR_NOMEM, "%s: out of memory", name);
    memcpy(copy, text, len);
    nmt_code rc = load_text(c, name, copy, len, err);
    free(copy);
    return rc;
}

/* ---- public: the command line ------------------------------------------- */

typedef enum opt_kind { OPT_KEY, OPT_CONFIG, OPT_CHECK, OPT_HELP, OPT_VERSION } opt_kind;

typedef struct opt {
    opt_kind kind;
    const directive *d; /* OPT_KEY */
    const char *value;  /* OPT_KEY, OPT_CONFIG */
    char flag[NAME_MAX_LEN + 3]; /* the flag as typed, without any "=value" (for messages) */
} opt;

/* Reads the option at argv[*i] and advances *i past it (and its value). */
static nmt_code next_opt(int argc, char **argv, int *i, opt *o, nmt_err *err)
{
    const char *arg = argv[*i];
    (*i)++;
    memset(o, 0, sizeof *o);
    if (strcmp(arg, "-h") == 0 || strcmp(arg, "-V") == 0) {
        o->kind = arg[1] == 'h' ? OPT_HELP : OPT_VERSION;
        return NMT_OK;
    }
    if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
        if (arg[0] == '-' && arg[1] != '\0')
            return nmt_err_set(err, NMT_ERR_INVALID, "unknown option '%.64s' (options are --long-names)", arg);
        return nmt_err_set(err, NMT_ERR_INVALID, "unexpected argument '%.64s' (try --help)", arg);
    }
    const char *name = arg + 2, *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    snprintf(o->flag, sizeof o->flag, "--%.*s", (int)(len > NAME_MAX_LEN ? NAME_MAX_LEN : len), name);
    char norm[NAME_MAX_LEN + 1];
    int ok = normalize(name, len, norm);
    static const struct { const char *name; opt_kind kind; } fixed[] = {
        {"config", OPT_CONFIG}, {"check_config", OPT_CHECK}, {"help", OPT_HELP}, {"version", OPT_VERSION}};
    o->kind = OPT_KEY;
    for (size_t k = 0; ok && k < sizeof fixed / sizeof fixed[0]; k++)
        if (strcmp(norm, fixed[k].name) == 0)
            o->kind = fixed[k].kind;
    if (o->kind == OPT_CHECK || o->kind == OPT_HELP || o->kind == OPT_VERSION) {
        if (eq)
            return nmt_err_set(err, NMT_ERR_INVALID, "option '%s' takes no value", o->flag);
        return NMT_OK;
    }
    if (o->kind == OPT_KEY && !(o->d = find(name, len))) {
        char hint[256];
        suggest(name, len, 1, hint, sizeof hint);
        return nmt_err_set(err, NMT_ERR_INVALID, "unknown option '%s'%s", o->flag, hint);
    }
    if (eq) {
        o->value = eq + 1;
    } else if (*i < argc && strncmp(argv[*i], "--", 2) != 0) {
        o->value = argv[(*i)++];
    } else {
        return nmt_err_set(err, NMT_ERR_INVALID, "option '%s' needs a value", o->flag);
    }
    return NMT_OK;
}

nmt_code nmt_config_parse_args(nmt_config *c, int argc, char **argv, nmt_config_action *action, nmt_err *err)
{
    *action = NMT_CONFIG_RUN;
    /* --help and --version win, even over mistakes elsewhere on the line. */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            *action = NMT_CONFIG_HELP;
            return NMT_OK;
        }
        if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-V") == 0) {
            *action = NMT_CONFIG_VERSION;
            return NMT_OK;
        }
    }
    /* Pass 1: the syntax of the whole line, and the config file. */
    const char *file = NULL;
    int check = 0;
    opt o;
    nmt_code rc;
    for (int i = 1; i < argc;) {
        if ((rc = next_opt(argc, argv, &i, &o, err)))
            return rc;
        if (o.kind == OPT_CONFIG) {
            if (file)
                return nmt_err_set(err, NMT_ERR_INVALID, "option '--config' given twice ('%.64s' and '%.64s')",
                                   file, o.value);
            file = o.value;
        } else if (o.kind == OPT_CHECK) {
            check = 1;
        }
    }
    if (file && (rc = nmt_config_load_file(c, file, err)))
        return rc;
    /* Pass 2: the flags override the file, left to right. */
    for (int i = 1; i < argc;) {
        if ((rc = next_opt(argc, argv, &i, &o, err)))
            return rc;
        if (o.kind != OPT_KEY)
            continue;
        if ((rc = apply(c, o.d, o.value, 2, err))) {
            char where[NAME_MAX_LEN + 16];
            snprintf(where, sizeof where, "option '%s'", o.flag);
            return nmt_err_prefix(err, where);
        }
    }
    *action = check ? NMT_CONFIG_CHECK : NMT_CONFIG_RUN;
    return NMT_OK;
}

/* Writes text wrapped at 79 columns, each line indented by indent. */
static void print_wrapped(FILE *f, const char *text, int indent)
{
    const int width = 79;
    int col = 0;
    const char *p = text;
    while (*p) {
        while (*p == ' ')
            p++;
        size_t w = strcspn(p, " ");
        if (w == 0)
            break;
        if (col > 0 && col + 1 + (int)w > width) {
            fputc('\n', f);
            col = 0;
        }
        if (col == 0)
            col = fprintf(f, "%*s%.*s", indent, "", (int)w, p);
        else
            col += fprintf(f, " %.*s", (int)w, p);
        p += w;
    }
    if (col > 0)
        fputc('\n', f);
}

void nmt_config_print_help(FILE *f, const char *prog)
{
    const char *slash = prog ? strrchr(prog, '/') : NULL;
    const char *name = slash ? slash + 1 : prog ? prog : "nmtd";
    fprintf(f,
            "Usage: %s [--config FILE] [--check-config] [--KEY VALUE | --KEY=VALUE]...\n"
            "       %s --help | --version\n"
            "\n"
            "Neural machine translation over HTTP. Settings come from the built-in\n"
            "defaults, then the file given with --config, then the flags, which\n"
            "override the file wherever they appear on the line.\n"
            "\n"
            "  --config FILE        read settings from FILE (`key = value` lines, # comments)\n"
            "  --check-config       check the configuration, print it and exit\n"
            "  -h, --help           show this help and exit\n"
            "  -V, --version        show the version and exit\n"
            "\n"
            "Settings (each is also a config file key; '-' and '_' are interchangeable):\n",
            name, name);
    nmt_config defaults;
    nmt_config_defaults(&defaults);
    for (size_t i = 0; i < N_DIRECTIVES; i++) {
        const directive *d = &directives[i];
        static const char *const metavar[] = {"PATH",       "ADDRESS", "N",
                                              "yes|no",     "debug|info|warn|error|off",
                                              "split|join", "LANG",    "continuous|static",
                                              "float32|int8|bfloat16|auto", "PATH",
                                              "NAME=TYPE",  "VALUE"};
        _Static_assert(sizeof metavar / sizeof metavar[0] == KIND_LIST + 1, "a metavar for every kind");
        fputs("  --", f);
        for (const char *p = d->name; *p; p++)
            fputc(*p == '_' ? '-' : *p, f);
        fprintf(f, " %s  (default ", metavar[d->kind]);
        print_value(f, d, &defaults);
        if (d->kind == KIND_INT)
            fprintf(f, ", %d..%d", d->min, d->max);
        fputs(")\n", f);
        print_wrapped(f, d->help, 6);
    }
}
