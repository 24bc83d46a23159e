/* model_quantize.c: compute_type int8 and bfloat16 — every linear layer of
 * the encoder and decoder and the output layer converted once at load
 * (int8: qgemm.h; bfloat16: bf16_gemm.h), each fp32 matrix given back as
 * soon as its converted copy exists, so the process holds the converted
 * weights and about one fp32 matrix at a time. */
#include "model_parts.h"

#include <stdlib.h>
#include <sys/mman.h>

#include "float_convert.h"

/* 1024 rows at a time (whole bfloat16 panels), each step's fp32 rows
 * given back once converted when they lie in the mapped file: the output
 * layer alone is 119 MB of fp32 for opus-mt-en-de, never resident at once. */
enum { ROW_STEP = 1024 };

/* The file's F16/BF16 tensor of lw when its conversion was deferred (model_bind.c), else NULL. */
static const nmt_st_tensor *deferred_tensor(const nmt_model *m, const nmt_linear_w *lw)
{
    for (int i = 0; i < m->n_deferred; i++)
        if (m->deferred[i].lw == lw)
            return m->deferred[i].t;
    return NULL;
}

/* lw converted to m->compute (int8 or bfloat16) into a matrix the model
 * owns, ROW_STEP rows at a time, then its fp32 weights given back; weights
 * still in the file as F16/BF16 are widened a block at a time into a
 * buffer of ROW_STEP rows and their file pages given back. */
static nmt_code convert_linear(nmt_model *m, nmt_linear_w *lw, int out, int in, nmt_err *err)
{
    int bf16 = m->compute == NMT_COMPUTE_BFLOAT16;
    nmt_q8_matrix *q = NULL;
    nmt_bf16_matrix *h = NULL;
    nmt_code rc;
    if (bf16) {
        if (!(h = malloc(sizeof *h)) || nmt_model_own(m, h, err))
            return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory converting weights to bfloat16");
        if ((rc = nmt_bf16_alloc(h, out, in, err)) || (rc = nmt_model_own(m, h->panels, err)))
            return rc;
    } else {
        if (!(q = malloc(sizeof *q)) || nmt_model_own(m, q, err))
            return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory quantizing weights");
        if ((rc = nmt_q8_alloc(q, out, in, err)) || (rc = nmt_model_own(m, q->w, err)) ||
            (rc = nmt_model_own(m, q->scale, err)) || (rc = nmt_model_own(m, q->offset_sum, err)))
            return rc;
    }
    const nmt_st_tensor *t = lw->w ? NULL : deferred_tensor(m, lw);
    size_t item = t ? t->nbytes / (size_t)(t->numel ? t->numel : 1) : 0;
    float *block = m->convert_block;
    for (int r = 0; r < out; r += ROW_STEP) {
        int rows = out - r < ROW_STEP ? out - r : ROW_STEP;
        const float *w = block;
        if (t) {
            const unsigned char *src = t->data + (size_t)r * in * item;
            nmt_convert_to_f32(block, src, (int64_t)rows * in, t->dtype);
            nmt_model_release_mapped(m, src, (size_t)rows * in * item);
        } else {
            w = lw->w + (size_t)r * in;
        }
        if (bf16)
            nmt_bf16_set_rows(h, w, r, rows);
        else if ((rc = nmt_q8_set_rows(q, w, r, rows, err)))
            return rc;
        if (!t)
            nmt_model_release_mapped(m, w, (size_t)rows * in * sizeof(float));
    }
    if (lw->w)
        nmt_model_release_weights(m, lw->w, (size_t)out * in * sizeof(float));
    lw->q8 = q;
    lw->bf16 = h;
    lw->w = NULL;
    return NMT_OK;
}

nmt_code nmt_model_quantize(nmt_model *m, nmt_err *err)
{
    const nmt_hparams *hp = &m->hp;
    size_t widest = 0; /* one buffer for every deferred block: the rows of the widest matrix */
    for (int i = 0; i < m->n_deferred; i++) {
        const nmt_st_tensor *t = m->deferred[i].t;
        size_t block = (size_t)(t->shape[0] < ROW_STEP ? t->shape[0] : ROW_STEP) * (size_t)t->shape[1];
        widest = block > widest ? block : widest;
    }
    if (widest && !(m->convert_block = malloc(widest * sizeof *m->convert_block)))
        return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory converting weights");
    nmt_code rc = nmt_model_each_linear(m, convert_linear, err);
    /* the output layer; its fp32 rows stay readable (from the file, or the
     * converted embedding table) for token lookups */
    if (!rc)
        rc = convert_linear(m, &m->output.full, hp->vocab_size, hp->d_model, err);
    free(m->convert_block);
    m->convert_block = NULL;
    if (rc)
        return rc;
    if (m->st.map) /* what is still read from the file is read row by row: no readahead */
        madvise(m->st.map, m->st.map_size, MADV_RANDOM);
    return NMT_OK;
}
