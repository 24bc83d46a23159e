/* safetensors.c: mmap + header parse + bounds-checked name -> tensor lookup.
 * Format: 8-byte little-endian header length N, N bytes of JSON
 * {"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__"},
 * then the data block; offsets are relative to the start of the data block. */
#include "safetensors.h"

#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_HEADER_BYTES (100u << 20)

size_t nmt_dtype_size(nmt_dtype dt)
{
    switch (dt) {
    case NMT_DT_F32: return 4;
    case NMT_DT_F16: return 2;
    case NMT_DT_BF16: return 2;
    case NMT_DT_OTHER: return 0;
    }
    return 0;
}

const char *nmt_shape_str(const int64_t *shape, int ndim, char *buf, size_t n)
{
    size_t used = 0;
    used += (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < ndim && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (used < n)
        snprintf(buf + used, n - used, "]");
    return buf;
}

static nmt_dtype parse_dtype(const char *s)
{
    if (strcmp(s, "F32") == 0) return NMT_DT_F32;
    if (strcmp(s, "F16") == 0) return NMT_DT_F16;
    if (strcmp(s, "BF16") == 0) return NMT_DT_BF16;
    return NMT_DT_OTHER;
}

/* Element sizes of dtypes we do not compute with, so their byte ranges can
 * still be checked (a checkpoint may carry e.g. an I64 buffer). */
static size_t other_dtype_size(const char *s)
{
    static const struct { const char *name; size_t size; } table[] = {
        {"F64", 8}, {"I64", 8}, {"U64", 8}, {"I32", 4}, {"U32", 4},
        {"I16", 2}, {"U16", 2}, {"I8", 1}, {"U8", 1}, {"BOOL", 1},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(s, table[i].name) == 0)
            return table[i].size;
    return 0;
}

static int cmp_tensor(const void *a, const void *b)
{
    return strcmp(((const nmt_st_tensor *)a)->name, ((const nmt_st_tensor *)b)->name);
}

static nmt_code parse_entry(const cJSON *item, nmt_st_tensor *t, const unsigned char *data,
                            uint64_t data_size, nmt_err *err)
{
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    if (!cJSON_IsObject(item) || !cJSON_IsString(dtype) || !cJSON_IsArray(shape) || !cJSON_IsArray(offs))
        return nmt_err_set(err, NMT_ERR_FORMAT,
                           "tensor '%s': header entry needs \"dtype\", \"shape\" and \"data_offsets\"", t->name);
    snprintf(t->dtype_name, sizeof t->dtype_name, "%s", dtype->valuestring);
    t->dtype = parse_dtype(dtype->valuestring);
    size_t esize = t->dtype == NMT_DT_OTHER ? other_dtype_size(dtype->valuestring) : nmt_dtype_size(t->dtype);
    if (esize == 0)
        return nmt_err_set(err, NMT_ERR_FORMAT, "tensor '%s': unknown dtype '%s'", t->name, t->dtype_name);
    int ndim = cJSON_GetArraySize(shape);
    if (ndim > NMT_ST_MAX_DIMS)
        return nmt_err_set(err, NMT_ERR_FORMAT, "tensor '%s': %d dimensions (at most %d)", t->name, ndim,
                           NMT_ST_MAX_DIMS);
    t->ndim = ndim;
    uint64_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        const cJSON *d = cJSON_GetArrayItem(shape, i);
        if (!cJSON_IsNumber(d) || d->valuedouble < 0 || d->valuedouble > 1e12 ||
            d->valuedouble != (double)(int64_t)d->valuedouble)
            return nmt_err_set(err, NMT_ERR_FORMAT, "tensor '%s': shape entry %d is not a non-negative integer",
                               t->name, i);
        t->shape[i] = (int64_t)d->valuedouble;
        numel *= (uint64_t)t->shape[i];
        if (numel > (1ull << 40))
            return nmt_err_set(err, NMT_ERR_FORMAT, "tensor '%s': shape too large", t->name);
    }
    t->numel = (int64_t)numel;
    if (cJSON_GetArraySize(offs) != 2)
        return nmt_err_set(err, NMT_ERR_FORMAT, "tensor '%s': data_offsets must be [begin, end]", t->name);
    double b = cJSON_GetArrayItem(offs, 0)->valuedouble, e = cJSON_GetArrayItem(offs, 1)->valuedouble;
    if (!cJSON_IsNumber(cJSON_GetArrayItem(offs, 0)) || !cJSON_IsNumber(cJSON_GetArrayItem(offs, 1)) || b < 0 ||
        e < b || b != (double)(uint64_t)b || e != (double)(uint64_t)e)
        return nmt_err_set(err, NMT_ERR_FORMAT, "tensor '%s': data_offsets are not 0 <= begin <= end", t->name);
    uint64_t begin = (uint64_t)b, end = (uint64_t)e;
    if (end > data_size)
        return nmt_err_set(err, NMT_ERR_FORMAT,
                           "tensor '%s': data_offsets [%llu, %llu] beyond the end of the data (%llu bytes; "
                           "file truncated?)",
                           t->name, (unsigned long long)begin, (unsigned long long)end,
                           (unsigned long long)data_size);
    if (end - begin != numel * esize)
        return nmt_err_set(err, NMT_ERR_FORMAT,
                           "tensor '%s': %llu bytes in data_offsets, but dtype %s and shape need %llu", t->name,
                           (unsigned long long)(end - begin), t->dtype_name, (unsigned long long)(numel * esize));
    t->data = data + begin;
    t->nbytes = (size_t)(end - begin);
    return NMT_OK;
}

