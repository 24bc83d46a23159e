/* activations.c: one allocation pass for a worker's activations. */
#include "activations.h"

#include <stdlib.h>
#include <string.h>

static void *reserve(size_t *bytes, size_t count, size_t size, int *failed)
{
    if (count == 0)
        count = 1;
    void *p = malloc(count * size); /* large blocks are mmap'd lazily by malloc */
    if (!p)
        *failed = 1;
    *bytes += count * size;
    return p;
}

nmt_code nmt_activations_init(nmt_activations *a, const nmt_hparams *hp, int max_rows, int max_keys, nmt_err *err)
{
    memset(a, 0, sizeof *a);
    if (max_rows < 1)
        return nmt_err_set(err, NMT_ERR_INVALID, "activations need at least one row");
    a->max_rows = max_rows;
    size_t d = (size_t)hp->d_model, R = (size_t)max_rows;
    size_t ffn = (size_t)(hp->enc_ffn > hp->dec_ffn ? hp->enc_ffn : hp->dec_ffn);
    size_t keys = (size_t)(hp->max_pos > max_keys ? hp->max_pos : max_keys);
    size_t heads = (size_t)(hp->enc_heads > hp->dec_heads ? hp->enc_heads : hp->dec_heads);
    int failed = 0;
    a->x = reserve(&a->bytes, R * d, sizeof(float), &failed);
    a->q = reserve(&a->bytes, R * d, sizeof(float), &failed);
    a->k = reserve(&a->bytes, R * d, sizeof(float), &failed);
    a->v = reserve(&a->bytes, R * d, sizeof(float), &failed);
    a->attn = reserve(&a->bytes, R * d, sizeof(float), &failed);
    a->tmp = reserve(&a->bytes, R * d, sizeof(float), &failed);
    a->ffn = reserve(&a->bytes, R * ffn, sizeof(float), &failed);
    a->scores = reserve(&a->bytes, heads * keys, sizeof(float), &failed);
    a->k_rows = reserve(&a->bytes, R, sizeof(void *), &failed);
    a->v_rows = reserve(&a->bytes, R, sizeof(void *), &failed);
    a->n_keys = reserve(&a->bytes, R, sizeof(int), &failed);
    if (failed) {
        size_t bytes = a->bytes;
        nmt_activations_free(a);
        return nmt_err_set(err, NMT_ERR_NOMEM, "cannot reserve %.1f MB of activations", (double)bytes / 1e6);
    }
    return NMT_OK;
}

void nmt_activations_free(nmt_activations *a)
{
    if (!a)
        return;
    void *blocks[] = {a->x,   a->q,      a->k,      a->v, a->attn, a->tmp, a->ffn, a->scores, (void *)a->k_rows,
                      (void *)a->v_rows, a->n_keys};
    for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++)
        free(blocks[i]);
    memset(a, 0, sizeof *a);
}
