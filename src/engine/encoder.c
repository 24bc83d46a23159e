/* encoder.c: the encoder stack.  A batch is packed (no padding rows), so the
 * GEMMs do no wasted work and attention sees only the query's own sentence.
 * Post-norm blocks: x = LN(x + SelfAttn(x)); x = LN(x + FFN(x)). */
#include "encoder.h"

#include <math.h>

#include "attention.h"
#include "gemm.h"
#include "kernels.h"

void nmt_embed_token(const nmt_model *model, float *out, int id, int pos)
{
    const nmt_hparams *hp = &model->hp;
    int d = hp->d_model;
    const float *p = model->positions + (size_t)pos * d;
    if (model->embed_packed) { /* the token's row, gathered from its packed panel */
        const int P = NMT_GEMM_PANEL;
        const float *e = model->embed_packed + (size_t)(id / P) * P * d + id % P;
        for (int i = 0; i < d; i++)
            out[i] = e[(size_t)i * P] * hp->embed_scale + p[i];
        return;
    }
    nmt_model_read_row(model, model->embed, id, out);
    for (int i = 0; i < d; i++)
        out[i] = out[i] * hp->embed_scale + p[i];
}

static void scale(float *x, size_t n, float s)
{
    for (size_t i = 0; i < n; i++)
        x[i] *= s;
}

void nmt_encoder_forward(const nmt_model *model, nmt_workspace *ws, int n_seq, int total)
{
    const nmt_hparams *hp = &model->hp;
    int d = hp->d_model, heads = hp->enc_heads;
    float q_scale = 1.0f / sqrtf((float)(d / heads));
    for (int s = 0; s < n_seq; s++)
        for (int i = 0; i < ws->src_len[s]; i++) {
            int t = ws->src_off[s] + i;
            nmt_embed_token(model, ws->x + (size_t)t * d, ws->src_ids[t], i);
        }
    for (int l = 0; l < hp->enc_layers; l++) {
        const nmt_enc_layer *L = &model->enc[l];
        const nmt_attn_w *a = &L->self_attn;
        nmt_linear(ws->q, ws->x, total, d, d, &a->q);
        scale(ws->q, (size_t)total * d, q_scale);
        nmt_linear(ws->k, ws->x, total, d, d, &a->k);
        nmt_linear(ws->v, ws->x, total, d, d, &a->v);
        for (int s = 0; s < n_seq; s++)
            for (int i = 0; i < ws->src_len[s]; i++) {
                int t = ws->src_off[s] + i;
                ws->k_rows[t] = ws->k + (size_t)ws->src_off[s] * d;
                ws->v_rows[t] = ws->v + (size_t)ws->src_off[s] * d;
                ws->n_keys[t] = ws->src_len[s];
            }
        nmt_attention(ws->ctx, ws->q, total, ws->k_rows, ws->v_rows, ws->n_keys, d, heads, ws->scores);
        nmt_linear(ws->tmp, ws->ctx, total, d, d, &a->o);
        nmt_add_layer_norm(ws->x, ws->tmp, total, d, L->self_norm.gamma, L->self_norm.beta, hp->ln_eps);
        nmt_linear(ws->ffn, ws->x, total, d, hp->enc_ffn, &L->fc1);
        nmt_activate(ws->ffn, (size_t)total * hp->enc_ffn, hp->act);
        nmt_linear(ws->tmp, ws->ffn, total, hp->enc_ffn, d, &L->fc2);
        nmt_add_layer_norm(ws->x, ws->tmp, total, d, L->final_norm.gamma, L->final_norm.beta, hp->ln_eps);
    }
}
