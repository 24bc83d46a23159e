/* spm.h: a small C interface over libsentencepiece (spm_shim.cc).  A loaded
 * processor is immutable; encode/decode are thread-safe. */
#ifndef NMT_SPM_H
#define NMT_SPM_H

#include <stddef.h>

#include "err.h"

typedef struct nmt_spm nmt_spm;

/* Called once per piece, in order; piece is not NUL-terminated. Returns 0 to
 * go on, non-zero to stop (the value is returned by nmt_spm_encode). */
typedef int (*nmt_spm_piece_fn)(void *ctx, const char *piece, size_t len);

nmt_code nmt_spm_load(nmt_spm **out, const char *path, nmt_err *err);
void nmt_spm_free(nmt_spm *spm);

/* Splits text (len bytes) into pieces.  Returns NMT_OK, the callback's
 * non-zero value, or an error. */
int nmt_spm_encode(const nmt_spm *spm, const char *text, size_t len, nmt_spm_piece_fn fn, void *ctx,
                   nmt_err *err);

/* Joins pieces into text (*out malloc'd, caller frees). */
nmt_code nmt_spm_decode(const nmt_spm *spm, const char *const *pieces, int n, char **out, nmt_err *err);

#endif
