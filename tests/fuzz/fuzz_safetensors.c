/* fuzz_safetensors.c: fuzz target for the safetensors reader.  The input is
 * a whole file image (8-byte header length, JSON header, data), validated
 * through nmt_st_open_buffer exactly as nmt_st_open validates a mapped file.
 * On success it checks what the reader promises: every tensor lies inside
 * the data block, its byte count matches dtype and shape, it is found by
 * name, and the tensors together cover the data block exactly. */
#include <string.h>

#include "fuzz.h"
#include "safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nmt_safetensors st;
    nmt_err err = {0, ""};
    if (nmt_st_open_buffer(&st, data, size, "fuzz.safetensors", &err) != NMT_OK) {
        FUZZ_CHECK(strncmp(err.msg, "fuzz.safetensors: ", 18) == 0, "message does not name the file: %s", err.msg);
        FUZZ_CHECK(st.tensors == NULL && st.n_tensors == 0, "a failed open left tensors behind");
        nmt_st_close(&st);
        return 0;
    }
    FUZZ_CHECK(size >= 8, "accepted %zu bytes", size);
    uint64_t header_len = 0;
    for (int i = 7; i >= 0; i--)
        header_len = (header_len << 8) | data[i];
    FUZZ_CHECK(header_len <= size - 8, "header length %llu", (unsigned long long)header_len);
    const uint8_t *block = data + 8 + header_len, *block_end = data + size;
    uint64_t covered = 0;
    for (int i = 0; i < st.n_tensors; i++) {
        const nmt_st_tensor *t = &st.tensors[i];
        FUZZ_CHECK(t->data >= block && t->nbytes <= (size_t)(block_end - t->data), "tensor '%s' outside the data",
                   t->name);
        FUZZ_CHECK(t->ndim >= 0 && t->ndim <= NMT_ST_MAX_DIMS, "tensor '%s': %d dims", t->name, t->ndim);
        uint64_t numel = 1; /* as Hugging Face's loader counts: no step may overflow */
        for (int d = 0; d < t->ndim; d++) {
            FUZZ_CHECK(t->shape[d] >= 0, "tensor '%s': negative dim", t->name);
            FUZZ_CHECK(!__builtin_mul_overflow(numel, (uint64_t)t->shape[d], &numel),
                       "tensor '%s': accepted a shape whose element count overflows", t->name);
        }
        FUZZ_CHECK(t->numel >= 0 && (uint64_t)t->numel == numel, "tensor '%s': numel %lld, shape says %llu",
                   t->name, (long long)t->numel, (unsigned long long)numel);
        if (t->dtype != NMT_DT_OTHER)
            FUZZ_CHECK((uint64_t)t->numel * nmt_dtype_size(t->dtype) == t->nbytes, "tensor '%s': %zu bytes",
                       t->name, t->nbytes);
        FUZZ_CHECK(nmt_st_find(&st, t->name) == t, "tensor '%s' not found by name", t->name);
        if (t->nbytes) { /* touch both ends: ASan would see a range outside the input */
            volatile uint8_t ends = (uint8_t)(t->data[0] ^ t->data[t->nbytes - 1]);
            (void)ends;
        }
        covered += t->nbytes;
    }
    FUZZ_CHECK(covered == (uint64_t)(block_end - block), "tensors cover %llu of %llu data bytes",
               (unsigned long long)covered, (unsigned long long)(block_end - block));
    nmt_st_close(&st);
    return 0;
}
