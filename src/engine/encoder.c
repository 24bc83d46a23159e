/* encoder.c: the encoder stack.  A batch is packed (no padding rows), so the
 * products do no wasted work and attention sees only the query's own
 * sentence (the padding mask, by construction).  Each block:
 *   x = LN(x + SelfAttn(x));  x = LN(x + FFN(x)). */
#include "encoder.h"

#include "embedding.h"
#include "kernels.h"
#include "sublayer.h"

int nmt_source_group_end(const nmt_source_batch *src, int s0, int max_rows)
{
    int s1 = s0 + 1, rows = src->len[s0];
    while (s1 < src->n && rows + src->len[s1] <= max_rows && src->off[s1] == src->off[s1 - 1] + src->len[s1 - 1])
        rows += src->len[s1++];
    return s1;
}

/* Sentences [s0, s1) (back to back) through every layer: their rows of
 * act->x, the other activations from their first row. */
static void encode_group(const nmt_model *model, const nmt_source_batch *src, int s0, int s1, nmt_activations *act)
{
    const nmt_hparams *hp = &model->hp;
    int d = hp->d_model, base = src->off[s0], rows = src->off[s1 - 1] + src->len[s1 - 1] - base;
    nmt_activations g = *act;
    g.x = act->x + (size_t)base * d;
    for (int s = s0; s < s1; s++)
        for (int i = 0; i < src->len[s]; i++)
            nmt_embed(model, g.x + (size_t)(src->off[s] - base + i) * d, src->ids[src->off[s] + i], i);
    for (int l = 0; l < hp->enc_layers; l++) {
        const nmt_enc_layer *L = &model->enc[l];
        nmt_project_qkv(&L->self_attn, d, &g, rows);
        g.kv_bf16 = 0; /* this layer's own fp32 projections */
        for (int s = s0; s < s1; s++) /* each token sees its own sentence */
            for (int i = 0; i < src->len[s]; i++) {
                int t = src->off[s] - base + i;
                g.k_rows[t] = g.k + (size_t)(src->off[s] - base) * d;
                g.v_rows[t] = g.v + (size_t)(src->off[s] - base) * d;
                g.n_keys[t] = src->len[s];
            }
        nmt_attention_sublayer(&L->self_attn, &L->self_norm, d, hp->enc_heads, hp->ln_eps, &g, rows);
        nmt_ffn_sublayer(&L->fc1, &L->fc2, &L->final_norm, d, hp->enc_ffn, hp->act, hp->ln_eps, &g, rows);
    }
    act->kv_bf16 = g.kv_bf16;
}

void nmt_encoder_forward(const nmt_model *model, const nmt_source_batch *src, nmt_activations *act)
{
    for (int s0 = 0, s1; s0 < src->n; s0 = s1) {
        s1 = nmt_source_group_end(src, s0, NMT_ENCODE_ROWS);
        encode_group(model, src, s0, s1, act);
    }
}
