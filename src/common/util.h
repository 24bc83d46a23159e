/* util.h: small file, text and memory helpers shared by the loaders and
 * the kernels (no state, thread-safe). */
#ifndef NMT_UTIL_H
#define NMT_UTIL_H

#include <stddef.h>

#include "err.h"

/* Reads the whole file into a NUL-terminated malloc'd buffer (caller frees).
 * Refuses files over max_bytes. */
nmt_code nmt_read_file(const char *path, size_t max_bytes, char **out, size_t *len, nmt_err *err);

/* malloc'd "dir/name" (NULL when out of memory). */
char *nmt_path_join(const char *dir, const char *name);

/* "a/b/models/en-de/" -> "en-de" (malloc'd; NULL when out of memory). */
char *nmt_path_basename(const char *path);

/* Seconds on the monotonic clock (for intervals and deadlines). */
double nmt_now_s(void);

/* The value of a hexadecimal digit (either case), or -1. */
int nmt_hex_digit(char c);

/* 1 if path exists, else 0. */
int nmt_file_exists(const char *path);

/* Offset of the first NUL in JSON text of len bytes: a raw 0 byte anywhere,
 * or a \u0000 escape inside a string.  cJSON decodes either into its
 * NUL-terminated strings, which then end there silently, so a loader that
 * keys on names refuses such text before trusting the tree.  Returns len
 * when there is none.  Only scans (it does not validate the JSON). */
size_t nmt_json_nul_at(const char *text, size_t len);

/* count * size bytes aligned to a cache line (NMT_CACHE_LINE: what AVX-512
 * loads and AMX tile rows want whole; a tile row that straddles two lines
 * halves AMX's speed), zeroed (calloc) or not (malloc); free() frees
 * them.  NULL when out of memory or on overflow. */
#define NMT_CACHE_LINE 64
void *nmt_calloc_aligned(size_t count, size_t size);
void *nmt_malloc_aligned(size_t count, size_t size);

#endif
