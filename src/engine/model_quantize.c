/* model_quantize.c: compute_type int8 and bfloat16 — every linear layer of
 * the encoder and decoder converted once at load (int8: qgemm.h; bfloat16:
 * bf16_gemm.h), and the output layer (int8: converted too; bfloat16: the
 * int8 screen of float32, logits.h), each fp32 matrix given back as
 * soon as its converted copy exists, so the process holds the converted
 * weights and about one fp32 matrix at a time. */
#include "model_parts.h"

#include <stdlib.h>
#include <sys/mman.h>

/* 1024 rows at a time (whole bfloat16 panels), each step's fp32 rows
 * given back once converted when they lie in the mapped file: the output
 * layer alone is 119 MB of fp32 for opus-mt-en-de, never resident at once. */
enum { ROW_STEP = NMT_MODEL_BLOCK_ROWS };

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
        if ((rc = nmt_q8_alloc(q, out, in, nmt_q8_levels(), err)) || (rc = nmt_model_own(m, q->w, err)) ||
            (rc = nmt_model_own(m, q->scale, err)) || (rc = nmt_model_own(m, q->offset_sum, err)))
            return rc;
    }
    for (int r = 0; r < out; r += ROW_STEP) {
        int rows = out - r < ROW_STEP ? out - r : ROW_STEP;
        const float *w = nmt_model_weight_rows(m, lw, r, rows, in);
        if (bf16)
            nmt_bf16_set_rows(h, w, r, rows);
        else if ((rc = nmt_q8_set_rows(q, w, r, rows, err)))
            return rc;
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
    nmt_code rc = nmt_model_rows_begin(m, err);
    if (rc)
        return rc;
    rc = nmt_model_each_linear(m, convert_linear, err);
    /* the output layer.  int8: converted like the others.  bfloat16: as
     * float32's, the int8 screen and exact fp32 logits of its candidates
     * (a quarter of the bytes of bfloat16 rows and the int8 products'
     * speed), or every exact logit where the screen's kernels do not run;
     * the fp32 rows are read one at a time (read_row).  Either way its
     * fp32 rows stay readable for token lookups. */
    if (!rc && m->compute == NMT_COMPUTE_INT8)
        rc = convert_linear(m, &m->output.full, hp->vocab_size, hp->d_model, err);
    else if (!rc && nmt_logits_screen_available())
        rc = nmt_model_screen_output(m, err);
    else if (!rc)
        m->output.exact = 1;
    nmt_model_rows_end(m);
    if (rc)
        return rc;
    if (m->st.map) /* what is still read from the file is read row by row: no readahead */
        madvise(m->st.map, m->st.map_size, MADV_RANDOM);
    return NMT_OK;
}
