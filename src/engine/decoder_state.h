/* decoder_state.h: what the decoder remembers between steps, per row (a
 * sentence being decoded): the self-attention keys and values of every token
 * it has fed (the KV cache), the cross-attention keys and values of its
 * source sentence, and how many tokens it has fed (its next position).
 * Rows are independent: each has its own source and position, so rows may
 * start and finish at different steps.  Reserved once for max_rows rows;
 * owned by one worker.  The forward pass reads and appends to it; the search
 * loop decides which rows run. */
#ifndef NMT_DECODER_STATE_H
#define NMT_DECODER_STATE_H

#include <stddef.h>

#include "err.h"
#include "hparams.h"

typedef struct nmt_decoder_state {
    int max_rows;       /* rows (sentences) decoded at once */
    int max_src_tokens; /* source tokens of all rows together */
    int max_steps;      /* tokens a row may feed (<= max_position_embeddings) */
    int layers, d;
    float *self_k, *self_v;   /* [layers][max_rows][max_steps][d] */
    float *cross_k, *cross_v; /* [layers][max_src_tokens][d] */
    int *src_off, *src_len;   /* [max_rows] the row's source tokens in cross_k / cross_v */
    int *steps;               /* [max_rows] tokens the row has fed: its next position */
    size_t bytes;
} nmt_decoder_state;

nmt_code nmt_decoder_state_init(nmt_decoder_state *s, const nmt_hparams *hp, int max_rows, int max_src_tokens,
                                int max_steps, nmt_err *err);
void nmt_decoder_state_free(nmt_decoder_state *s);

/* Row `row`'s cache of layer l (self_k or self_v), max_steps rows of d. */
float *nmt_decoder_state_cache(const nmt_decoder_state *s, float *base, int l, int row);

/* Layer l's cross keys or values (cross_k or cross_v), max_src_tokens rows of d. */
float *nmt_decoder_state_cross(const nmt_decoder_state *s, float *base, int l);

#endif
