/* activations.h: the hidden states of one forward pass and the scratch of
 * its sub-layers, for one worker.  Rows are source tokens in the encoder and
 * live sentences in the decoder.  Reserved once from the model's dimensions
 * and a row cap, reused for every batch (large blocks are touched only as
 * far as a batch needs: untouched capacity costs address space, not
 * memory).  Nothing here outlives a call: what must persist between decoder
 * steps is in nmt_decoder_state. */
#ifndef NMT_ACTIVATIONS_H
#define NMT_ACTIVATIONS_H

#include <stddef.h>

#include "err.h"
#include "hparams.h"

typedef struct nmt_activations {
    int max_rows;
    float *x;          /* [max_rows][d_model] hidden state: the input and output of each block */
    float *q, *k, *v;  /* [max_rows][d_model] projections */
    float *attn;       /* [max_rows][d_model] attention output, before W_o */
    float *tmp;        /* [max_rows][d_model] sub-layer output, before the residual */
    float *ffn;        /* [max_rows][max(encoder, decoder) ffn_dim] */
    float *scores;     /* [heads][max(max_pos, max_keys)] one query's attention weights */
    const void **k_rows, **v_rows; /* [max_rows] first key / value row each query sees */
    int kv_bf16;                   /* those rows hold bfloat16 (uint16_t), else float */
    int *n_keys;       /* [max_rows] keys each query sees */
    size_t bytes;
} nmt_activations;

/* Reserves activations for max_rows rows attending over at most max_keys
 * keys (the model's max_pos is always allowed). */
nmt_code nmt_activations_init(nmt_activations *a, const nmt_hparams *hp, int max_rows, int max_keys, nmt_err *err);
void nmt_activations_free(nmt_activations *a);

#endif
