/* api_keys.h: the API keys a daemon accepts, read once from api_keys_file
 * (one key per line; blank lines and lines starting with # ignored; a key
 * is 8 to 127 printable ASCII characters without spaces).  Checking a key
 * compares it with every configured key in time that does not depend on
 * where they differ.  Read-only after loading: thread-safe. */
#ifndef NMT_API_KEYS_H
#define NMT_API_KEYS_H

#include <stddef.h>

#include "err.h"

typedef struct nmt_api_keys nmt_api_keys;

/* Reads path.  A bad line is an error naming path:line; a file without keys
 * is an error too (an empty api_keys_file setting means no keys). */
nmt_code nmt_api_keys_load(nmt_api_keys **out, const char *path, nmt_err *err);

/* Whether key[0..len) is one of the keys. */
int nmt_api_keys_accept(const nmt_api_keys *keys, const char *key, size_t len);

int nmt_api_keys_count(const nmt_api_keys *keys);

void nmt_api_keys_free(nmt_api_keys *keys);

#endif
