/* encoder.c: the encoder stack.  A batch is packed (no padding rows), so the
 * products do no wasted work and attention sees only the query's own
 * sentence (the padding mask, by construction).  Each block:
 *   x = LN(x + SelfAttn(x));  x = LN(x + FFN(x)). */
#include "encoder.h"

#include "embedding.h"
#include "kernels.h"
#include "sublayer.h"

void nmt_encoder_forward(const nmt_model *model, const nmt_source_batch *src, nmt_activations *act)
{
    const nmt_hparams *hp = &model->hp;
    int d = hp->d_model, total = src->total;
    for (int s = 0; s < src->n; s++)
        for (int i = 0; i < src->len[s]; i++) {
            int t = src->off[s] + i;
            nmt_embed(model, act->x + (size_t)t * d, src->ids[t], i);
        }
    for (int l = 0; l < hp->enc_layers; l++) {
        const nmt_enc_layer *L = &model->enc[l];
        nmt_project_qkv(&L->self_attn, d, act, total);
        act->kv_bf16 = 0; /* this layer's own fp32 projections */
        for (int s = 0; s < src->n; s++) /* each token sees its own sentence */
            for (int i = 0; i < src->len[s]; i++) {
                int t = src->off[s] + i;
                act->k_rows[t] = act->k + (size_t)src->off[s] * d;
                act->v_rows[t] = act->v + (size_t)src->off[s] * d;
                act->n_keys[t] = src->len[s];
            }
        nmt_attention_sublayer(&L->self_attn, &L->self_norm, d, hp->enc_heads, hp->ln_eps, act, total);
        nmt_ffn_sublayer(&L->fc1, &L->fc2, &L->final_norm, d, hp->enc_ffn, hp->act, hp->ln_eps, act, total);
    }
}
