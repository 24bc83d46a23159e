/* util.h: small file helpers shared by the loaders (no state, thread-safe). */
#ifndef NMT_UTIL_H
#define NMT_UTIL_H

#include <stddef.h>

#include "err.h"

/* Reads the whole file into a NUL-terminated malloc'd buffer (caller frees).
 * Refuses files over max_bytes. */
nmt_code nmt_read_file(const char *path, size_t max_bytes, char **out, size_t *len, nmt_err *err);

/* malloc'd "dir/name" (NULL when out of memory). */
char *nmt_path_join(const char *dir, const char *name);

/* 1 if path exists, else 0. */
int nmt_file_exists(const char *path);

#endif
