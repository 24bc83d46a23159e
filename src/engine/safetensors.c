/* safetensors.c: mmap + header parse + bounds-checked name -> tensor lookup.
 * Format: 8-byte little-endian header length N, N bytes of JSON
 * {"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__"}
 * (padded with spaces), then the data block; offsets are relative to the
 * start of the data block.
 *
 * Everything in the file is untrusted.  Every JSON number is checked as a
 * double (an integer in [0, 2^53]) before it is converted; element counts
 * and byte sizes are multiplied with overflow checks; each tensor's byte
 * count must match its dtype and shape; and the ranges of all tensors,
 * sorted by offset, must tile the data block with no gap, overlap or tail,
 * as the format requires.  Only then does anything point into the data. */
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

#include "util.h"

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

/* 2^53: every integer up to here is exact in a double, and no file is
 * larger, so a JSON number past it cannot be an offset, a size or a count. */
#define MAX_EXACT_INT 9007199254740992.0

/* Tensor names in messages are cut here, so that two of them and the path
 * still fit one message. */
#define NAME "%.120s"

/* A JSON number that must be an integer in [0, 2^53].  The double is checked
 * before it is converted: converting a huge, infinite or fractional double
 * to an integer type is undefined or lossy.  Returns 1 and sets *out, or 0. */
static int json_index(const cJSON *it, uint64_t *out)
{
    if (!cJSON_IsNumber(it))
        return 0;
    double v = it->valuedouble;
    if (!(v >= 0 && v <= MAX_EXACT_INT) || v != (double)(uint64_t)v)
        return 0;
    *out = (uint64_t)v;
    return 1;
}

/* Reads one header entry into t: dtype, shape (element count and byte size
 * with checked multiplication) and data_offsets (integers inside the data
 * block whose length matches dtype and shape).  Whether the ranges of all
 * tensors tile the data block is check_ranges' job. */
static nmt_code parse_entry(const cJSON *item, nmt_st_tensor *t, const unsigned char *data,
                            uint64_t data_size, nmt_err *err)
{
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    if (!cJSON_IsObject(item) || !cJSON_IsString(dtype) || !cJSON_IsArray(shape) || !cJSON_IsArray(offs))
        return nmt_err_set(err, NMT_ERR_FORMAT,
                           "tensor '" NAME "': header entry needs \"dtype\", \"shape\" and \"data_offsets\"",
                           t->name);
    snprintf(t->dtype_name, sizeof t->dtype_name, "%s", dtype->valuestring);
    t->dtype = parse_dtype(dtype->valuestring);
    size_t esize = t->dtype == NMT_DT_OTHER ? other_dtype_size(dtype->valuestring) : nmt_dtype_size(t->dtype);
    if (esize == 0)
        return nmt_err_set(err, NMT_ERR_FORMAT, "tensor '" NAME "': unknown dtype '%s'", t->name, t->dtype_name);
    int ndim = cJSON_GetArraySize(shape);
    if (ndim > NMT_ST_MAX_DIMS)
        return nmt_err_set(err, NMT_ERR_FORMAT, "tensor '" NAME "': %d dimensions (at most %d)", t->name, ndim,
                           NMT_ST_MAX_DIMS);
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) {
        uint64_t dim;
        if (!json_index(cJSON_GetArrayItem(shape, i), &dim))
            return nmt_err_set(err, NMT_ERR_FORMAT,
                               "tensor '" NAME "': shape entry %d is not a non-negative integer (at most 2^53)",
                               t->name, i);
        t->shape[i] = (int64_t)dim;
    }
    char shape_buf[NMT_ST_MAX_DIMS * 21 + 4];
    uint64_t numel = 1, nbytes;
    for (int i = 0; i < ndim; i++)
        if (__builtin_mul_overflow(numel, (uint64_t)t->shape[i], &numel))
            return nmt_err_set(err, NMT_ERR_FORMAT, "tensor '" NAME "': shape %s has 2^64 elements or more",
                               t->name, nmt_shape_str(t->shape, ndim, shape_buf, sizeof shape_buf));
    if (__builtin_mul_overflow(numel, (uint64_t)esize, &nbytes))
        return nmt_err_set(err, NMT_ERR_FORMAT, "tensor '" NAME "': shape %s of %s is 2^64 bytes or more",
                           t->name, nmt_shape_str(t->shape, ndim, shape_buf, sizeof shape_buf), t->dtype_name);
    if (cJSON_GetArraySize(offs) != 2)
        return nmt_err_set(err, NMT_ERR_FORMAT, "tensor '" NAME "': data_offsets must be [begin, end]", t->name);
    uint64_t begin, end;
    if (!json_index(cJSON_GetArrayItem(offs, 0), &begin) || !json_index(cJSON_GetArrayItem(offs, 1), &end))
        return nmt_err_set(err, NMT_ERR_FORMAT,
                           "tensor '" NAME "': data_offsets must be two integers in [0, 2^53] (begin <= end)",
                           t->name);
    if (end < begin)
        return nmt_err_set(err, NMT_ERR_FORMAT, "tensor '" NAME "': data_offsets [%llu, %llu] are not begin <= end",
                           t->name, (unsigned long long)begin, (unsigned long long)end);
    if (end > data_size)
        return nmt_err_set(err, NMT_ERR_FORMAT,
                           "tensor '" NAME "': data_offsets [%llu, %llu] beyond the end of the data (%llu bytes; "
                           "file truncated?)",
                           t->name, (unsigned long long)begin, (unsigned long long)end,
                           (unsigned long long)data_size);
    if (end - begin != nbytes)
        return nmt_err_set(err, NMT_ERR_FORMAT,
                           "tensor '" NAME "': %llu bytes in data_offsets, but dtype %s and shape %s need %llu",
                           t->name, (unsigned long long)(end - begin), t->dtype_name,
                           nmt_shape_str(t->shape, ndim, shape_buf, sizeof shape_buf), (unsigned long long)nbytes);
    t->numel = (int64_t)numel; /* <= nbytes <= data_size */
    t->data = data + begin;
    t->nbytes = (size_t)nbytes;
    return NMT_OK;
}

