/* translator.c: tokenize -> batch -> greedy decode -> detokenize, for one
 * worker.  Buffers for a batch's ids are reserved once per context; a call
 * larger than the context's caps is cut into batches that fit. */
#include "translator.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"
#include "workspace.h"

struct nmt_translator_ctx {
    const nmt_translator *tr;
    nmt_workspace ws;
    int max_batch;
    int *src_pool;   /* [max_batch][max_pos + 1] */
    int *out_pool;   /* [max_batch][max_steps] */
    int **src, **out;
    int *src_len, *out_len, *limit, *index;
};

/* tokenizer_config.json's "source_lang" ("" when the file or key is absent
 * or not a short string: the segmenter then uses ICU's root rules). */
static void source_language(const char *dir, char *lang, size_t cap)
{
    lang[0] = '\0';
    char *path = nmt_path_join(dir, "tokenizer_config.json"), *text = NULL;
    size_t len;
    nmt_err err;
    if (path && nmt_file_exists(path) && nmt_read_file(path, 1 << 20, &text, &len, &err) == NMT_OK) {
        cJSON *root = cJSON_ParseWithLength(text, len);
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "source_lang");
        if (cJSON_IsString(v) && strlen(v->valuestring) < cap)
            snprintf(lang, cap, "%s", v->valuestring);
        cJSON_Delete(root);
    }
    free(text);
    free(path);
}

nmt_code nmt_translator_set_language(nmt_translator *tr, const char *lang, nmt_err *err)
{
    nmt_segmenter *s = NULL;
    nmt_code rc = nmt_segmenter_new(&s, lang, err);
    if (rc)
        return rc;
    nmt_segmenter_free(tr->segmenter);
    tr->segmenter = s;
    nmt_info("translator", "sentence rules: %s", nmt_segmenter_language(s)[0] ? nmt_segmenter_language(s) : "ICU root");
    return NMT_OK;
}

nmt_code nmt_translator_load(nmt_translator **out, const char *dir, nmt_err *err)
{
    *out = NULL;
    nmt_translator *tr = calloc(1, sizeof *tr);
    if (!tr)
        return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
    nmt_code rc = nmt_model_load(&tr->model, dir, err);
    if (rc == NMT_OK)
        rc = nmt_tokenizer_load(&tr->tokenizer, dir, &tr->model->hp, err);
    if (rc == NMT_OK) {
        char lang[16];
        source_language(dir, lang, sizeof lang);
        rc = nmt_translator_set_language(tr, lang, err);
    }
    if (rc) {
        nmt_translator_free(tr);
        return rc;
    }
    *out = tr;
    return NMT_OK;
}

void nmt_translator_free(nmt_translator *tr)
{
    if (!tr)
        return;
    nmt_segmenter_free(tr->segmenter);
    nmt_tokenizer_free(tr->tokenizer);
    nmt_model_free(tr->model);
    free(tr);
}

nmt_code nmt_translator_ctx_new(nmt_translator_ctx **out, const nmt_translator *tr, int max_batch, int max_tokens,
                                nmt_err *err)
{
    *out = NULL;
    const nmt_hparams *hp = &tr->model->hp;
    nmt_translator_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
    ctx->tr = tr;
    ctx->max_batch = max_batch;
    if (max_tokens < hp->max_pos)
        max_tokens = hp->max_pos; /* any single sentence fits */
    nmt_code rc = nmt_workspace_init(&ctx->ws, tr->model, max_batch, max_tokens, hp->max_pos, err);
    if (rc) {
        free(ctx);
        return rc;
    }
    size_t B = (size_t)max_batch, src_cap = (size_t)hp->max_pos + 1, out_cap = (size_t)ctx->ws.max_steps;
    ctx->src_pool = malloc(B * src_cap * sizeof(int));
    ctx->out_pool = malloc(B * out_cap * sizeof(int));
    ctx->src = malloc(B * sizeof(int *));
    ctx->out = malloc(B * sizeof(int *));
    ctx->src_len = malloc(B * sizeof(int));
    ctx->out_len = malloc(B * sizeof(int));
    ctx->limit = malloc(B * sizeof(int));
    ctx->index = malloc(B * sizeof(int));
    if (!ctx->src_pool || !ctx->out_pool || !ctx->src || !ctx->out || !ctx->src_len || !ctx->out_len ||
        !ctx->limit || !ctx->index) {
        nmt_translator_ctx_free(ctx);
        return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < B; i++)
        ctx->out[i] = ctx->out_pool + i * out_cap;
    *out = ctx;
    return NMT_OK;
}

void nmt_translator_ctx_free(nmt_translator_ctx *ctx)
{
    if (!ctx)
        return;
    nmt_workspace_free(&ctx->ws);
    free(ctx->src_pool);
    free(ctx->out_pool);
    free(ctx->src);
    free(ctx->out);
    free(ctx->src_len);
    free(ctx->out_len);
    free(ctx->limit);
    free(ctx->index);
    free(ctx);
}

int nmt_translator_limit(const nmt_translator *tr, int n_src, const nmt_translate_opts *opts)
{
    const nmt_hparams *hp = &tr->model->hp;
    int limit;
    if (opts && opts->max_length > 0) {
        limit = opts->max_length;
    } else {
        limit = 2 * n_src + 10;
        if (hp->max_length < limit)
            limit = hp->max_length;
    }
    return limit < hp->max_pos ? limit : hp->max_pos;
}

