/* model_quantize.c: compute_type int8 — every linear layer of the encoder
 * and decoder and the output layer quantized once at load (qgemm.h), each
 * fp32 matrix given back as soon as its int8 copy exists, so the process
 * holds the int8 weights and about one fp32 matrix at a time. */
#include "model_parts.h"

#include <stdlib.h>
#include <sys/mman.h>

static nmt_code quantize_linear(nmt_model *m, nmt_linear_w *lw, int out, int in, nmt_err *err)
{
    nmt_q8_matrix *q = malloc(sizeof *q);
    if (!q || nmt_model_own(m, q, err))
        return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory quantizing weights");
    nmt_code rc = nmt_q8_quantize(q, lw->w, out, in, err);
    if (rc)
        return rc;
    if ((rc = nmt_model_own(m, q->w, err)) || (rc = nmt_model_own(m, q->scale, err)))
        return rc;
    nmt_model_release_weights(m, lw->w, (size_t)out * in * sizeof(float));
    lw->q8 = q;
    lw->w = NULL;
    return NMT_OK;
}

static nmt_code quantize_attn(nmt_model *m, nmt_attn_w *a, int d, nmt_err *err)
{
    nmt_code rc;
    if ((rc = quantize_linear(m, &a->q, d, d, err)) || (rc = quantize_linear(m, &a->k, d, d, err)) ||
        (rc = quantize_linear(m, &a->v, d, d, err)) || (rc = quantize_linear(m, &a->o, d, d, err)))
        return rc;
    return NMT_OK;
}

nmt_code nmt_model_quantize(nmt_model *m, nmt_err *err)
{
    const nmt_hparams *hp = &m->hp;
    int d = hp->d_model;
    nmt_code rc;
    for (int l = 0; l < hp->enc_layers; l++) {
        nmt_enc_layer *L = &m->enc[l];
        if ((rc = quantize_attn(m, &L->self_attn, d, err)) ||
            (rc = quantize_linear(m, &L->fc1, hp->enc_ffn, d, err)) ||
            (rc = quantize_linear(m, &L->fc2, d, hp->enc_ffn, err)))
            return rc;
    }
    for (int l = 0; l < hp->dec_layers; l++) {
        nmt_dec_layer *L = &m->dec[l];
        if ((rc = quantize_attn(m, &L->self_attn, d, err)) || (rc = quantize_attn(m, &L->cross_attn, d, err)) ||
            (rc = quantize_linear(m, &L->fc1, hp->dec_ffn, d, err)) ||
            (rc = quantize_linear(m, &L->fc2, d, hp->dec_ffn, err)))
            return rc;
    }
    /* the output layer; its fp32 rows stay readable (from the file, or the
     * converted embedding table) for token lookups */
    if ((rc = quantize_linear(m, &m->output.full, hp->vocab_size, d, err)))
        return rc;
    if (m->st.map) /* what is still read from the file is read row by row: no readahead */
        madvise(m->st.map, m->st.map_size, MADV_RANDOM);
    return NMT_OK;
}
