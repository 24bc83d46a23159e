/* util.c: whole-file reads, path joins and a JSON NUL scan for the loaders;
 * the monotonic clock. */
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

nmt_code nmt_read_file(const char *path, size_t max_bytes, char **out, size_t *len, nmt_err *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return nmt_err_set(err, NMT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return nmt_err_set(err, NMT_ERR_IO, "%s: not a regular file", path);
    }
    if ((size_t)sb.st_size > max_bytes) {
        fclose(f);
        return nmt_err_set(err, NMT_ERR_FORMAT, "%s: %lld bytes, more than the %zu this file may have", path,
                           (long long)sb.st_size, max_bytes);
    }
    char *buf = malloc((size_t)sb.st_size + 1);
    if (!buf) {
        fclose(f);
        return nmt_err_set(err, NMT_ERR_NOMEM, "%s: out of memory", path);
    }
    size_t got = fread(buf, 1, (size_t)sb.st_size, f);
    int failed = ferror(f);
    fclose(f);
    if (failed || got != (size_t)sb.st_size) {
        free(buf);
        return nmt_err_set(err, NMT_ERR_IO, "%s: read error", path);
    }
    buf[got] = '\0';
    *out = buf;
    if (len)
        *len = got;
    return NMT_OK;
}

char *nmt_path_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p)
        return NULL;
    memcpy(p, dir, a);
    size_t at = a;
    if (a && dir[a - 1] != '/')
        p[at++] = '/';
    memcpy(p + at, name, b + 1);
    return p;
}

int nmt_file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

size_t nmt_json_nul_at(const char *text, size_t len)
{
    int in_string = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = text[i];
        if (ch == '\0')
            return i;
        if (!in_string) {
            in_string = ch == '"';
        } else if (ch == '"') {
            in_string = 0;
        } else if (ch == '\\' && i + 1 < len) {
            if (text[i + 1] == 'u' && len - i >= 6 && memcmp(text + i + 2, "0000", 4) == 0)
                return i;
            i++; /* the escaped character cannot end the string */
        }
    }
    return len;
}

double nmt_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int nmt_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *nmt_path_basename(const char *path)
{
    size_t end = strlen(path);
    while (end > 1 && path[end - 1] == '/')
        end--;
    size_t begin = end;
    while (begin > 0 && path[begin - 1] != '/')
        begin--;
    return strndup(path + begin, end - begin);
}

void *nmt_malloc_aligned(size_t count, size_t size)
{
    void *p = NULL;
    if (size && count > (size_t)-1 / size)
        return NULL;
    size_t bytes = count * size;
    if (posix_memalign(&p, NMT_CACHE_LINE, bytes ? bytes : 1))
        return NULL;
    return p;
}

void *nmt_calloc_aligned(size_t count, size_t size)
{
    void *p = nmt_malloc_aligned(count, size);
    if (p)
        memset(p, 0, count * size);
    return p;
}
