/* encoder.h: the Marian encoder stack over a packed batch of sentences. */
#ifndef NMT_ENCODER_H
#define NMT_ENCODER_H

#include "activations.h"
#include "model.h"

/* Source sentences packed back to back (no padding): sentence s is
 * ids[off[s] .. off[s] + len[s]), </s> included. */
typedef struct nmt_source_batch {
    int n;          /* sentences */
    int total;      /* tokens: sum of len */
    const int *ids; /* [total] */
    const int *off; /* [n] */
    const int *len; /* [n] */
} nmt_source_batch;

/* Runs the encoder on src; leaves its output in act->x[src->total][d_model]
 * (act->max_rows >= src->total).  Never allocates. */
void nmt_encoder_forward(const nmt_model *model, const nmt_source_batch *src, nmt_activations *act);

#endif
