/* decoder.h: the Marian decoder stack, one step at a time for a set of rows
 * of an nmt_decoder_state, each row at its own position. */
#ifndef NMT_DECODER_H
#define NMT_DECODER_H

#include "activations.h"
#include "decoder_state.h"
#include "encoder.h"
#include "model.h"

/* Starts rows[i] (i < src->n) on source sentence i of src, whose encoder
 * output is enc_out[src->off[i] ..][d_model]: every layer's cross-attention
 * keys and values of the batch are computed in one product per layer and
 * put at the state's source tokens cross_at[i] .. cross_at[i] + len[i] - 1
 * (straight there when the batch's places are consecutive, else through
 * act->k / act->v); each row's position is reset to 0.  Never allocates. */
void nmt_decoder_start(const nmt_model *model, nmt_decoder_state *ds, const nmt_source_batch *src,
                       const float *enc_out, const int *rows, const int *cross_at, nmt_activations *act);

/* One decoder step for n rows: rows[i] feeds tokens[i] at its position
 * ds->steps[rows[i]], appends its keys and values to its cache and advances.
 * Leaves the top layer's output in act->x[n][d_model] (input to the output
 * layer).  Never allocates. */
void nmt_decoder_step(const nmt_model *model, nmt_decoder_state *ds, const int *rows, const int *tokens, int n,
                      nmt_activations *act);

#endif
