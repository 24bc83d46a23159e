/* running_batch.c: rows joining and leaving a running decode (see
 * running_batch.h).  Memory: the search state's decoder state has one
 * region of max_position_embeddings source tokens per row, so a row's cross
 * K/V never move and admission needs no allocator; as everywhere, pages are
 * touched only as far as the sources need. */
#include "running_batch.h"

#include <stdlib.h>
#include <string.h>

#include "decoder.h"
#include "encoder.h"

struct nmt_running_batch {
    const nmt_model *model;
    nmt_search_state s;   /* activations, decoder state, output scratch; s.live/tokens/next: the live rows */
    int max_rows, max_tokens, max_pos, min_length;
    int n_live;
    long live_tokens;
    unsigned char *in_use; /* [max_rows] */
    int *limit;           /* [max_rows] */
    int *out_len;         /* [max_rows] */
    int *out;             /* [max_rows][max_pos] generated ids */
    int *packed_ids;      /* [max_tokens] newcomers' ids back to back */
    int *packed_off, *packed_len, *rows, *cross_at; /* [max_rows] per newcomer */
    int *free_rows;       /* [max_rows] scratch of an admission or a step */
};

nmt_code nmt_running_new(nmt_running_batch **out, const nmt_translator *tr, int max_rows, int max_tokens,
                         int min_length, nmt_err *err)
{
    *out = NULL;
    const nmt_model *model = nmt_translator_model(tr);
    int P = model->hp.max_pos;
    if (max_rows < 1)
        return nmt_err_set(err, NMT_ERR_INVALID, "a running batch needs at least one row");
    if (max_tokens < P)
        max_tokens = P; /* any single sentence fits */
    nmt_running_batch *rb = calloc(1, sizeof *rb);
    if (!rb)
        return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
    rb->model = model;
    rb->max_rows = max_rows;
    rb->max_tokens = max_tokens;
    rb->max_pos = P;
    rb->min_length = min_length;
    /* each row has its own P source tokens of cross K/V */
    nmt_code rc = nmt_search_state_init(&rb->s, model, max_rows, max_tokens, max_rows * P, P, err);
    if (rc) {
        nmt_running_free(rb);
        return rc;
    }
    size_t R = (size_t)max_rows;
    rb->in_use = calloc(R, 1);
    rb->limit = calloc(R, sizeof(int));
    rb->out_len = calloc(R, sizeof(int));
    rb->out = malloc(R * (size_t)P * sizeof(int));
    rb->packed_ids = malloc((size_t)max_tokens * sizeof(int));
    rb->packed_off = malloc(R * sizeof(int));
    rb->packed_len = malloc(R * sizeof(int));
    rb->rows = malloc(R * sizeof(int));
    rb->cross_at = malloc(R * sizeof(int));
    rb->free_rows = malloc(R * sizeof(int));
    if (!rb->in_use || !rb->limit || !rb->out_len || !rb->out || !rb->packed_ids || !rb->packed_off ||
        !rb->packed_len || !rb->rows || !rb->cross_at || !rb->free_rows) {
        nmt_running_free(rb);
        return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory for a running batch");
    }
    *out = rb;
    return NMT_OK;
}

void nmt_running_free(nmt_running_batch *rb)
{
    if (!rb)
        return;
    nmt_search_state_free(&rb->s);
    free(rb->in_use);
    free(rb->limit);
    free(rb->out_len);
    free(rb->out);
    free(rb->packed_ids);
    free(rb->packed_off);
    free(rb->packed_len);
    free(rb->rows);
    free(rb->cross_at);
    free(rb->free_rows);
    free(rb);
}

int nmt_running_max_rows(const nmt_running_batch *rb) { return rb->max_rows; }
int nmt_running_max_tokens(const nmt_running_batch *rb) { return rb->max_tokens; }
int nmt_running_live(const nmt_running_batch *rb) { return rb->n_live; }
long nmt_running_live_tokens(const nmt_running_batch *rb) { return rb->live_tokens; }

