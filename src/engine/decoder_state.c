/* decoder_state.c: reserving and addressing the decoder's per-row memory. */
#include "decoder_state.h"

#include <stdlib.h>
#include <string.h>

nmt_code nmt_decoder_state_init(nmt_decoder_state *s, const nmt_hparams *hp, int max_rows, int max_src_tokens,
                                int max_steps, nmt_err *err)
{
    memset(s, 0, sizeof *s);
    if (max_rows < 1 || max_src_tokens < 1 || max_steps < 1)
        return nmt_err_set(err, NMT_ERR_INVALID, "decoder state caps must be positive");
    if (max_steps > hp->max_pos)
        max_steps = hp->max_pos;
    s->max_rows = max_rows;
    s->max_src_tokens = max_src_tokens;
    s->max_steps = max_steps;
    s->layers = hp->dec_layers;
    s->d = hp->d_model;
    size_t L = (size_t)s->layers, d = (size_t)s->d, R = (size_t)max_rows;
    size_t cache = L * R * (size_t)max_steps * d, cross = L * (size_t)max_src_tokens * d;
    /* large blocks are mmap'd lazily by malloc: only what rows use is touched */
    s->self_k = malloc(cache * sizeof(float));
    s->self_v = malloc(cache * sizeof(float));
    s->cross_k = malloc(cross * sizeof(float));
    s->cross_v = malloc(cross * sizeof(float));
    s->src_off = calloc(R, sizeof(int));
    s->src_len = calloc(R, sizeof(int));
    s->steps = calloc(R, sizeof(int));
    s->bytes = 2 * (cache + cross) * sizeof(float) + 3 * R * sizeof(int);
    if (!s->self_k || !s->self_v || !s->cross_k || !s->cross_v || !s->src_off || !s->src_len || !s->steps) {
        size_t bytes = s->bytes;
        nmt_decoder_state_free(s);
        return nmt_err_set(err, NMT_ERR_NOMEM, "cannot reserve a %.1f MB decoder state", (double)bytes / 1e6);
    }
    return NMT_OK;
}

void nmt_decoder_state_free(nmt_decoder_state *s)
{
    if (!s)
        return;
    free(s->self_k);
    free(s->self_v);
    free(s->cross_k);
    free(s->cross_v);
    free(s->src_off);
    free(s->src_len);
    free(s->steps);
    memset(s, 0, sizeof *s);
}

float *nmt_decoder_state_cache(const nmt_decoder_state *s, float *base, int l, int row)
{
    return base + (((size_t)l * s->max_rows + (size_t)row) * s->max_steps) * s->d;
}

float *nmt_decoder_state_cross(const nmt_decoder_state *s, float *base, int l)
{
    return base + (size_t)l * s->max_src_tokens * s->d;
}
