/* api_keys.c: loading and checking API keys (see api_keys.h). */
#include "api_keys.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

#define KEY_MIN 8
#define KEY_MAX 127
#define KEYS_FILE_MAX_BYTES (1u << 20)

struct nmt_api_keys {
    int n;
    char (*key)[KEY_MAX + 1];
    size_t *len;
};

void nmt_api_keys_free(nmt_api_keys *keys)
{
    if (!keys)
        return;
    free(keys->key);
    free(keys->len);
    free(keys);
}

int nmt_api_keys_count(const nmt_api_keys *keys) { return keys ? keys->n : 0; }

nmt_code nmt_api_keys_load(nmt_api_keys **out, const char *path, nmt_err *err)
{
    *out = NULL;
    char *text = NULL;
    size_t len = 0;
    nmt_code rc = nmt_read_file(path, KEYS_FILE_MAX_BYTES, &text, &len, err);
    if (rc)
        return rc;
    nmt_api_keys *keys = calloc(1, sizeof *keys);
    size_t lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    if (keys) {
        keys->key = calloc(lines, sizeof *keys->key);
        keys->len = calloc(lines, sizeof *keys->len);
    }
    if (!keys || !keys->key || !keys->len) {
        rc = nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
        goto out;
    }
    int line_no = 0;
    for (size_t at = 0; at < len;) {
        const char *line = text + at;
        const char *nl = memchr(line, '\n', len - at);
        size_t n = nl ? (size_t)(nl - line) : len - at;
        at += n + 1;
        line_no++;
        while (n && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
            n--;
        while (n && (*line == ' ' || *line == '\t'))
            line++, n--;
        if (n == 0 || *line == '#')
            continue;
        for (size_t k = 0; k < n; k++)
            if (line[k] <= ' ' || line[k] > '~') {
                rc = nmt_err_set(err, NMT_ERR_INVALID,
                                 "%s:%d: a key may hold printable ASCII characters only, without spaces", path,
                                 line_no);
                goto out;
            }
        if (n < KEY_MIN || n > KEY_MAX) {
            rc = nmt_err_set(err, NMT_ERR_INVALID, "%s:%d: a key is %d to %d characters long (this one: %zu)", path,
                             line_no, KEY_MIN, KEY_MAX, n);
            goto out;
        }
        memcpy(keys->key[keys->n], line, n);
        keys->len[keys->n++] = n;
    }
    if (keys->n == 0)
        rc = nmt_err_set(err, NMT_ERR_INVALID, "%s: no keys (leave api_keys_file empty to serve without keys)", path);
out:
    free(text);
    if (rc) {
        nmt_api_keys_free(keys);
        return rc;
    }
    *out = keys;
    return NMT_OK;
}

int nmt_api_keys_accept(const nmt_api_keys *keys, const char *key, size_t len)
{
    if (!keys || !key || len == 0 || len > KEY_MAX)
        return 0;
    int found = 0;
    for (int i = 0; i < keys->n; i++) {
        /* every byte of every key is looked at, whatever matches */
        unsigned char diff = (unsigned char)(keys->len[i] != len);
        for (size_t k = 0; k < KEY_MAX; k++)
            diff |= (unsigned char)(keys->key[i][k] ^ (k < len ? key[k] : 0));
        found |= diff == 0;
    }
    return found;
}
