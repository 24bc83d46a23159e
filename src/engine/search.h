/* search.h: greedy decoding of one batch.  Start from decoder_start_token_id,
 * take the argmax at every step (the pad token is never chosen, end-of-
 * sequence not before min_length tokens), stop a sentence at eos_token_id or
 * at its own length limit; finished sentences leave the batch at once. */
#ifndef NMT_SEARCH_H
#define NMT_SEARCH_H

#include "activations.h"
#include "decoder_state.h"
#include "encoder.h"
#include "model.h"
#include "output_layer.h"

/* All the mutable memory one worker decodes with, each part owned by its
 * concept, plus the loop's own: reserved once, reused for every batch. */
typedef struct nmt_search_state {
    nmt_activations act;    /* forward pass (rows: source tokens, then live sentences) */
    nmt_decoder_state dec;  /* per-sentence KV caches and cross K/V */
    nmt_output_scratch out; /* output layer */
    int *live;              /* [max_batch] decoder rows still decoding */
    int *tokens;            /* [max_batch] the last token of each live row */
    int *next;              /* [max_batch] the token chosen for each live row */
    int max_batch, max_tokens, max_steps;
} nmt_search_state;

/* Reserves a state for batches of at most max_batch sentences and
 * max_tokens source tokens (at least max_batch), each decoding at most
 * max_steps tokens (capped at the model's max_position_embeddings); the
 * decoder state keeps cross K/V for cross_tokens source tokens (at least
 * max_tokens: enough for packed batches). */
nmt_code nmt_search_state_init(nmt_search_state *s, const nmt_model *model, int max_batch, int max_tokens,
                               int cross_tokens, int max_steps, nmt_err *err);
void nmt_search_state_free(nmt_search_state *s);

typedef struct nmt_search_stats {
    int steps;       /* decoder steps run */
    long tokens_out; /* ids generated, eos included */
} nmt_search_stats;

/* Decodes the src->n sentences of src.  Requires 1 <= src->n <=
 * s->max_batch, src->total <= s->max_tokens and 1 <= limit[i] <= s->max_steps.
 * out[i] receives at most limit[i] ids (the start token excluded, the final
 * eos included) and out_len[i] their count.  Never allocates. */
void nmt_greedy_decode(const nmt_model *model, nmt_search_state *s, const nmt_source_batch *src, const int *limit,
                       int min_length, int *const *out, int *out_len, nmt_search_stats *stats);

#endif
