/* workspace.c: one allocation pass for a worker's scratch memory. */
#include "workspace.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

static void *reserve(nmt_workspace *ws, size_t count, size_t size, int *failed)
{
    if (count == 0)
        count = 1;
    void *p = malloc(count * size); /* large blocks are mmap'd lazily by malloc */
    if (!p)
        *failed = 1;
    ws->bytes += count * size;
    return p;
}

nmt_code nmt_workspace_init(nmt_workspace *ws, const nmt_model *model, int max_batch, int max_tokens, int max_steps,
                            nmt_err *err)
{
    memset(ws, 0, sizeof *ws);
    const nmt_hparams *hp = &model->hp;
    if (max_batch < 1 || max_tokens < 1 || max_steps < 1)
        return nmt_err_set(err, NMT_ERR_INVALID, "workspace caps must be positive");
    if (max_steps > hp->max_pos)
        max_steps = hp->max_pos;
    if (max_tokens < max_batch)
        max_tokens = max_batch; /* every sentence has at least </s> */
    ws->max_batch = max_batch;
    ws->max_tokens = max_tokens;
    ws->max_steps = max_steps;
    size_t d = (size_t)hp->d_model, T = (size_t)max_tokens, B = (size_t)max_batch;
    size_t ffn = (size_t)(hp->enc_ffn > hp->dec_ffn ? hp->enc_ffn : hp->dec_ffn);
    size_t keys = (size_t)(hp->max_pos > max_steps ? hp->max_pos : max_steps);
    size_t L = (size_t)hp->dec_layers;
    int failed = 0;
    ws->x = reserve(ws, T * d, sizeof(float), &failed);
    ws->q = reserve(ws, T * d, sizeof(float), &failed);
    ws->k = reserve(ws, T * d, sizeof(float), &failed);
    ws->v = reserve(ws, T * d, sizeof(float), &failed);
    ws->ctx = reserve(ws, T * d, sizeof(float), &failed);
    ws->tmp = reserve(ws, T * d, sizeof(float), &failed);
    ws->ffn = reserve(ws, T * ffn, sizeof(float), &failed);
    ws->scores = reserve(ws, keys, sizeof(float), &failed);
    ws->k_rows = reserve(ws, T, sizeof(float *), &failed);
    ws->v_rows = reserve(ws, T, sizeof(float *), &failed);
    ws->n_keys = reserve(ws, T, sizeof(int), &failed);
    ws->src_ids = reserve(ws, T, sizeof(int), &failed);
    ws->src_off = reserve(ws, B, sizeof(int), &failed);
    ws->src_len = reserve(ws, B, sizeof(int), &failed);
    ws->cross_k = reserve(ws, L * T * d, sizeof(float), &failed);
    ws->cross_v = reserve(ws, L * T * d, sizeof(float), &failed);
    ws->self_k = reserve(ws, L * B * (size_t)max_steps * d, sizeof(float), &failed);
    ws->self_v = reserve(ws, L * B * (size_t)max_steps * d, sizeof(float), &failed);
    ws->logits = reserve(ws, B * (size_t)hp->vocab_size, sizeof(float), &failed);
    ws->live = reserve(ws, B, sizeof(int), &failed);
    ws->tokens = reserve(ws, B, sizeof(int), &failed);
    ws->next = reserve(ws, B, sizeof(int), &failed);
    ws->xq = reserve(ws, B * (d + 3), 1, &failed);
    ws->cand = reserve(ws, (size_t)hp->vocab_size, sizeof(int), &failed);
    ws->bounds = reserve(ws, (size_t)hp->vocab_size, sizeof(float), &failed);
    ws->rows = reserve(ws, 16 * d, sizeof(float), &failed);
    if (failed) {
        size_t bytes = ws->bytes;
        nmt_workspace_free(ws);
        return nmt_err_set(err, NMT_ERR_NOMEM, "cannot reserve a %.1f MB workspace", (double)bytes / 1e6);
    }
    nmt_debug("workspace", "reserved %.1f MB for batches of %d sentences / %d tokens, %d steps",
              (double)ws->bytes / 1e6, max_batch, max_tokens, max_steps);
    return NMT_OK;
}

void nmt_workspace_free(nmt_workspace *ws)
{
    if (!ws)
        return;
    void *blocks[] = {ws->x,       ws->q,       ws->k,      ws->v,       ws->ctx,     ws->tmp,
                      ws->ffn,     ws->scores,  (void *)ws->k_rows, (void *)ws->v_rows, ws->n_keys, ws->src_ids,
                      ws->src_off, ws->src_len, ws->cross_k, ws->cross_v, ws->self_k, ws->self_v,
                      ws->logits,  ws->live,    ws->tokens, ws->next, ws->xq, ws->cand, ws->bounds, ws->rows};
    for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++)
        free(blocks[i]);
    memset(ws, 0, sizeof *ws);
}
