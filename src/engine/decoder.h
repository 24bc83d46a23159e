/* decoder.h: the Marian decoder stack, one step at a time for the live rows
 * of a batch, with a self-attention KV cache and cross-attention K/V computed
 * once per batch. */
#ifndef NMT_DECODER_H
#define NMT_DECODER_H

#include "model.h"
#include "workspace.h"

/* Projects the encoder output ws->x[total][d_model] into every layer's
 * cross-attention keys and values (ws->cross_k, ws->cross_v).  Once per batch. */
void nmt_decoder_prepare(const nmt_model *model, nmt_workspace *ws, int total);

/* Runs one decoder step at position pos for n_live rows: row r is batch
 * sentence ws->live[r] and feeds token ws->tokens[r].  Appends each row's
 * keys/values to its cache and leaves the top layer's output in
 * ws->x[n_live][d_model].  Never allocates. */
void nmt_decoder_step(const nmt_model *model, nmt_workspace *ws, int n_live, int pos);

/* The greedy choice after a step: out[r] = argmax over the vocabulary of
 * ws->x[r] . out_proj^T + final_logits_bias, skipping ban_a and ban_b (-1 for
 * none), first index on ties.  Through the int8 screen when the model has
 * one (same result), else from the full logits. */
void nmt_decoder_choose(const nmt_model *model, nmt_workspace *ws, int n_live, int ban_a, int ban_b, int *out);

#endif
