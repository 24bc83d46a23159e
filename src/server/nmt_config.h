/* nmt_config.h: the daemon's configuration (module src/config.c).
 *
 * One struct, filled in three layers: built-in defaults, then the file named
 * by --config, then the other command-line flags.  Every key of the file is
 * also a flag: `port = 8080` in the file is `--port 8080` or `--port=8080` on
 * the command line, with '-' and '_' interchangeable in the name.
 *
 *   nmt_config cfg;
 *   nmt_config_action action;
 *   nmt_err err;
 *   nmt_config_defaults(&cfg);
 *   if (nmt_config_parse_args(&cfg, argc, argv, &action, &err)) {
 *       fprintf(stderr, "nmtd: %s\n", err.msg);   // "nmtd.conf:12: unknown key ..."
 *       return 2;
 *   }
 *   switch (action) { case NMT_CONFIG_HELP: nmt_config_print_help(stdout, argv[0]); ... }
 *
 * The header is not called config.h because autoconf's generated config.h
 * (PACKAGE_VERSION, included as "config.h" by src/ files) would be shadowed
 * by a src/config.h: a quoted #include looks in the including file's
 * directory first.
 *
 * Threading: nothing here is shared.  Fill the struct at start-up, before any
 * thread starts; afterwards it is read-only and may be read by any thread.
 * The struct owns no heap memory (strings are inline arrays), so it can be
 * copied by value. */
#ifndef NMT_CONFIG_H
#define NMT_CONFIG_H

#include <stdio.h>

#include "err.h"
#include "log.h"

#define NMT_CONFIG_PATH_MAX 4096 /* model path, NUL included */
#define NMT_CONFIG_ADDR_MAX 64   /* an IPv6 literal is at most 45 characters */

#define NMT_CONFIG_LIST_MAX 16   /* entries of a repeatable key (model, model_languages) */

enum { NMT_NEWLINE_SPLIT = 0, NMT_NEWLINE_JOIN = 1 };

/* A key that may be given several times: each line of the file and each
 * flag adds an entry.  The flags replace the file's entries (the first
 * flag clears them), the file replaces the built-in default. */
typedef struct nmt_config_list {
    char items[NMT_CONFIG_LIST_MAX][NMT_CONFIG_PATH_MAX];
    int n;
    int origin; /* where the entries came from: 0 default, 1 file, 2 flags */
} nmt_config_list;
enum { NMT_SCHEDULING_CONTINUOUS = 0, NMT_SCHEDULING_STATIC = 1 };
enum { NMT_COMPUTE_AUTO = -1 }; /* else an nmt_compute_type (model.h) */

typedef struct nmt_config {
    nmt_config_list model;                    /* model directories (Hugging Face Marian layout) */
    char models_dir[NMT_CONFIG_PATH_MAX];     /* "" or a directory whose subdirectories are models */
    nmt_config_list model_languages;          /* NAME=SRC-TGT: languages of a model that does not say */
    char pivot_language[16];                  /* "" = no pivoting */
    int compute_type;                         /* NMT_COMPUTE_AUTO or an nmt_compute_type */
    nmt_config_list model_compute_types;      /* NAME=TYPE: a model's compute type instead of compute_type */
    int preload;                              /* load every model's weights at start; 0: on first use */
    int max_loaded_models;                    /* > 0: at most this many models' weights resident */
    char cors_origin[256];                    /* "" = no CORS headers; "*" or an origin */
    char listen_address[NMT_CONFIG_ADDR_MAX]; /* IPv4 or IPv6 literal (checked with inet_pton) */
    int port;                                 /* 0..65535; 0 = let the kernel pick (log which) */
    int workers;                              /* decoding worker threads */
    int blas_threads;                         /* OpenBLAS threads; process-wide (see the help text) */
    int max_batch_sentences;
    int max_batch_tokens;
    int max_wait_ms;               /* a partial batch starts once its oldest sentence waited this long */
    int scheduling;                /* NMT_SCHEDULING_CONTINUOUS or NMT_SCHEDULING_STATIC */
    int admit_min_rows;            /* continuous: free rows needed to admit */
    int admit_interval_steps;      /* continuous: steps between admissions */
    int queue_capacity;            /* sentences waiting; beyond -> 503 */
    int request_timeout_ms;        /* still waiting after this -> 504 */
    int max_sentences_per_request;
    int max_chars_per_text;        /* UTF-8 code points of one text */
    int max_segments_per_request;  /* sentences and wrapped pieces of all texts */
    int newline;                   /* NMT_NEWLINE_SPLIT or NMT_NEWLINE_JOIN */
    char api_keys_file[NMT_CONFIG_PATH_MAX]; /* "" = no keys */
    char source_language[16];      /* "" = from the model */
    int max_body_bytes;
    int max_length_limit;          /* the largest max_length a request may ask for */
    int http_threads;              /* libmicrohttpd polling threads */
    int connection_limit;          /* at the limit, idle/slow connections make room */
    int per_ip_connection_limit;   /* 0 = none */
    int connection_timeout_s;
    int request_read_timeout_s;    /* headers + body must arrive within this */
    nmt_log_level log_level;       /* DEBUG, INFO, WARN or ERROR */
    int access_log;                /* 0 or 1 */
    int shutdown_grace_ms;         /* SIGTERM waits this long for accepted requests */
    int retry_after_s;             /* Retry-After on 503 */
} nmt_config;

