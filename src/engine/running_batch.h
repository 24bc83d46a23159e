/* running_batch.h: continuous greedy decoding.  A running batch is a set of
 * rows (sentences) decoding together; sentences join it at any step and
 * leave it the step they finish, so a short sentence never waits for long
 * ones and the decode-step products stay wide while there is work
 * (iteration-level scheduling, as in Orca / vLLM).
 *
 *   nmt_running_admit  the encoder runs on the newcomers only (packed), their
 *                      cross-attention K/V go into free rows, each starts at
 *                      position 0 with the decoder start token;
 *   nmt_running_step   one decoder step for every live row, each at its own
 *                      position; rows that produce end-of-sequence or reach
 *                      their limit leave and are reported;
 *   nmt_running_cancel a live row leaves now (its client went away).
 *
 * A sentence's tokens do not depend on what else is in the batch: every
 * product sums each row in a fixed order (bit-identical with the packed
 * kernel), and rows share nothing else.  Which sentences join when is the
 * caller's policy (the batcher).  Owned by one thread; never allocates after
 * nmt_running_new. */
#ifndef NMT_RUNNING_BATCH_H
#define NMT_RUNNING_BATCH_H

#include "err.h"
#include "search.h"
#include "translator.h"

typedef struct nmt_running_batch nmt_running_batch;

typedef struct nmt_row_input {
    const int *ids; /* source ids, </s> included (1 .. max_position_embeddings) */
    int len;
    int limit;      /* generated tokens at most (eos included), 1 .. max_position_embeddings */
} nmt_row_input;

/* A running batch of at most max_rows rows; one admission encodes at most
 * max_tokens source tokens (raised to the model's position limit). */
nmt_code nmt_running_new(nmt_running_batch **out, const nmt_translator *tr, int max_rows, int max_tokens,
                         int min_length, nmt_err *err);
void nmt_running_free(nmt_running_batch *rb);

int nmt_running_max_rows(const nmt_running_batch *rb);
int nmt_running_max_tokens(const nmt_running_batch *rb);
int nmt_running_live(const nmt_running_batch *rb);        /* rows decoding */
long nmt_running_live_tokens(const nmt_running_batch *rb); /* their source tokens */

/* Admits n sentences (n <= max_rows - live, sum of len <= max_tokens):
 * rows_out[i] receives the row sentence i decodes in.  NMT_ERR_INVALID
 * (nothing admitted) when they do not fit or an input is out of range. */
nmt_code nmt_running_admit(nmt_running_batch *rb, const nmt_row_input *in, int n, int *rows_out, nmt_err *err);

/* One decoder step for every live row.  The rows that finished are written
 * to finished[] (room for max_rows) and leave; returns their count.  stats
 * (may be NULL) accumulates steps and generated tokens. */
int nmt_running_step(nmt_running_batch *rb, int *finished, nmt_search_stats *stats);

/* The ids a finished row generated (eos included); valid until the row is
 * admitted again. */
const int *nmt_running_output(const nmt_running_batch *rb, int row, int *n_out);

/* A live row leaves now, unfinished (no-op for a row that is not live). */
void nmt_running_cancel(nmt_running_batch *rb, int row);

#endif
