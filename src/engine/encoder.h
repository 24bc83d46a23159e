/* encoder.h: the Marian encoder stack over a packed batch. */
#ifndef NMT_ENCODER_H
#define NMT_ENCODER_H

#include "model.h"
#include "workspace.h"

/* Runs the encoder on ws->src_ids (n_seq sentences packed back to back,
 * sentence s at ws->src_off[s] with ws->src_len[s] tokens); leaves the output
 * in ws->x[total][d_model].  Uses ws scratch only; never allocates. */
void nmt_encoder_forward(const nmt_model *model, nmt_workspace *ws, int n_seq, int total);

/* Adds embed[id] * embed_scale + positions[pos] into out[d_model]. */
void nmt_embed_token(const nmt_model *model, float *out, int id, int pos);

#endif
