/* safetensors.h: read-only access to a .safetensors file.  The file is
 * memory-mapped once; the JSON header is parsed and every tensor's dtype,
 * shape and byte range is checked against the file before anything uses it
 * (the ranges must tile the data block, as the format requires).
 * After nmt_st_open succeeds the struct is immutable and may be read from any
 * thread. */
#ifndef NMT_SAFETENSORS_H
#define NMT_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define NMT_ST_MAX_DIMS 8

typedef enum nmt_dtype { NMT_DT_F32, NMT_DT_F16, NMT_DT_BF16, NMT_DT_OTHER } nmt_dtype;

typedef struct nmt_st_tensor {
    char *name;
    char dtype_name[16];        /* as written in the header, e.g. "F16" */
    nmt_dtype dtype;
    int ndim;
    int64_t shape[NMT_ST_MAX_DIMS];
    int64_t numel;
    const unsigned char *data;  /* into the mapping; nbytes long */
    size_t nbytes;
} nmt_st_tensor;

typedef struct nmt_safetensors {
    char *path;
    int fd;                     /* kept open for pread of single rows; -1 when closed */
    void *map;
    size_t map_size;
    nmt_st_tensor *tensors;     /* sorted by name */
    int n_tensors;
} nmt_safetensors;

/* Maps and validates path.  On failure st is left closed (safe to close
 * again) and err names the file and the problem. */
nmt_code nmt_st_open(nmt_safetensors *st, const char *path, nmt_err *err);

/* Validates a whole safetensors file image held in memory (size bytes at
 * bytes) exactly as nmt_st_open validates a file, and binds the tensors into
 * that memory, which the caller keeps alive and unchanged until
 * nmt_st_close.  name stands for the file in messages.  st then owns no
 * mapping and no descriptor (nmt_st_pread fails on it).  Used by the fuzz
 * target; thread-safe. */
nmt_code nmt_st_open_buffer(nmt_safetensors *st, const void *bytes, size_t size, const char *name,
                            nmt_err *err);

/* The tensor called name, or NULL. */
const nmt_st_tensor *nmt_st_find(const nmt_safetensors *st, const char *name);

/* Copies bytes at data (a pointer into the mapping) with pread, so that the
 * pages are not mapped into the process: for reading a few rows of a large
 * matrix without growing resident memory.  Returns 0 on success. */
int nmt_st_pread(const nmt_safetensors *st, const void *data, void *dst, size_t bytes);

/* Unmaps and frees; accepts a zeroed or already-closed struct. */
void nmt_st_close(nmt_safetensors *st);

/* Size in bytes of one element, 0 for NMT_DT_OTHER. */
size_t nmt_dtype_size(nmt_dtype dt);

/* "[a, b, c]" into buf. */
const char *nmt_shape_str(const int64_t *shape, int ndim, char *buf, size_t n);

#endif
