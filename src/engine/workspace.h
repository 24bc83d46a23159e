/* workspace.h: the mutable memory of one decoding worker: activations,
 * attention scratch, the decoder's self-attention KV cache and the
 * cross-attention K/V of the current batch, logits.  Sized once from the
 * model and the batch caps, allocated once, reused for every batch; the
 * encoder, decoder and search loop never allocate.  Large buffers are only
 * touched as far as a batch needs, so untouched capacity costs address space,
 * not memory.  A workspace belongs to one thread at a time. */
#ifndef NMT_WORKSPACE_H
#define NMT_WORKSPACE_H

#include <stddef.h>

#include "err.h"
#include "model.h"

typedef struct nmt_workspace {
    int max_batch;      /* sentences per batch */
    int max_tokens;     /* source tokens per batch (packed, no padding) */
    int max_steps;      /* target tokens per sentence (<= max_position_embeddings) */
    /* activations; rows are source tokens (encoder) or live sentences (decoder) */
    float *x;           /* [max_tokens][d_model] hidden state */
    float *q, *k, *v;   /* [max_tokens][d_model] projections */
    float *ctx;         /* [max_tokens][d_model] attention output */
    float *tmp;         /* [max_tokens][d_model] sub-layer output */
    float *ffn;         /* [max_tokens][max ffn] */
    float *scores;      /* [max(max_pos, max_steps)] one head's attention weights */
    const float **k_rows, **v_rows; /* [max_tokens] first key/value row seen by each query */
    int *n_keys;        /* [max_tokens] keys seen by each query */
    /* per batch */
    int *src_ids;       /* [max_tokens] packed source ids */
    int *src_off, *src_len; /* [max_batch] */
    float *cross_k, *cross_v; /* [dec_layers][max_tokens][d_model] */
    float *self_k, *self_v;   /* [dec_layers][max_batch][max_steps][d_model] */
    float *logits;      /* [max_batch][vocab] */
    int *live;          /* [max_batch] batch rows still decoding */
    int *tokens;        /* [max_batch] last token of each live row */
    int *next;          /* [max_batch] token chosen for each live row */
    unsigned char *xq;  /* [max_batch][d_model + 3] quantized rows for the output screen */
    int *cand;          /* [vocab] candidate tokens of one row */
    float *bounds;      /* [vocab] error bounds of one row (output screen) */
    float *rows;        /* [16][d_model] candidate rows (output screen) */
    size_t bytes;       /* total reserved */
} nmt_workspace;

/* Reserves a workspace for batches of at most max_batch sentences and
 * max_tokens source tokens, decoding at most max_steps tokens each
 * (capped at the model's max_position_embeddings). */
nmt_code nmt_workspace_init(nmt_workspace *ws, const nmt_model *model, int max_batch, int max_tokens, int max_steps,
                            nmt_err *err);
void nmt_workspace_free(nmt_workspace *ws);

#endif
