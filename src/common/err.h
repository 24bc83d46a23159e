/* err.h: error codes and the caller-owned error struct that every fallible
 * function in nmtd fills.  Functions return an nmt_code (0 = success) and, on
 * failure, write a one-line human message into the caller's nmt_err.  Only
 * main() decides whether an error ends the process. */
#ifndef NMT_ERR_H
#define NMT_ERR_H

#include <stddef.h>

typedef enum nmt_code {
    NMT_OK = 0,
    NMT_ERR_IO,          /* a file could not be opened, read or mapped */
    NMT_ERR_FORMAT,      /* a file's content is malformed or inconsistent */
    NMT_ERR_INVALID,     /* a caller passed a bad argument or input */
    NMT_ERR_TOO_LONG,    /* an input exceeds a model or configured limit */
    NMT_ERR_UNSUPPORTED, /* a well-formed model uses a feature nmtd lacks */
    NMT_ERR_NOMEM,       /* an allocation failed */
    NMT_ERR_BUSY,        /* a queue is full: try again later */
    NMT_ERR_CLOSED       /* the component is shutting down */
} nmt_code;

typedef struct nmt_err {
    nmt_code code;
    char msg[512];
} nmt_err;

/* Fills err (which may be NULL) and returns code; printf-style message. */
nmt_code nmt_err_set(nmt_err *err, nmt_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepends "prefix: " to an already-set message (e.g. a file name). */
nmt_code nmt_err_prefix(nmt_err *err, const char *prefix);

/* A short stable name for a code ("io", "format", ...). */
const char *nmt_code_name(nmt_code code);

#endif
