/* output_layer.c: the greedy choice of the next token (see output_layer.h). */
#include "output_layer.h"

#include <stdlib.h>
#include <string.h>

nmt_code nmt_output_scratch_init(nmt_output_scratch *s, const nmt_output_layer *o, int max_rows, nmt_err *err)
{
    memset(s, 0, sizeof *s);
    size_t R = (size_t)(max_rows > 0 ? max_rows : 1), V = (size_t)o->vocab, d = (size_t)o->d;
    s->max_rows = (int)R;
    s->logits = malloc(R * V * sizeof(float)); /* large: pages are touched only as far as a batch needs */
    s->bytes = R * V * sizeof(float);
    if (o->screen) {
        s->xq = malloc(R * (d + 3));
        s->xmax = malloc(R * sizeof(float));
        s->cand = malloc(V * sizeof(int));
        s->bounds = malloc(V * sizeof(float));
        s->rows = malloc(16 * d * sizeof(float));
        s->bytes += R * (d + 3) + R * sizeof(float) + V * (sizeof(int) + sizeof(float)) + 16 * d * sizeof(float);
        if (!s->xq || !s->xmax || !s->cand || !s->bounds || !s->rows) {
            nmt_output_scratch_free(s);
            return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory for the output layer's scratch");
        }
    }
    if (!s->logits) {
        nmt_output_scratch_free(s);
        return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory for %zu x %zu logits", R, V);
    }
    return NMT_OK;
}

void nmt_output_scratch_free(nmt_output_scratch *s)
{
    if (!s)
        return;
    free(s->logits);
    free(s->xq);
    free(s->xmax);
    free(s->cand);
    free(s->bounds);
    free(s->rows);
    memset(s, 0, sizeof *s);
}

void nmt_output_choose(const nmt_output_layer *o, const float *x, int n, int ban_a, int ban_b, nmt_output_scratch *s,
                       int *out)
{
    if (o->screen) {
        nmt_logits_scratch sc = {.xq = s->xq, .xmax = s->xmax, .approx = s->logits, .cand = s->cand,
                                 .bounds = s->bounds, .rows = s->rows, .read_row = o->read_row,
                                 .read_ctx = o->read_user};
        nmt_logits_choose(o->screen, o->w, o->bias, x, n, ban_a, ban_b, &sc, out, NULL);
        return;
    }
    nmt_linear(s->logits, x, n, o->d, o->vocab, &o->full);
    for (int r = 0; r < n; r++)
        out[r] = nmt_argmax(s->logits + (size_t)r * o->vocab, o->vocab, ban_a, ban_b);
}
