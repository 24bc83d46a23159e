/* decoder.c: the decoder stack.  Post-norm blocks:
 *   x = LN(x + SelfAttn(x))        causal through the KV cache
 *   x = LN(x + CrossAttn(x, enc))  Q from x, K/V from the encoder output
 *   x = LN(x + FFN(x))
 * then the output layer (nmt_decoder_choose).  Finished sentences are not in
 * the live rows, so they cost nothing. */
#include "decoder.h"

#include <math.h>
#include <string.h>

#include "attention.h"
#include "encoder.h"
#include "kernels.h"

static float *cross_layer(const nmt_workspace *ws, float *base, int l, int d)
{
    return base + (size_t)l * ws->max_tokens * d;
}

static float *self_row(const nmt_workspace *ws, float *base, int l, int row, int d)
{
    return base + (((size_t)l * ws->max_batch + row) * ws->max_steps) * d;
}

void nmt_decoder_prepare(const nmt_model *model, nmt_workspace *ws, int total)
{
    const nmt_hparams *hp = &model->hp;
    int d = hp->d_model;
    for (int l = 0; l < hp->dec_layers; l++) {
        const nmt_attn_w *a = &model->dec[l].cross_attn;
        nmt_linear(cross_layer(ws, ws->cross_k, l, d), ws->x, total, d, d, &a->k);
        nmt_linear(cross_layer(ws, ws->cross_v, l, d), ws->x, total, d, d, &a->v);
    }
}

static void scale(float *x, size_t n, float s)
{
    for (size_t i = 0; i < n; i++)
        x[i] *= s;
}

void nmt_decoder_step(const nmt_model *model, nmt_workspace *ws, int n_live, int pos)
{
    const nmt_hparams *hp = &model->hp;
    int d = hp->d_model, heads = hp->dec_heads;
    float q_scale = 1.0f / sqrtf((float)(d / heads));
    size_t row_bytes = (size_t)d * sizeof(float);
    for (int r = 0; r < n_live; r++)
        nmt_embed_token(model, ws->x + (size_t)r * d, ws->tokens[r], pos);
    for (int l = 0; l < hp->dec_layers; l++) {
        const nmt_dec_layer *L = &model->dec[l];
        /* masked self-attention over this row's cache, positions 0..pos */
        const nmt_attn_w *a = &L->self_attn;
        nmt_linear(ws->q, ws->x, n_live, d, d, &a->q);
        scale(ws->q, (size_t)n_live * d, q_scale);
        nmt_linear(ws->k, ws->x, n_live, d, d, &a->k);
        nmt_linear(ws->v, ws->x, n_live, d, d, &a->v);
        for (int r = 0; r < n_live; r++) {
            float *kc = self_row(ws, ws->self_k, l, ws->live[r], d), *vc = self_row(ws, ws->self_v, l, ws->live[r], d);
            memcpy(kc + (size_t)pos * d, ws->k + (size_t)r * d, row_bytes);
            memcpy(vc + (size_t)pos * d, ws->v + (size_t)r * d, row_bytes);
            ws->k_rows[r] = kc;
            ws->v_rows[r] = vc;
            ws->n_keys[r] = pos + 1;
        }
        nmt_attention(ws->ctx, ws->q, n_live, ws->k_rows, ws->v_rows, ws->n_keys, d, heads, ws->scores);
        nmt_linear(ws->tmp, ws->ctx, n_live, d, d, &a->o);
        nmt_add_layer_norm(ws->x, ws->tmp, n_live, d, L->self_norm.gamma, L->self_norm.beta, hp->ln_eps);
        /* encoder-decoder attention over this row's source sentence */
        a = &L->cross_attn;
        nmt_linear(ws->q, ws->x, n_live, d, d, &a->q);
        scale(ws->q, (size_t)n_live * d, q_scale);
        for (int r = 0; r < n_live; r++) {
            size_t off = (size_t)ws->src_off[ws->live[r]] * d;
            ws->k_rows[r] = cross_layer(ws, ws->cross_k, l, d) + off;
            ws->v_rows[r] = cross_layer(ws, ws->cross_v, l, d) + off;
            ws->n_keys[r] = ws->src_len[ws->live[r]];
        }
        nmt_attention(ws->ctx, ws->q, n_live, ws->k_rows, ws->v_rows, ws->n_keys, d, heads, ws->scores);
        nmt_linear(ws->tmp, ws->ctx, n_live, d, d, &a->o);
        nmt_add_layer_norm(ws->x, ws->tmp, n_live, d, L->cross_norm.gamma, L->cross_norm.beta, hp->ln_eps);
        /* feed-forward */
        nmt_linear(ws->ffn, ws->x, n_live, d, hp->dec_ffn, &L->fc1);
        nmt_activate(ws->ffn, (size_t)n_live * hp->dec_ffn, hp->act);
        nmt_linear(ws->tmp, ws->ffn, n_live, hp->dec_ffn, d, &L->fc2);
        nmt_add_layer_norm(ws->x, ws->tmp, n_live, d, L->final_norm.gamma, L->final_norm.beta, hp->ln_eps);
    }
}

static void read_output_row(void *ctx, int i, float *dst)
{
    const nmt_model *model = ctx;
    nmt_model_read_row(model, model->out_proj, i, dst);
}

void nmt_decoder_choose(const nmt_model *model, nmt_workspace *ws, int n_live, int ban_a, int ban_b, int *out)
{
    const nmt_hparams *hp = &model->hp;
    if (model->screen) {
        nmt_logits_scratch sc = {.xq = ws->xq, .approx = ws->logits, .cand = ws->cand, .bounds = ws->bounds,
                                 .rows = ws->rows, .read_row = read_output_row, .read_ctx = (void *)model};
        nmt_logits_choose(model->screen, model->out_proj, model->final_logits_bias, ws->x, n_live, ban_a, ban_b, &sc,
                          out, NULL);
        return;
    }
    nmt_linear(ws->logits, ws->x, n_live, hp->d_model, hp->vocab_size, &model->logits);
    for (int r = 0; r < n_live; r++)
        out[r] = nmt_argmax(ws->logits + (size_t)r * hp->vocab_size, hp->vocab_size, ban_a, ban_b);
}
