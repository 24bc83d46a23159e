/* sublayer.h: the two sub-layers every Transformer block is made of, written
 * once for the encoder's and the decoder's blocks (Marian is post-norm):
 *   attention:     x = LN(x + W_o . MultiHead(W_q x, keys, values))
 *   feed-forward:  x = LN(x + fc2(act(fc1 x)))
 * They read and write act->x[n][d_model] in place and use the rest of act as
 * scratch.  Which keys and values each row sees is the caller's choice,
 * made before the call in act->k_rows / v_rows / n_keys: the query's own
 * sentence (encoder), the row's KV cache (decoder self-attention), or the
 * row's source sentence (cross-attention).  Never allocate. */
#ifndef NMT_SUBLAYER_H
#define NMT_SUBLAYER_H

#include "activations.h"
#include "model.h"

/* The projections that read act->x before an attention sub-layer: self-
 * attention's queries, keys and values into act->q, act->k, act->v (one
 * shared product: x quantized once under int8), or cross-attention's
 * queries alone. */
void nmt_project_qkv(const nmt_attn_w *w, int d, nmt_activations *act, int n);
void nmt_project_q(const nmt_attn_w *w, int d, nmt_activations *act, int n);

/* The attention sub-layer over n rows with `heads` heads, its queries
 * already in act->q (nmt_project_qkv or nmt_project_q); they are scaled by
 * head_dim^-0.5 before the scores, as Hugging Face scales them. */
void nmt_attention_sublayer(const nmt_attn_w *w, const nmt_norm_w *norm, int d, int heads, float ln_eps,
                            nmt_activations *act, int n);

/* The feed-forward sub-layer over n rows (inner width ffn). */
void nmt_ffn_sublayer(const nmt_linear_w *fc1, const nmt_linear_w *fc2, const nmt_norm_w *norm, int d, int ffn,
                      nmt_activation fn, float ln_eps, nmt_activations *act, int n);

#endif