static nmt_code parse_header(nmt_safetensors *st, const char *json, size_t len, const unsigned char *data,
                             uint64_t data_size, nmt_err *err)
{
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (!root) {
        size_t at = end ? (size_t)(end - json) : 0;
        return nmt_err_set(err, NMT_ERR_FORMAT, "header is not valid JSON (near byte %zu of %zu)", at, len);
    }
    nmt_code rc = NMT_OK;
    if (!cJSON_IsObject(root)) {
        rc = nmt_err_set(err, NMT_ERR_FORMAT, "header is not a JSON object");
        goto out;
    }
    int n = 0;
    for (const cJSON *it = root->child; it; it = it->next)
        if (strcmp(it->string, "__metadata__") != 0)
            n++;
    st->tensors = calloc((size_t)(n ? n : 1), sizeof *st->tensors);
    if (!st->tensors) {
        rc = nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (const cJSON *it = root->child; it; it = it->next) {
        if (strcmp(it->string, "__metadata__") == 0)
            continue;
        nmt_st_tensor *t = &st->tensors[st->n_tensors++];
        t->name = strdup(it->string);
        if (!t->name) {
            rc = nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
            goto out;
        }
        rc = parse_entry(it, t, data, data_size, err);
        if (rc)
            goto out;
    }
    qsort(st->tensors, (size_t)st->n_tensors, sizeof *st->tensors, cmp_tensor);
    for (int i = 1; i < st->n_tensors; i++)
        if (strcmp(st->tensors[i - 1].name, st->tensors[i].name) == 0) {
            rc = nmt_err_set(err, NMT_ERR_FORMAT, "tensor '%s' appears twice in the header", st->tensors[i].name);
            goto out;
        }
out:
    cJSON_Delete(root);
    return rc;
}

nmt_code nmt_st_open(nmt_safetensors *st, const char *path, nmt_err *err)
{
    memset(st, 0, sizeof *st);
    st->fd = -1;
    nmt_code rc;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return nmt_err_set(err, NMT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return nmt_err_set(err, NMT_ERR_IO, "%s: not a regular file", path);
    }
    st->path = strdup(path);
    if ((size_t)sb.st_size < 8) {
        close(fd);
        fd = -1;
        rc = nmt_err_set(err, NMT_ERR_FORMAT, "%s: file is %lld bytes, too short for a safetensors header", path,
                         (long long)sb.st_size);
        goto fail;
    }
    st->map_size = (size_t)sb.st_size;
    st->map = mmap(NULL, st->map_size, PROT_READ, MAP_PRIVATE, fd, 0);
    st->fd = fd;
    if (st->map == MAP_FAILED) {
        st->map = NULL;
        rc = nmt_err_set(err, NMT_ERR_IO, "%s: mmap failed: %s", path, strerror(errno));
        goto fail;
    }
    const unsigned char *bytes = st->map;
    uint64_t header_len = 0;
    for (int i = 7; i >= 0; i--)
        header_len = (header_len << 8) | bytes[i];
    if (header_len == 0 || header_len > MAX_HEADER_BYTES || header_len > st->map_size - 8) {
        rc = nmt_err_set(err, NMT_ERR_FORMAT,
                         "%s: header length %llu is impossible for a %zu-byte file (truncated or not safetensors)",
                         path, (unsigned long long)header_len, st->map_size);
        goto fail;
    }
    rc = parse_header(st, (const char *)bytes + 8, (size_t)header_len, bytes + 8 + header_len,
                      st->map_size - 8 - header_len, err);
    if (rc) {
        nmt_err_prefix(err, path);
        goto fail;
    }
    return NMT_OK;
fail:
    nmt_st_close(st);
    return rc;
}

int nmt_st_pread(const nmt_safetensors *st, const void *data, void *dst, size_t bytes)
{
    const char *p = data, *map = st->map;
    if (st->fd < 0 || !map || p < map || p + bytes > map + st->map_size)
        return -1;
    off_t off = (off_t)(p - map);
    size_t done = 0;
    while (done < bytes) {
        ssize_t n = pread(st->fd, (char *)dst + done, bytes - done, off + (off_t)done);
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            return -1;
        }
        done += (size_t)n;
    }
    return 0;
}

const nmt_st_tensor *nmt_st_find(const nmt_safetensors *st, const char *name)
{
    nmt_st_tensor key = {.name = (char *)name};
    if (!st->tensors)
        return NULL;
    return bsearch(&key, st->tensors, (size_t)st->n_tensors, sizeof key, cmp_tensor);
}

void nmt_st_close(nmt_safetensors *st)
{
    if (!st)
        return;
    for (int i = 0; i < st->n_tensors; i++)
        free(st->tensors[i].name);
    free(st->tensors);
    if (st->map)
        munmap(st->map, st->map_size);
    if (st->path && st->fd >= 0) /* a zeroed, never-opened struct has fd 0: not ours */
        close(st->fd);
    free(st->path);
    memset(st, 0, sizeof *st);
    st->fd = -1;
}