nmt_code nmt_running_admit(nmt_running_batch *rb, const nmt_row_input *in, int n, int *rows_out, nmt_err *err)
{
    const nmt_hparams *hp = &rb->model->hp;
    if (n <= 0)
        return NMT_OK;
    if (n > rb->max_rows - rb->n_live)
        return nmt_err_set(err, NMT_ERR_INVALID, "%d sentences do not fit the %d free rows", n,
                           rb->max_rows - rb->n_live);
    int total = 0;
    for (int i = 0; i < n; i++) {
        if (in[i].len < 1 || in[i].len > rb->max_pos || in[i].limit < 1 || in[i].limit > rb->max_pos)
            return nmt_err_set(err, NMT_ERR_INVALID, "sentence %d: %d ids with limit %d (1 to %d allowed)", i,
                               in[i].len, in[i].limit, rb->max_pos);
        total += in[i].len;
    }
    if (total > rb->max_tokens)
        return nmt_err_set(err, NMT_ERR_INVALID, "%d source tokens exceed the %d of one admission", total,
                           rb->max_tokens);
    int n_free = 0;
    for (int r = 0; r < rb->max_rows && n_free < n; r++)
        if (!rb->in_use[r])
            rb->free_rows[n_free++] = r;
    int off = 0;
    for (int i = 0; i < n; i++) {
        int row = rb->free_rows[i];
        memcpy(rb->packed_ids + off, in[i].ids, (size_t)in[i].len * sizeof(int));
        rb->packed_off[i] = off;
        rb->packed_len[i] = in[i].len;
        rb->rows[i] = row;
        rb->cross_at[i] = row * rb->max_pos; /* the row's own region */
        off += in[i].len;
        rb->in_use[row] = 1;
        rb->limit[row] = in[i].limit;
        rb->out_len[row] = 0;
        rows_out[i] = row;
    }
    nmt_source_batch src = {.n = n, .total = total, .ids = rb->packed_ids, .off = rb->packed_off,
                            .len = rb->packed_len};
    nmt_encoder_forward(rb->model, &src, &rb->s.act);
    nmt_decoder_start(rb->model, &rb->s.dec, &src, rb->s.act.x, rb->rows, rb->cross_at, &rb->s.act);
    for (int i = 0; i < n; i++) { /* newcomers join the live rows, oldest first */
        rb->s.live[rb->n_live] = rb->rows[i];
        rb->s.tokens[rb->n_live] = hp->dec_start_id;
        rb->n_live++;
    }
    rb->live_tokens += total;
    return NMT_OK;
}

/* The live rows that may not end yet (fewer than min_length tokens) come
 * first, so that one call of the output layer per group applies the ban. */
static int order_for_min_length(nmt_running_batch *rb)
{
    if (rb->min_length <= 1)
        return 0;
    int n_banned = 0;
    for (int i = 0; i < rb->n_live; i++)
        n_banned += rb->out_len[rb->s.live[i]] + 1 < rb->min_length;
    if (n_banned == 0 || n_banned == rb->n_live)
        return n_banned;
    int *rows = rb->rows, *tokens = rb->free_rows, k = 0; /* scratch: stable partition */
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < rb->n_live; i++) {
            int banned = rb->out_len[rb->s.live[i]] + 1 < rb->min_length;
            if (banned == (pass == 0)) {
                rows[k] = rb->s.live[i];
                tokens[k++] = rb->s.tokens[i];
            }
        }
    memcpy(rb->s.live, rows, (size_t)rb->n_live * sizeof(int));
    memcpy(rb->s.tokens, tokens, (size_t)rb->n_live * sizeof(int));
    return n_banned;
}

int nmt_running_step(nmt_running_batch *rb, int *finished, nmt_search_stats *stats)
{
    const nmt_hparams *hp = &rb->model->hp;
    int n = rb->n_live;
    if (n == 0)
        return 0;
    int n_banned = order_for_min_length(rb);
    nmt_decoder_step(rb->model, &rb->s.dec, rb->s.live, rb->s.tokens, n, &rb->s.act);
    int d = hp->d_model;
    if (n_banned > 0)
        nmt_output_choose(&rb->model->output, rb->s.act.x, n_banned, hp->pad_id, hp->eos_id, &rb->s.out,
                          rb->s.next);
    if (n_banned < n)
        nmt_output_choose(&rb->model->output, rb->s.act.x + (size_t)n_banned * d, n - n_banned, hp->pad_id, -1,
                          &rb->s.out, rb->s.next + n_banned);
    int kept = 0, n_finished = 0;
    for (int i = 0; i < n; i++) {
        int row = rb->s.live[i], tok = rb->s.next[i];
        rb->out[(size_t)row * rb->max_pos + rb->out_len[row]++] = tok;
        if (tok == hp->eos_id || rb->out_len[row] >= rb->limit[row]) {
            rb->in_use[row] = 0;
            rb->live_tokens -= rb->s.dec.src_len[row];
            finished[n_finished++] = row;
            continue;
        }
        rb->s.live[kept] = row;
        rb->s.tokens[kept] = tok;
        kept++;
    }
    rb->n_live = kept;
    if (stats) {
        stats->steps++;
        stats->tokens_out += n;
    }
    return n_finished;
}

const int *nmt_running_output(const nmt_running_batch *rb, int row, int *n_out)
{
    *n_out = rb->out_len[row];
    return rb->out + (size_t)row * rb->max_pos;
}

void nmt_running_cancel(nmt_running_batch *rb, int row)
{
    if (row < 0 || row >= rb->max_rows || !rb->in_use[row])
        return;
    for (int i = 0; i < rb->n_live; i++)
        if (rb->s.live[i] == row) {
            memmove(rb->s.live + i, rb->s.live + i + 1, (size_t)(rb->n_live - i - 1) * sizeof(int));
            memmove(rb->s.tokens + i, rb->s.tokens + i + 1, (size_t)(rb->n_live - i - 1) * sizeof(int));
            rb->n_live--;
            break;
        }
    rb->in_use[row] = 0;
    rb->live_tokens -= rb->s.dec.src_len[row];
}
