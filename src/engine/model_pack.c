/* model_pack.c: the weights repacked once for the packed kernel (gemm.h),
 * layer by layer, each source matrix given back as soon as its copy exists,
 * so the process holds about one copy of the weights; and the output layer's
 * int8 screen (logits.h). */
#include "model_parts.h"

#include <stdlib.h>
#include <sys/mman.h>

#include "gemm.h"
#include "huge_alloc.h"
#include "util.h"

static nmt_code pack_linear(nmt_model *m, nmt_linear_w *lw, int out, int in, nmt_err *err)
{
    float *packed = nmt_huge_alloc(nmt_gemm_packed_size(out, in) * sizeof *packed);
    if (!packed || nmt_model_own(m, packed, err))
        return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory packing weights");
    /* 1024 rows (whole panels) at a time, each released once packed, so the
     * packed copy never coexists with much of the original (rows still in
     * an F16/BF16 file are widened a block at a time) */
    const int chunk = NMT_MODEL_BLOCK_ROWS;
    for (int r = 0; r < out; r += chunk) {
        int rows = out - r < chunk ? out - r : chunk;
        const float *w = nmt_model_weight_rows(m, lw, r, rows, in);
        nmt_gemm_pack(packed + (size_t)r * in, w, rows, in);
        nmt_model_release_mapped(m, w, (size_t)rows * in * sizeof(float));
    }
    if (lw->w) /* a converted copy as a whole */
        nmt_model_release_weights(m, lw->w, (size_t)out * in * sizeof(float));
    lw->packed = packed;
    lw->w = NULL;
    return NMT_OK;
}

nmt_code nmt_model_screen_output(nmt_model *m, nmt_err *err)
{
    int vocab = m->hp.vocab_size, d = m->hp.d_model;
    nmt_logits_screen *screen = calloc(1, sizeof *screen);
    if (!screen)
        return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
    nmt_code rc = nmt_logits_screen_alloc(screen, vocab, d, err);
    if (rc) {
        free(screen);
        return rc;
    }
    m->output.screen = screen; /* nmt_model_free frees it from here on */
    for (int r = 0; r < vocab; r += NMT_MODEL_BLOCK_ROWS) {
        int rows = vocab - r < NMT_MODEL_BLOCK_ROWS ? vocab - r : NMT_MODEL_BLOCK_ROWS;
        const float *w = nmt_model_weight_rows(m, &m->output.full, r, rows, d);
        nmt_logits_screen_set_rows(screen, w, r, rows);
        nmt_model_release_mapped(m, w, (size_t)rows * d * sizeof(float));
    }
    return NMT_OK;
}

/* Packs every weight matrix once, layer by layer, so that peak memory stays
 * near one copy of the weights. */
nmt_code nmt_model_pack(nmt_model *m, nmt_err *err)
{
    nmt_code rc = nmt_model_rows_begin(m, err); /* on an error, nmt_model_free frees the rows' buffer */
    if (rc || (rc = nmt_model_each_linear(m, pack_linear, err)))
        return rc;
    /* the output layer goes through the int8 screen (which runs wherever the
     * packed kernel does); the fp32 rows stay where they are, read only for
     * the few tokens the screen keeps */
    if ((rc = nmt_model_screen_output(m, err)))
        return rc;
    nmt_model_rows_end(m);
    if (m->st.map) /* what is still read from the file is read row by row: no readahead */
        madvise(m->st.map, m->st.map_size, MADV_RANDOM);
    m->packed = 1;
    return NMT_OK;
}
