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

/* Rows of scratch activations a group of sentences uses at once: the
 * encoder, and the cross-attention keys and values made from its output,
 * run a group at a time, so that a worker's scratch stays bounded instead
 * of holding every token of the batch (640 rows at batch 32 x 20 tokens:
 * 13 MB of projections and feed-forward). */
enum { NMT_ENCODE_ROWS = 128 };

/* The end of the group of sentences from s0: those that follow it back to
 * back while they fit in max_rows rows, and at least s0 itself. */
int nmt_source_group_end(const nmt_source_batch *src, int s0, int max_rows);

/* Runs the encoder on src, a group of sentences at a time; leaves its
 * output in act->x[src->total][d_model] (act->max_rows >= src->total).
 * Never allocates. */
void nmt_encoder_forward(const nmt_model *model, const nmt_source_batch *src, nmt_activations *act);

#endif
