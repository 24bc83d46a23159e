/* decoder_state.c: reserving and addressing the decoder's per-row memory. */
#include "decoder_state.h"

#include <stdlib.h>
#include <string.h>

#include "float_convert.h"

/* Bytes of one stored key or value. */
static size_t value_size(const nmt_decoder_state *s) { return s->kv_bf16 ? sizeof(uint16_t) : sizeof(float); }

nmt_code nmt_decoder_state_init(nmt_decoder_state *s, const nmt_hparams *hp, int max_rows, int max_src_tokens,
                                int max_steps, int kv_bf16, nmt_err *err)
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
    s->kv_bf16 = kv_bf16 != 0;
    size_t L = (size_t)s->layers, d = (size_t)s->d, R = (size_t)max_rows;
    size_t cache = L * R * (size_t)max_steps * d, cross = L * (size_t)max_src_tokens * d;
    /* large blocks are mmap'd lazily by malloc: only what rows use is touched */
    size_t size = value_size(s);
    s->self_k = malloc(cache * size);
    s->self_v = malloc(cache * size);
    s->cross_k = malloc(cross * size);
    s->cross_v = malloc(cross * size);
    s->src_off = calloc(R, sizeof(int));
    s->src_len = calloc(R, sizeof(int));
    s->steps = calloc(R, sizeof(int));
    s->bytes = 2 * (cache + cross) * size + 3 * R * sizeof(int);
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

void *nmt_decoder_state_row(const nmt_decoder_state *s, void *block, size_t at)
{
    return (char *)block + at * (size_t)s->d * value_size(s);
}

void *nmt_decoder_state_cache(const nmt_decoder_state *s, void *base, int l, int row)
{
    return nmt_decoder_state_row(s, base, ((size_t)l * s->max_rows + (size_t)row) * s->max_steps);
}

void *nmt_decoder_state_cross(const nmt_decoder_state *s, void *base, int l)
{
    return nmt_decoder_state_row(s, base, (size_t)l * s->max_src_tokens);
}

void nmt_decoder_state_put(const nmt_decoder_state *s, void *dst, const float *src, size_t rows)
{
    size_t n = rows * (size_t)s->d;
    if (!s->kv_bf16) {
        memcpy(dst, src, n * sizeof(float));
        return;
    }
    uint16_t *h = dst;
    for (size_t i = 0; i < n; i++)
        h[i] = nmt_f32_to_bf16(src[i]);
}
