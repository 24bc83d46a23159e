/* search.h: greedy decoding of one batch.  Start from decoder_start_token_id,
 * take the argmax at every step (the pad token is never chosen, end-of-
 * sequence not before min_length tokens), stop a sentence at eos_token_id or
 * at its own length limit; finished sentences leave the batch at once. */
#ifndef NMT_SEARCH_H
#define NMT_SEARCH_H

#include "model.h"
#include "workspace.h"

typedef struct nmt_search_stats {
    int steps;       /* decoder steps run */
    long tokens_out; /* ids generated, eos included */
} nmt_search_stats;

/* Decodes n sentences: src[i] (src_len[i] ids, </s> included).  Requires
 * 1 <= n <= ws->max_batch, sum(src_len) <= ws->max_tokens and
 * 1 <= limit[i] <= ws->max_steps.  out[i] receives at most limit[i] ids (the
 * start token excluded, the final eos included) and out_len[i] their count.
 * Never allocates; not thread-safe on the same ws. */
void nmt_greedy_decode(const nmt_model *model, nmt_workspace *ws, int n, const int *const *src, const int *src_len,
                       const int *limit, int min_length, int *const *out, int *out_len, nmt_search_stats *stats);

#endif
