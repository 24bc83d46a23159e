/* output_layer.h: the decoder's last box, from the top hidden state of each
 * live row to its greedy choice of the next token:
 *   logits = x . W^T + final_logits_bias,  choice = argmax (with bans).
 * W is the shared embedding when the model ties them (Marian does), else
 * lm_head.  Three ways to the choice:
 *  - screen: for float32 where the packed kernel runs and for bfloat16
 *    wherever the screen's kernels run (AVX2 or AVX-512), the int8 screen
 *    (logits.h), then exact fp32 logits of the few candidates it keeps;
 *  - exact: for bfloat16 without them, every exact fp32 logit in the
 *    screen's order of operations (the same choice, slowly);
 *  - else the full product in the model's compute type (float32 on
 *    OpenBLAS, int8), a block of columns at a time, each block's argmax
 *    taken while the block is still in cache.
 * Immutable after loading; thread-safe with one scratch per thread. */
#ifndef NMT_OUTPUT_LAYER_H
#define NMT_OUTPUT_LAYER_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "kernels.h"
#include "logits.h"

typedef struct nmt_output_layer {
    int vocab, d;
    const float *w;            /* [vocab][d] fp32 rows (maybe file-backed: read them with read_row) */
    const float *bias;         /* [vocab] final_logits_bias (zeros when the file has none) */
    nmt_linear_w full;         /* w + bias for the full product; packed when the kernel runs without screen */
    nmt_logits_screen *screen; /* int8 screen of w, or NULL */
    int exact;                 /* no screen: every exact fp32 logit (nmt_logits_choose_exact) */
    void (*read_row)(void *user, int i, float *dst); /* copies row i of w into dst */
    void *read_user;
} nmt_output_layer;

/* One thread's scratch for nmt_output_choose, for up to max_rows rows. */
typedef struct nmt_output_scratch {
    int max_rows;
    nmt_logits_scratch screen; /* with the screen */
    float *logits;             /* one block of logits (full product) */
    float *best;               /* [max_rows] the best logit so far of each row (blocks, exact) */
    float *rows;               /* [d] one fp32 row (exact) */
    size_t bytes;
} nmt_output_scratch;

nmt_code nmt_output_scratch_init(nmt_output_scratch *s, const nmt_output_layer *o, int max_rows, nmt_err *err);
void nmt_output_scratch_free(nmt_output_scratch *s);

/* out[r] = argmax over the vocabulary of the logits of x[r][d], skipping
 * ban_a and ban_b (-1 for none), first index on ties; n <= s->max_rows. */
void nmt_output_choose(const nmt_output_layer *o, const float *x, int n, int ban_a, int ban_b, nmt_output_scratch *s,
                       int *out);

#endif
