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

nmt_code nmt_model_quantize(nmt_model *m, nmt_err *err)
{
    const nmt_hparams *hp = &m->hp;
    nmt_code rc = nmt_model_each_linear(m, quantize_linear, err);
    if (rc)
        return rc;
    /* the output layer; its fp32 rows stay readable (from the file, or the
     * converted embedding table) for token lookups */
    if ((rc = quantize_linear(m, &m->output.full, hp->vocab_size, hp->d_model, err)))
        return rc;
    if (m->st.map) /* what is still read from the file is read row by row: no readahead */
        madvise(m->st.map, m->st.map_size, MADV_RANDOM);
    return NMT_OK;
}
