/* sublayer.c: attention and feed-forward sub-layers (see sublayer.h). */
#include "sublayer.h"

#include <math.h>

#include "attention.h"
#include "kernels.h"

/* 1 for int8 and bfloat16 weights, whose layers take swish's e^x from a
 * polynomial and the layer norm's sums in lanes (float32 keeps the exact
 * order of libm's expf and sequential sums). */
static int reduced_precision(const nmt_linear_w *w) { return w->q8 || w->bf16; }

void nmt_project_qkv(const nmt_attn_w *w, int d, nmt_activations *act, int n)
{
    float *const ys[3] = {act->q, act->k, act->v};
    const nmt_linear_w *const lws[3] = {&w->q, &w->k, &w->v};
    nmt_linear_shared(ys, act->x, n, d, d, lws, 3);
}

void nmt_project_q(const nmt_attn_w *w, int d, nmt_activations *act, int n)
{
    nmt_linear(act->q, act->x, n, d, d, &w->q);
}

void nmt_attention_sublayer(const nmt_attn_w *w, const nmt_norm_w *norm, int d, int heads, float ln_eps,
                            nmt_activations *act, int n)
{
    float q_scale = 1.0f / sqrtf((float)(d / heads));
    for (size_t i = 0; i < (size_t)n * d; i++)
        act->q[i] *= q_scale;
    nmt_attention(act->attn, act->q, n, act->k_rows, act->v_rows, act->n_keys, d, heads, act->kv_bf16, act->scores);
    nmt_linear(act->tmp, act->attn, n, d, d, &w->o);
    if (reduced_precision(&w->o))
        nmt_add_layer_norm_lanes(act->x, act->tmp, n, d, norm->gamma, norm->beta, ln_eps);
    else
        nmt_add_layer_norm(act->x, act->tmp, n, d, norm->gamma, norm->beta, ln_eps);
}

void nmt_ffn_sublayer(const nmt_linear_w *fc1, const nmt_linear_w *fc2, const nmt_norm_w *norm, int d, int ffn,
                      nmt_activation fn, float ln_eps, nmt_activations *act, int n)
{
    nmt_linear(act->ffn, act->x, n, d, ffn, fc1);
    if (reduced_precision(fc1))
        nmt_activate_approx(act->ffn, (size_t)n * ffn, fn);
    else
        nmt_activate(act->ffn, (size_t)n * ffn, fn);
    nmt_linear(act->tmp, act->ffn, n, ffn, d, fc2);
    if (reduced_precision(fc2))
        nmt_add_layer_norm_lanes(act->x, act->tmp, n, d, norm->gamma, norm->beta, ln_eps);
    else
        nmt_add_layer_norm(act->x, act->tmp, n, d, norm->gamma, norm->beta, ln_eps);
}
