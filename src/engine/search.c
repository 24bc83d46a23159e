/* search.c: the greedy loop.  Owns no memory: the batch's rows, tokens and
 * outputs live in the caller's workspace and arrays. */
#include "search.h"

#include <string.h>

#include "decoder.h"
#include "encoder.h"
#include "kernels.h"

void nmt_greedy_decode(const nmt_model *model, nmt_workspace *ws, int n, const int *const *src, const int *src_len,
                       const int *limit, int min_length, int *const *out, int *out_len, nmt_search_stats *stats)
{
    const nmt_hparams *hp = &model->hp;
    int total = 0;
    for (int i = 0; i < n; i++) {
        ws->src_off[i] = total;
        ws->src_len[i] = src_len[i];
        memcpy(ws->src_ids + total, src[i], (size_t)src_len[i] * sizeof(int));
        total += src_len[i];
        out_len[i] = 0;
        ws->live[i] = i;
        ws->tokens[i] = hp->dec_start_id;
    }
    nmt_encoder_forward(model, ws, n, total);
    nmt_decoder_prepare(model, ws, total);
    int n_live = n, step = 0;
    long produced = 0;
    while (n_live > 0) {
        nmt_decoder_step(model, ws, n_live, step);
        step++;
        int ban_eos = step < min_length ? hp->eos_id : -1;
        nmt_decoder_choose(model, ws, n_live, hp->pad_id, ban_eos, ws->next);
        int kept = 0;
        for (int r = 0; r < n_live; r++) {
            int row = ws->live[r];
            int tok = ws->next[r];
            out[row][out_len[row]++] = tok;
            produced++;
            if (tok == hp->eos_id || out_len[row] >= limit[row])
                continue; /* finished: leaves the batch */
            ws->live[kept] = row;
            ws->tokens[kept] = tok;
            kept++;
        }
        n_live = kept;
    }
    if (stats) {
        stats->steps += step;
        stats->tokens_out += produced;
    }
}
