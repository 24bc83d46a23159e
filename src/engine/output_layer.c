/* output_layer.c: the greedy choice of the next token (see output_layer.h). */
#include "output_layer.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

/* A block of logits: n rows x block columns, about BLOCK_FLOATS floats
 * (128 KB), stays in L2 between the product that writes it and the argmax
 * that reads it; never narrower than MIN_BLOCK_COLUMNS. */
enum { BLOCK_FLOATS = 32768, MIN_BLOCK_COLUMNS = 256 };

/* Columns per block of logits for n rows. */
static int block_columns(int n)
{
    int block = BLOCK_FLOATS / (n > 0 ? n : 1) / NMT_LINEAR_BLOCK_ALIGN * NMT_LINEAR_BLOCK_ALIGN;
    return block < MIN_BLOCK_COLUMNS ? MIN_BLOCK_COLUMNS : block;
}

/* Floats of logits scratch for up to max_rows rows (blocks): the largest
 * block, n x block_columns(n) for n <= max_rows. */
static size_t logits_floats(const nmt_output_layer *o, size_t max_rows)
{
    size_t all = max_rows * (size_t)o->vocab;
    size_t widest = max_rows * MIN_BLOCK_COLUMNS, most = widest > BLOCK_FLOATS ? widest : BLOCK_FLOATS;
    return most < all ? most : all;
}

nmt_code nmt_output_scratch_init(nmt_output_scratch *s, const nmt_output_layer *o, int max_rows, nmt_err *err)
{
    memset(s, 0, sizeof *s);
    size_t R = (size_t)(max_rows > 0 ? max_rows : 1), d = (size_t)o->d;
    s->max_rows = (int)R;
    if (o->screen) {
        nmt_code rc = nmt_logits_scratch_init(&s->screen, o->screen, (int)R, err);
        if (rc != NMT_OK)
            return rc;
        s->screen.read_row = o->read_row;
        s->screen.read_ctx = o->read_user;
        s->bytes = s->screen.bytes;
        return NMT_OK;
    }
    if (o->exact) {
        s->rows = malloc(d * sizeof(float));
        s->best = malloc(R * sizeof(float));
        s->bytes = (d + R) * sizeof(float);
    } else {
        size_t floats = logits_floats(o, R);
        s->logits = malloc(floats * sizeof(float));
        s->best = malloc(R * sizeof(float));
        s->bytes = (floats + R) * sizeof(float);
    }
    if (!s->best || (o->exact ? !s->rows : !s->logits)) {
        nmt_output_scratch_free(s);
        return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory for the logits of %zu rows", R);
    }
    return NMT_OK;
}

void nmt_output_scratch_free(nmt_output_scratch *s)
{
    if (!s)
        return;
    nmt_logits_scratch_free(&s->screen);
    free(s->logits);
    free(s->best);
    free(s->rows);
    memset(s, 0, sizeof *s);
}

/* The running choice of each row while the blocks of logits go past. */
typedef struct block_choice {
    int *out;    /* [n] the best column so far, -1 before any */
    float *best; /* [n] its logit */
    int ban_a, ban_b;
} block_choice;

/* Each row's argmax within the block, kept when strictly better than the
 * blocks before it: over all blocks, the first index of the largest
 * unbanned logit, as nmt_argmax over the whole row. */
static void choose_in_block(void *ctx, const float *y, int m, int j0, int nc)
{
    block_choice *c = ctx;
    for (int r = 0; r < m; r++) {
        const float *row = y + (size_t)r * nc;
        int a = nmt_argmax(row, nc, c->ban_a < 0 ? -1 : c->ban_a - j0, c->ban_b < 0 ? -1 : c->ban_b - j0);
        if (a >= 0 && (c->out[r] < 0 || row[a] > c->best[r])) {
            c->out[r] = j0 + a;
            c->best[r] = row[a];
        }
    }
}

void nmt_output_choose(const nmt_output_layer *o, const float *x, int n, int ban_a, int ban_b, nmt_output_scratch *s,
                       int *out)
{
    if (o->screen) {
        nmt_logits_choose(o->screen, o->w, o->bias, x, n, ban_a, ban_b, &s->screen, out, NULL);
        return;
    }
    if (o->exact) {
        nmt_logits_choose_exact(o->w, o->bias, x, n, o->vocab, o->d, ban_a, ban_b, o->read_row, o->read_user,
                                s->rows, s->best, out);
        return;
    }
    for (int r = 0; r < n; r++)
        out[r] = -1;
    block_choice choice = {.out = out, .best = s->best, .ban_a = ban_a, .ban_b = ban_b};
    nmt_linear_blocks(s->logits, x, n, o->d, o->vocab, &o->full, block_columns(n), choose_in_block, &choice);
}
