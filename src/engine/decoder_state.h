/* decoder_state.h: what the decoder remembers between steps, per row (a
 * sentence being decoded): the self-attention keys and values of every token
 * it has fed (the KV cache), the cross-attention keys and values of its
 * source sentence, and how many tokens it has fed (its next position).
 * Keys and values are fp32, or bfloat16 (rounded to nearest even) for the
 * int8 and bfloat16 compute types: half the memory, and half the bytes
 * attention reads at every step.
 * Rows are independent: each has its own source and position, so rows may
 * start and finish at different steps.  Reserved once for max_rows rows;
 * owned by one worker.  The forward pass reads and appends to it; the search
 * loop decides which rows run. */
#ifndef NMT_DECODER_STATE_H
#define NMT_DECODER_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "hparams.h"

typedef struct nmt_decoder_state {
    int max_rows;       /* rows (sentences) decoded at once */
    int max_src_tokens; /* source tokens of all rows together */
    int max_steps;      /* tokens a row may feed (<= max_position_embeddings) */
    int layers, d;
    int kv_bf16;              /* keys and values stored as bfloat16 (uint16_t), else float */
    void *self_k, *self_v;    /* [layers][max_rows][max_steps][d] */
    void *cross_k, *cross_v;  /* [layers][max_src_tokens][d] */
    int *src_off, *src_len;   /* [max_rows] the row's source tokens in cross_k / cross_v */
    int *steps;               /* [max_rows] tokens the row has fed: its next position */
    size_t bytes;
} nmt_decoder_state;

/* kv_bf16: store keys and values as bfloat16. */
nmt_code nmt_decoder_state_init(nmt_decoder_state *s, const nmt_hparams *hp, int max_rows, int max_src_tokens,
                                int max_steps, int kv_bf16, nmt_err *err);
void nmt_decoder_state_free(nmt_decoder_state *s);

/* Row `row`'s cache of layer l (self_k or self_v), max_steps rows of d. */
void *nmt_decoder_state_cache(const nmt_decoder_state *s, void *base, int l, int row);

/* Layer l's cross keys or values (cross_k or cross_v), max_src_tokens rows of d. */
void *nmt_decoder_state_cross(const nmt_decoder_state *s, void *base, int l);

/* Row `at` of a cache or cross block (rows of d). */
void *nmt_decoder_state_row(const nmt_decoder_state *s, void *block, size_t at);

/* rows rows of d values from src stored at dst (a row of a cache or cross
 * block), as the state stores them. */
void nmt_decoder_state_put(const nmt_decoder_state *s, void *dst, const float *src, size_t rows);

#endif