typedef enum nmt_config_action {
    NMT_CONFIG_RUN = 0, /* start the daemon */
    NMT_CONFIG_CHECK,   /* --check-config: the configuration is valid; print it (nmt_config_dump) and exit 0 */
    NMT_CONFIG_HELP,    /* --help / -h: nmt_config_print_help to stdout, exit 0 */
    NMT_CONFIG_VERSION  /* --version / -V: print the version, exit 0 */
} nmt_config_action;

/* Fills every field with its built-in default.  Cannot fail. */
void nmt_config_defaults(nmt_config *c);

/* Releases what the struct owns.  It owns no heap memory today, so this does
 * nothing; call it anyway, so that the pair stays honest if a field ever
 * becomes allocated.  Accepts NULL. */
void nmt_config_free(nmt_config *c);

/* Sets one key from its text form, exactly as the file and the flags do.
 * key: a key name, '-' and '_' interchangeable ("max-wait-ms").
 * Returns NMT_ERR_INVALID for an unknown key (with a did-you-mean when one is
 * close) or a bad / out-of-range value; the message names the key and never
 * carries a file position.  On error *c is unchanged. */
nmt_code nmt_config_set(nmt_config *c, const char *key, const char *value, nmt_err *err);

/* Applies a `key = value` file on top of *c.  Syntax: one `key = value` per
 * line; blank lines; `#` starts a comment at the start of a line or after
 * whitespace (`a#b` is a value); a value may be double-quoted (`\"` and `\\`
 * escape inside quotes), which keeps `#` and surrounding spaces.
 * Errors, each NMT_ERR_INVALID with "path:line: reason": missing '=', unknown
 * key (with a did-you-mean), bad or out-of-range value, a key given twice, a
 * NUL byte anywhere in the file ("path:3: NUL byte at column 7 ...").
 * An unreadable file is NMT_ERR_IO naming the file.  On error *c may hold the
 * lines before the bad one applied: do not start with it. */
nmt_code nmt_config_load_file(nmt_config *c, const char *path, nmt_err *err);

/* The same as nmt_config_load_file on a file whose content is text[0..len)
 * (need not be NUL-terminated; copied, not modified); name stands for the
 * path in messages.  Over 1 MiB is NMT_ERR_FORMAT, as for a file.  Used by
 * the fuzz target and tests. */
nmt_code nmt_config_load_buffer(nmt_config *c, const char *name, const char *text, size_t len, nmt_err *err);

/* Parses the command line on top of *c (normally fresh defaults):
 *  - --help / -h and --version / -V win over everything: *action is set and
 *    nothing else is parsed or loaded;
 *  - --config FILE (or --config=FILE) is loaded first, wherever it appears;
 *    then every other flag overrides the file, left to right (the last of a
 *    repeated flag wins; --config itself may appear only once);
 *  - --check-config sets *action to NMT_CONFIG_CHECK;
 *  - every key is a flag, `--key value` or `--key=value`.  In the first form
 *    the next argument is the value unless it is missing or starts with "--"
 *    (use `--key=--odd` for such a value).
 * Errors (NMT_ERR_INVALID unless the file is unreadable): "unknown option
 * '--foo'" (with a did-you-mean), "option '--port' needs a value", a bad
 * value (the message names the key), "unexpected argument 'x'", and any
 * error of nmt_config_load_file.  argv is not modified. */
nmt_code nmt_config_parse_args(nmt_config *c, int argc, char **argv, nmt_config_action *action, nmt_err *err);

/* Usage and every key as a flag with its default, range and help text,
 * generated from the directive table. */
void nmt_config_print_help(FILE *f, const char *prog);

/* Every key as a `key = value` line (strings quoted), in table order: a file
 * that nmt_config_load_file reads back to the same configuration. */
void nmt_config_dump(const nmt_config *c, FILE *f);

/* The name of a log level as the file writes it ("info"). */
const char *nmt_config_log_level_name(nmt_log_level level);

/* A model_compute_types entry "NAME=TYPE": NMT_OK with the length of NAME
 * and TYPE (NMT_COMPUTE_AUTO or an nmt_compute_type) in *name_len and
 * *compute (either may be NULL); NMT_ERR_INVALID when entry is not one. */
nmt_code nmt_config_named_compute(const char *entry, size_t *name_len, int *compute);

/* The compute type (NMT_COMPUTE_AUTO or an nmt_compute_type) of the model
 * whose directory is named name: its model_compute_types entry, else
 * compute_type. */
int nmt_config_compute_for(const nmt_config *c, const char *name);

#endif