static int cmp_range(const void *a, const void *b)
{
    const nmt_st_tensor *x = *(const nmt_st_tensor *const *)a, *y = *(const nmt_st_tensor *const *)b;
    if (x->data != y->data)
        return x->data < y->data ? -1 : 1;
    return (x->nbytes > y->nbytes) - (x->nbytes < y->nbytes);
}

/* The format requires the tensors' byte ranges, sorted by offset, to tile
 * the data block exactly: the first begins at 0, each begins where the one
 * before it ends, the last ends at the end of the file (Hugging Face's
 * loader refuses anything else).  An overlap would let two tensors alias the
 * same bytes; a gap or a tail hides bytes that no tensor explains. */
static nmt_code check_ranges(const nmt_safetensors *st, const unsigned char *data, uint64_t data_size,
                             nmt_err *err)
{
    const nmt_st_tensor **order = malloc((size_t)(st->n_tensors ? st->n_tensors : 1) * sizeof *order);
    if (!order)
        return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
    for (int i = 0; i < st->n_tensors; i++)
        order[i] = &st->tensors[i];
    qsort(order, (size_t)st->n_tensors, sizeof *order, cmp_range);
    nmt_code rc = NMT_OK;
    uint64_t at = 0; /* where the next tensor must begin */
    const nmt_st_tensor *prev = NULL;
    for (int i = 0; i < st->n_tensors && rc == NMT_OK; i++) {
        const nmt_st_tensor *t = order[i];
        uint64_t begin = (uint64_t)(t->data - data), end = begin + t->nbytes;
        if (begin < at)
            rc = nmt_err_set(err, NMT_ERR_FORMAT,
                             "tensor '" NAME "': data_offsets [%llu, %llu] overlap tensor '" NAME "' [%llu, %llu] "
                             "(expected begin %llu, got %llu)",
                             t->name, (unsigned long long)begin, (unsigned long long)end, prev->name,
                             (unsigned long long)(prev->data - data),
                             (unsigned long long)(prev->data - data + (ptrdiff_t)prev->nbytes),
                             (unsigned long long)at, (unsigned long long)begin);
        else if (begin > at)
            rc = nmt_err_set(err, NMT_ERR_FORMAT,
                             "tensor '" NAME "': data_offsets [%llu, %llu] leave bytes [%llu, %llu) of the data "
                             "to no tensor (expected begin %llu, got %llu)",
                             t->name, (unsigned long long)begin, (unsigned long long)end, (unsigned long long)at,
                             (unsigned long long)begin, (unsigned long long)at, (unsigned long long)begin);
        at = end;
        prev = t;
    }
    if (rc == NMT_OK && at != data_size)
        rc = nmt_err_set(err, NMT_ERR_FORMAT,
                         "the tensors end at byte %llu of the data%s" NAME "%s, but the data is %llu bytes "
                         "(expected end %llu, got %llu: %llu bytes belong to no tensor)",
                         (unsigned long long)at, prev ? " (tensor '" : "", prev ? prev->name : "", prev ? "')" : "",
                         (unsigned long long)data_size, (unsigned long long)data_size, (unsigned long long)at,
                         (unsigned long long)(data_size - at));
    free(order);
    return rc;
}

