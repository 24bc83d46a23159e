/* decoder.c: the decoder stack.  Each block:
 *   x = LN(x + SelfAttn(x))        causal through the row's KV cache
 *   x = LN(x + CrossAttn(x, enc))  Q from x, K/V from the row's source
 *   x = LN(x + FFN(x))
 * then the output layer (output_layer.h).  Rows not passed to a step (not
 * started, or finished) cost nothing. */
#include "decoder.h"

#include <string.h>

#include "embedding.h"
#include "kernels.h"
#include "sublayer.h"

void nmt_decoder_start(const nmt_model *model, nmt_decoder_state *ds, const nmt_source_batch *src,
                       const float *enc_out, const int *rows, const int *cross_at, nmt_activations *act)
{
    const nmt_hparams *hp = &model->hp;
    int d = hp->d_model;
    /* the batch's tokens go to consecutive fp32 cross rows: project straight there */
    int in_place = !ds->kv_bf16;
    for (int i = 1; i < src->n && in_place; i++)
        in_place = cross_at[i] - cross_at[0] == src->off[i] - src->off[0];
    if (in_place) { /* every layer's keys and values in shared products: enc_out quantized once per group */
        size_t first = (size_t)(cross_at[0] - src->off[0]) * d;
        float *ys[NMT_LINEAR_SHARED_MAX];
        const nmt_linear_w *lws[NMT_LINEAR_SHARED_MAX];
        for (int l0 = 0; l0 < hp->dec_layers; l0 += NMT_LINEAR_SHARED_MAX / 2) {
            int count = 0;
            for (int l = l0; l < hp->dec_layers && l < l0 + NMT_LINEAR_SHARED_MAX / 2; l++) {
                const nmt_attn_w *a = &model->dec[l].cross_attn;
                ys[count] = (float *)nmt_decoder_state_cross(ds, ds->cross_k, l) + first;
                lws[count++] = &a->k;
                ys[count] = (float *)nmt_decoder_state_cross(ds, ds->cross_v, l) + first;
                lws[count++] = &a->v;
            }
            nmt_linear_shared(ys, enc_out, src->total, d, d, lws, count);
        }
    }
    for (int l = 0; l < hp->dec_layers && !in_place; l++) {
        const nmt_attn_w *a = &model->dec[l].cross_attn;
        void *ck = nmt_decoder_state_cross(ds, ds->cross_k, l), *cv = nmt_decoder_state_cross(ds, ds->cross_v, l);
        float *const kv[2] = {act->k, act->v}; /* one product for a group of sentences, then scattered */
        const nmt_linear_w *const kv_w[2] = {&a->k, &a->v};
        for (int s0 = 0, s1; s0 < src->n; s0 = s1) {
            s1 = nmt_source_group_end(src, s0, NMT_ENCODE_ROWS);
            int base = src->off[s0], group_rows = src->off[s1 - 1] + src->len[s1 - 1] - base;
            nmt_linear_shared(kv, enc_out + (size_t)base * d, group_rows, d, d, kv_w, 2);
            for (int i = s0; i < s1; i++) {
                size_t from = (size_t)(src->off[i] - base) * d, len = (size_t)src->len[i];
                nmt_decoder_state_put(ds, nmt_decoder_state_row(ds, ck, (size_t)cross_at[i]), act->k + from, len);
                nmt_decoder_state_put(ds, nmt_decoder_state_row(ds, cv, (size_t)cross_at[i]), act->v + from, len);
            }
        }
    }
    for (int i = 0; i < src->n; i++) {
        ds->src_off[rows[i]] = cross_at[i];
        ds->src_len[rows[i]] = src->len[i];
        ds->steps[rows[i]] = 0;
    }
}

/* Row i's self-attention sees its cache up to and including this step's
 * token, whose key and value (act->k, act->v row i) are appended first. */
static void attend_own_prefix(nmt_decoder_state *ds, int l, const int *rows, int n, nmt_activations *act)
{
    act->kv_bf16 = ds->kv_bf16;
    for (int i = 0; i < n; i++) {
        int row = rows[i], pos = ds->steps[row];
        void *kc = nmt_decoder_state_cache(ds, ds->self_k, l, row);
        void *vc = nmt_decoder_state_cache(ds, ds->self_v, l, row);
        nmt_decoder_state_put(ds, nmt_decoder_state_row(ds, kc, (size_t)pos), act->k + (size_t)i * ds->d, 1);
        nmt_decoder_state_put(ds, nmt_decoder_state_row(ds, vc, (size_t)pos), act->v + (size_t)i * ds->d, 1);
        act->k_rows[i] = kc;
        act->v_rows[i] = vc;
        act->n_keys[i] = pos + 1;
    }
}

/* Row i's cross-attention sees its own source sentence. */
static void attend_own_source(const nmt_decoder_state *ds, int l, const int *rows, int n, nmt_activations *act)
{
    act->kv_bf16 = ds->kv_bf16;
    for (int i = 0; i < n; i++) {
        size_t off = (size_t)ds->src_off[rows[i]];
        act->k_rows[i] = nmt_decoder_state_row(ds, nmt_decoder_state_cross(ds, ds->cross_k, l), off);
        act->v_rows[i] = nmt_decoder_state_row(ds, nmt_decoder_state_cross(ds, ds->cross_v, l), off);
        act->n_keys[i] = ds->src_len[rows[i]];
    }
}

void nmt_decoder_step(const nmt_model *model, nmt_decoder_state *ds, const int *rows, const int *tokens, int n,
                      nmt_activations *act)
{
    const nmt_hparams *hp = &model->hp;
    int d = hp->d_model;
    for (int i = 0; i < n; i++)
        nmt_embed(model, act->x + (size_t)i * d, tokens[i], ds->steps[rows[i]]);
    for (int l = 0; l < hp->dec_layers; l++) {
        const nmt_dec_layer *L = &model->dec[l];
        nmt_project_qkv(&L->self_attn, d, act, n);
        attend_own_prefix(ds, l, rows, n, act);
        nmt_attention_sublayer(&L->self_attn, &L->self_norm, d, hp->dec_heads, hp->ln_eps, act, n);
        attend_own_source(ds, l, rows, n, act);
        nmt_project_q(&L->cross_attn, d, act, n);
        nmt_attention_sublayer(&L->cross_attn, &L->cross_norm, d, hp->dec_heads, hp->ln_eps, act, n);
        nmt_ffn_sublayer(&L->fc1, &L->fc2, &L->final_norm, d, hp->dec_ffn, hp->act, hp->ln_eps, act, n);
    }
    for (int i = 0; i < n; i++)
        ds->steps[rows[i]]++;
}
