/* model_quantize.c: compute_type int8 and bfloat16 — every linear layer of
 * the encoder and decoder and the output layer converted once at load
 * (int8: qgemm.h; bfloat16: bf16_gemm.h), each fp32 matrix given back as
 * soon as its converted copy exists, so the process holds the converted
 * weights and about one fp32 matrix at a time. */
#include "model_parts.h"

#include <stdlib.h>
#include <sys/mman.h>

/* 1024 rows at a time (whole bfloat16 panels), each step's fp32 rows
 * given back once converted when they lie in the mapped file: the output
 * layer alone is 119 MB of fp32 for opus-mt-en-de, never resident at once. */
enum { ROW_STEP = 1024 };

static nmt_code quantize_linear(nmt_model *m, nmt_linear_w *lw, int out, int in, nmt_err *err)
{
    nmt_q8_matrix *q = malloc(sizeof *q);
    if (!q || nmt_model_own(m, q, err))
        return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory quantizing weights");
    nmt_code rc = nmt_q8_alloc(q, out, in, err);
    if (rc)
        return rc;
    if ((rc = nmt_model_own(m, q->w, err)) || (rc = nmt_model_own(m, q->scale, err)))
        return rc;
    for (int r = 0; r < out; r += ROW_STEP) {
        int rows = out - r < ROW_STEP ? out - r : ROW_STEP;
        if ((rc = nmt_q8_set_rows(q, lw->w + (size_t)r * in, r, rows, err)))
            return rc;
        nmt_model_release_mapped(m, lw->w + (size_t)r * in, (size_t)rows * in * sizeof(float));
    }
    nmt_model_release_weights(m, lw->w, (size_t)out * in * sizeof(float));
    lw->q8 = q;
    lw->w = NULL;
    return NMT_OK;
}

static nmt_code round_linear(nmt_model *m, nmt_linear_w *lw, int out, int in, nmt_err *err)
{
    nmt_bf16_matrix *h = malloc(sizeof *h);
    if (!h || nmt_model_own(m, h, err))
        return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory converting weights to bfloat16");
    nmt_code rc = nmt_bf16_alloc(h, out, in, err);
    if (rc || (rc = nmt_model_own(m, h->panels, err)))
        return rc;
    for (int r = 0; r < out; r += ROW_STEP) {
        int rows = out - r < ROW_STEP ? out - r : ROW_STEP;
        nmt_bf16_set_rows(h, lw->w + (size_t)r * in, r, rows);
        nmt_model_release_mapped(m, lw->w + (size_t)r * in, (size_t)rows * in * sizeof(float));
    }
    nmt_model_release_weights(m, lw->w, (size_t)out * in * sizeof(float));
    lw->bf16 = h;
    lw->w = NULL;
    return NMT_OK;
}

nmt_code nmt_model_quantize(nmt_model *m, nmt_err *err)
{
    const nmt_hparams *hp = &m->hp;
    nmt_linear_visit convert = m->compute == NMT_COMPUTE_BFLOAT16 ? round_linear : quantize_linear;
    nmt_code rc = nmt_model_each_linear(m, convert, err);
    if (rc)
        return rc;
    /* the output layer; its fp32 rows stay readable (from the file, or the
     * converted embedding table) for token lookups */
    if ((rc = convert(m, &m->output.full, hp->vocab_size, hp->d_model, err)))
        return rc;
    if (m->st.map) /* what is still read from the file is read row by row: no readahead */
        madvise(m->st.map, m->st.map_size, MADV_RANDOM);
    return NMT_OK;
}