static nmt_code parse_header(nmt_safetensors *st, const char *json, size_t len, const unsigned char *data,
                             uint64_t data_size, nmt_err *err)
{
    if (json[0] != '{')
        return nmt_err_set(err, NMT_ERR_FORMAT, "header is not a JSON object (it starts with byte 0x%02x, not '{')",
                           (unsigned char)json[0]);
    size_t nul = nmt_json_nul_at(json, len);
    if (nul < len)
        return nmt_err_set(err, NMT_ERR_FORMAT,
                           "header has a NUL (a 0 byte or \\u0000) at byte %zu of %zu: names cannot contain one",
                           nul, len);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (!root) {
        size_t at = end ? (size_t)(end - json) : 0;
        return nmt_err_set(err, NMT_ERR_FORMAT, "header is not valid JSON (near byte %zu of %zu)", at, len);
    }
    nmt_code rc = NMT_OK;
    for (const char *p = end; p < json + len; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            rc = nmt_err_set(err, NMT_ERR_FORMAT,
                             "header is not valid JSON: byte %zu of %zu follows the object (only spaces may pad it)",
                             (size_t)(p - json), len);
            goto out;
        }
    if (!cJSON_IsObject(root)) {
        rc = nmt_err_set(err, NMT_ERR_FORMAT, "header is not a JSON object");
        goto out;
    }
    int n = 0;
    for (const cJSON *it = root->child; it; it = it->next) {
        if (strcmp(it->string, "__metadata__") != 0)
            n++;
        else if (!cJSON_IsObject(it)) {
            rc = nmt_err_set(err, NMT_ERR_FORMAT, "header: \"__metadata__\" is not a JSON object");
            goto out;
        }
    }
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
            rc = nmt_err_set(err, NMT_ERR_FORMAT, "tensor '" NAME "' appears twice in the header",
                             st->tensors[i].name);
            goto out;
        }
    rc = check_ranges(st, data, data_size, err);
out:
    cJSON_Delete(root);
    return rc;
}

/* Validates the whole file image (size bytes) and binds st's tensors into
 * it.  Messages do not name the file: the callers prefix it. */
static nmt_code parse_file(nmt_safetensors *st, const unsigned char *bytes, size_t size, nmt_err *err)
{
    if (size < 8)
        return nmt_err_set(err, NMT_ERR_FORMAT, "file is %zu bytes, too short for a safetensors header", size);
    uint64_t header_len = 0;
    for (int i = 7; i >= 0; i--)
        header_len = (header_len << 8) | bytes[i];
    if (header_len == 0 || header_len > MAX_HEADER_BYTES || header_len > size - 8)
        return nmt_err_set(err, NMT_ERR_FORMAT,
                           "header length %llu is impossible for a %zu-byte file (truncated or not safetensors)",
                           (unsigned long long)header_len, size);
    return parse_header(st, (const char *)bytes + 8, (size_t)header_len, bytes + 8 + header_len,
                        size - 8 - header_len, err);
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
    st->fd = fd;
    if ((size_t)sb.st_size < 8) { /* nothing to map (mmap refuses 0 bytes) */
        rc = parse_file(st, NULL, (size_t)sb.st_size, err);
        nmt_err_prefix(err, path);
        goto fail;
    }
    st->map_size = (size_t)sb.st_size;
    st->map = mmap(NULL, st->map_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (st->map == MAP_FAILED) {
        st->map = NULL;
        rc = nmt_err_set(err, NMT_ERR_IO, "%s: mmap failed: %s", path, strerror(errno));
        goto fail;
    }
    rc = parse_file(st, st->map, st->map_size, err);
    if (rc) {
        nmt_err_prefix(err, path);
        goto fail;
    }
    return NMT_OK;
fail:
    nmt_st_close(st);
    return rc;
}

nmt_code nmt_st_open_buffer(nmt_safetensors *st, const void *bytes, size_t size, const char *name, nmt_err *err)
{
    memset(st, 0, sizeof *st);
    st->fd = -1;
    nmt_code rc = parse_file(st, bytes, size, err);
    if (rc) {
        nmt_err_prefix(err, name);
        nmt_st_close(st);
    }
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
