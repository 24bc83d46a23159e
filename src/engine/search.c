/* search.c: the greedy loop: encoder once, then decoder step, output layer
 * and bookkeeping until every sentence has finished. */
#include "search.h"

#include <stdlib.h>
#include <string.h>

#include "decoder.h"
#include "log.h"

nmt_code nmt_search_state_init(nmt_search_state *s, const nmt_model *model, int max_batch, int max_tokens,
                               int cross_tokens, int max_steps, nmt_err *err)
{
    memset(s, 0, sizeof *s);
    const nmt_hparams *hp = &model->hp;
    if (max_batch < 1 || max_tokens < 1 || max_steps < 1)
        return nmt_err_set(err, NMT_ERR_INVALID, "search caps must be positive");
    if (max_tokens < max_batch)
        max_tokens = max_batch; /* every sentence has at least </s> */
    if (max_steps > hp->max_pos)
        max_steps = hp->max_pos;
    s->max_batch = max_batch;
    s->max_tokens = max_tokens;
    s->max_steps = max_steps;
    nmt_code rc;
    if ((rc = nmt_activations_init(&s->act, hp, max_tokens, max_steps, err)) ||
        (rc = nmt_decoder_state_init(&s->dec, hp, max_batch, cross_tokens > max_tokens ? cross_tokens : max_tokens,
                                     max_steps, model->compute != NMT_COMPUTE_FLOAT32, err)) ||
        (rc = nmt_output_scratch_init(&s->out, &model->output, max_batch, err))) {
        nmt_search_state_free(s);
        return rc;
    }
    s->live = malloc((size_t)max_batch * sizeof(int));
    s->tokens = malloc((size_t)max_batch * sizeof(int));
    s->next = malloc((size_t)max_batch * sizeof(int));
    if (!s->live || !s->tokens || !s->next) {
        nmt_search_state_free(s);
        return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
    }
    nmt_debug("search", "reserved %.1f MB for batches of %d sentences / %d tokens, %d steps",
              (double)(s->act.bytes + s->dec.bytes + s->out.bytes) / 1e6, max_batch, max_tokens, max_steps);
    return NMT_OK;
}

void nmt_search_state_free(nmt_search_state *s)
{
    if (!s)
        return;
    nmt_activations_free(&s->act);
    nmt_decoder_state_free(&s->dec);
    nmt_output_scratch_free(&s->out);
    free(s->live);
    free(s->tokens);
    free(s->next);
    memset(s, 0, sizeof *s);
}

void nmt_greedy_decode(const nmt_model *model, nmt_search_state *s, const nmt_source_batch *src, const int *limit,
                       int min_length, int *const *out, int *out_len, nmt_search_stats *stats)
{
    const nmt_hparams *hp = &model->hp;
    int n = src->n;
    for (int i = 0; i < n; i++) {
        out_len[i] = 0;
        s->live[i] = i; /* sentence i decodes in row i */
        s->tokens[i] = hp->dec_start_id;
    }
    nmt_encoder_forward(model, src, &s->act);
    nmt_decoder_start(model, &s->dec, src, s->act.x, s->live, src->off, &s->act); /* packed as the source */
    int n_live = n, step = 0;
    long produced = 0;
    while (n_live > 0) {
        nmt_decoder_step(model, &s->dec, s->live, s->tokens, n_live, &s->act);
        step++;
        int ban_eos = step < min_length ? hp->eos_id : -1;
        nmt_output_choose(&model->output, s->act.x, n_live, hp->pad_id, ban_eos, &s->out, s->next);
        int kept = 0;
        for (int r = 0; r < n_live; r++) {
            int row = s->live[r];
            int tok = s->next[r];
            out[row][out_len[row]++] = tok;
            produced++;
            if (tok == hp->eos_id || out_len[row] >= limit[row])
                continue; /* finished: leaves the batch */
            s->live[kept] = row;
            s->tokens[kept] = tok;
            kept++;
        }
        n_live = kept;
    }
    if (stats) {
        stats->steps += step;
        stats->tokens_out += produced;
    }
}