/* Decodes ctx->src[0..n) into ctx->out, splitting by the workspace caps. */
static void decode_batch(nmt_translator_ctx *ctx, int n, const int *limits, const nmt_translate_opts *opts,
                         nmt_search_stats *stats)
{
    int min_length = opts ? opts->min_length : 0;
    for (int i = 0; i < n; i++) {
        ctx->limit[i] = limits ? limits[i] : nmt_translator_limit(ctx->tr, ctx->src_len[i], opts);
        if (ctx->limit[i] > ctx->tr->model->hp.max_pos)
            ctx->limit[i] = ctx->tr->model->hp.max_pos;
        if (ctx->limit[i] < 1)
            ctx->limit[i] = 1;
        if (ctx->limit[i] > ctx->ws.max_steps)
            ctx->limit[i] = ctx->ws.max_steps;
    }
    for (int begin = 0; begin < n;) {
        int end = begin, tokens = 0;
        while (end < n && end - begin < ctx->ws.max_batch && tokens + ctx->src_len[end] <= ctx->ws.max_tokens)
            tokens += ctx->src_len[end++];
        nmt_greedy_decode(ctx->tr->model, &ctx->ws, end - begin, (const int *const *)ctx->src + begin,
                          ctx->src_len + begin, ctx->limit + begin, min_length, ctx->out + begin,
                          ctx->out_len + begin, stats);
        begin = end;
    }
}

nmt_code nmt_translate_ids(nmt_translator_ctx *ctx, const int *const *src, const int *src_len, const int *limits,
                           int n, const nmt_translate_opts *opts, int *const *out, int *out_len,
                           nmt_search_stats *stats, nmt_err *err)
{
    const nmt_hparams *hp = &ctx->tr->model->hp;
    for (int begin = 0; begin < n; begin += ctx->max_batch) {
        int m = n - begin < ctx->max_batch ? n - begin : ctx->max_batch;
        for (int i = 0; i < m; i++) {
            if (src_len[begin + i] < 1 || src_len[begin + i] > hp->max_pos)
                return nmt_err_set(err, NMT_ERR_TOO_LONG, "sentence %d has %d ids; the model allows 1 to %d",
                                   begin + i, src_len[begin + i], hp->max_pos);
            ctx->src[i] = (int *)src[begin + i];
            ctx->src_len[i] = src_len[begin + i];
        }
        decode_batch(ctx, m, limits ? limits + begin : NULL, opts, stats);
        for (int i = 0; i < m; i++) {
            memcpy(out[begin + i], ctx->out[i], (size_t)ctx->out_len[i] * sizeof(int));
            out_len[begin + i] = ctx->out_len[i];
        }
    }
    return NMT_OK;
}

nmt_code nmt_translate(nmt_translator_ctx *ctx, const char *const *texts, const size_t *lens, int n,
                       const nmt_translate_opts *opts, nmt_translation *results, nmt_search_stats *stats,
                       nmt_err *err)
{
    const nmt_translator *tr = ctx->tr;
    const nmt_hparams *hp = &tr->model->hp;
    int src_cap = hp->max_pos + 1;
    memset(results, 0, (size_t)n * sizeof *results);
    for (int begin = 0; begin < n; begin += ctx->max_batch) {
        int m = n - begin < ctx->max_batch ? n - begin : ctx->max_batch, k = 0;
        for (int i = 0; i < m; i++) {
            nmt_translation *res = &results[begin + i];
            int *ids = ctx->src_pool + (size_t)k * src_cap, n_ids = 0;
            nmt_err tok_err;
            res->code = nmt_tokenizer_encode(tr->tokenizer, texts[begin + i], lens[begin + i], ids, src_cap, &n_ids,
                                             &tok_err);
            res->n_src = n_ids;
            if (res->code == NMT_OK && n_ids > hp->max_pos)
                res->code = NMT_ERR_TOO_LONG;
            if (res->code)
                continue;
            if (n_ids == 1 && ids[0] == hp->eos_id) { /* nothing to translate */
                if (!(res->text = strdup("")))
                    return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
                continue;
            }
            ctx->src[k] = ids;
            ctx->src_len[k] = n_ids;
            ctx->index[k++] = begin + i;
        }
        decode_batch(ctx, k, NULL, opts, stats);
        for (int j = 0; j < k; j++) {
            nmt_translation *res = &results[ctx->index[j]];
            res->n_out = ctx->out_len[j];
            if (opts && opts->return_ids) {
                res->ids = malloc((size_t)(res->n_out ? res->n_out : 1) * sizeof(int));
                if (!res->ids)
                    return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
                memcpy(res->ids, ctx->out[j], (size_t)res->n_out * sizeof(int));
            }
            nmt_err dec_err;
            res->code = nmt_tokenizer_decode(tr->tokenizer, ctx->out[j], ctx->out_len[j], &res->text, &dec_err);
            if (res->code == NMT_ERR_NOMEM)
                return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
        }
    }
    return NMT_OK;
}

void nmt_translations_clear(nmt_translation *results, int n)
{
    for (int i = 0; i < n; i++) {
        free(results[i].text);
        free(results[i].ids);
        results[i].text = NULL;
        results[i].ids = NULL;
    }
}

nmt_code nmt_translator_encode(const nmt_translator *tr, const char *text, size_t len, int *ids, int cap, int *n_ids,
                               nmt_err *err)
{
    return nmt_tokenizer_encode(tr->tokenizer, text, len, ids, cap, n_ids, err);
}

nmt_code nmt_translator_decode(const nmt_translator *tr, const int *ids, int n, char **out, nmt_err *err)
{
    return nmt_tokenizer_decode(tr->tokenizer, ids, n, out, err);
}
