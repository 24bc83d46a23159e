/* translator.c: tokenize -> batch -> greedy decode -> detokenize, for one
 * worker.  Buffers for a batch's ids are reserved once per context; a call
 * larger than the context's caps is cut into batches that fit. */
#include "translator.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gemm.h"
#include "log.h"
#include "util.h"

struct nmt_translator {
    nmt_model *model;         /* NULL while the weights are not loaded */
    nmt_hparams hp;           /* config.json's, kept while the weights come and go */
    char *dir, *name;
    const char *file_dtype;   /* as stored: "F32", "F16", "BF16" */
    size_t weight_bytes;      /* bytes of the weights once loaded */
    nmt_compute_type compute;
    nmt_tokenizer *tokenizer;
    nmt_segmenter *segmenter; /* sentence rules of the source language */
    char source_lang[16];     /* tokenizer_config.json's, "" when absent */
    char target_lang[16];
    char **lang_tokens;       /* the >>xxx<< pieces of vocab.json, without the brackets, in id order */
    int *lang_token_ids;
    int n_lang_tokens;
};

struct nmt_translator_state {
    const nmt_translator *tr;
    nmt_search_state search;
    int max_batch;
    int *packed_ids; /* [max_tokens] one batch's source ids back to back */
    int *packed_off; /* [max_batch] */
    int *src_pool;   /* [max_batch][max_pos + 1] */
    int *out_pool;   /* [max_batch][max_steps] */
    int **src, **out;
    int *src_len, *out_len, *limit, *index;
};

/* tokenizer_config.json's "source_lang" and "target_lang", as Hugging
 * Face's Marian conversion writes them ("" when the file or key is absent or
 * not a short string: the segmenter then uses ICU's root rules). */
static void model_languages(const char *dir, char source[16], char target[16])
{
    source[0] = target[0] = '\0';
    char *path = nmt_path_join(dir, "tokenizer_config.json"), *text = NULL;
    size_t len;
    nmt_err err;
    if (path && nmt_file_exists(path) && nmt_read_file(path, 1 << 20, &text, &len, &err) == NMT_OK) {
        cJSON *root = cJSON_ParseWithLength(text, len);
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "source_lang");
        if (cJSON_IsString(v) && strlen(v->valuestring) < 16)
            snprintf(source, 16, "%s", v->valuestring);
        v = cJSON_GetObjectItemCaseSensitive(root, "target_lang");
        if (cJSON_IsString(v) && strlen(v->valuestring) < 16)
            snprintf(target, 16, "%s", v->valuestring);
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

/* What computes the products of a model of this compute type on this CPU. */
static const char *kernel_name(nmt_compute_type compute)
{
    switch (compute) {
    case NMT_COMPUTE_INT8:
        return strcmp(nmt_q8_kernel_name(), "amx") == 0           ? "int8-amx"
               : strcmp(nmt_q8_kernel_name(), "avx512_vnni") == 0 ? "int8-avx512_vnni"
               : strcmp(nmt_q8_kernel_name(), "avx2") == 0        ? "int8-avx2"
                                                                  : "int8-generic";
    case NMT_COMPUTE_BFLOAT16:
        return strcmp(nmt_bf16_kernel_name(), "amx") == 0           ? "bf16-amx"
               : strcmp(nmt_bf16_kernel_name(), "avx512_bf16") == 0 ? "bf16-avx512_bf16"
               : strcmp(nmt_bf16_kernel_name(), "avx512") == 0      ? "bf16-avx512"
               : strcmp(nmt_bf16_kernel_name(), "avx2") == 0        ? "bf16-avx2"
                                                                    : "bf16-generic";
    case NMT_COMPUTE_FLOAT32: break;
    }
    const char *packed = nmt_gemm_packed_kernel();
    return !packed ? "openblas" : strcmp(packed, "avx2") == 0 ? "avx2-packed" : "avx512-packed";
}

void nmt_translator_describe(const nmt_translator *tr, nmt_translator_info *out)
{
    const nmt_hparams *hp = &tr->hp;
    const char *rules = nmt_segmenter_language(tr->segmenter);
    *out = (nmt_translator_info){
        .name = tr->name,
        .path = tr->dir,
        .activation = hp->act_name,
        .weights_dtype = tr->file_dtype,
        .sentence_rules = rules[0] ? rules : "root",
        .source_lang = tr->source_lang,
        .target_lang = tr->target_lang,
        .d_model = hp->d_model,
        .encoder_layers = hp->enc_layers,
        .decoder_layers = hp->dec_layers,
        .attention_heads = hp->enc_heads,
        .ffn_dim = hp->enc_ffn,
        .vocab_size = hp->vocab_size,
        .max_positions = hp->max_pos,
        .max_length = hp->max_length,
        .weight_bytes = tr->weight_bytes,
        .compute_type = nmt_compute_type_name(tr->compute),
        .kernel = kernel_name(tr->compute),
        .weights_loaded = tr->model != NULL,
    };
}

const char *nmt_translator_name(const nmt_translator *tr) { return tr->name; }
int nmt_translator_max_positions(const nmt_translator *tr) { return tr->hp.max_pos; }
int nmt_translator_eos_id(const nmt_translator *tr) { return tr->hp.eos_id; }
const nmt_model *nmt_translator_model(const nmt_translator *tr) { return tr->model; }
const nmt_tokenizer *nmt_translator_tokenizer(const nmt_translator *tr) { return tr->tokenizer; }
const nmt_segmenter *nmt_translator_segmenter(const nmt_translator *tr) { return tr->segmenter; }

/* The vocabulary's target-language tokens: pieces ">>xxx<<" whose name
 * has no whitespace or angle brackets (opus-mt-en-roa's ">>fra<<",
 * tc-big's ">>por<<", ">>zho_Hans<<"). */
static nmt_code find_lang_tokens(nmt_translator *tr, nmt_err *err)
{
    int vocab = tr->hp.vocab_size;
    for (int pass = 0; pass < 2; pass++) {
        int n = 0;
        for (int id = 0; id < vocab; id++) {
            const char *p = nmt_tokenizer_id_piece(tr->tokenizer, id);
            size_t len = p ? strlen(p) : 0;
            if (len < 5 || strncmp(p, ">>", 2) != 0 || strcmp(p + len - 2, "<<") != 0 || id == 0)
                continue;
            int ok = 1;
            for (size_t i = 2; i < len - 2; i++)
                ok &= !strchr(" \t\n<>", p[i]);
            if (!ok)
                continue;
            if (pass == 1) {
                if (!(tr->lang_tokens[n] = strndup(p + 2, len - 4)))
                    return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
                tr->lang_token_ids[n] = id;
            }
            n++;
        }
        if (pass == 0) {
            tr->lang_tokens = calloc((size_t)(n ? n : 1), sizeof *tr->lang_tokens);
            tr->lang_token_ids = calloc((size_t)(n ? n : 1), sizeof *tr->lang_token_ids);
            if (!tr->lang_tokens || !tr->lang_token_ids)
                return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
        }
        tr->n_lang_tokens = n;
    }
    return NMT_OK;
}

int nmt_translator_lang_tokens(const nmt_translator *tr, const char *const **names)
{
    if (names)
        *names = (const char *const *)tr->lang_tokens;
    return tr->n_lang_tokens;
}

int nmt_translator_lang_token_id(const nmt_translator *tr, const char *name)
{
    for (int i = 0; i < tr->n_lang_tokens; i++)
        if (strcmp(tr->lang_tokens[i], name) == 0)
            return tr->lang_token_ids[i];
    return -1;
}

/* The weights loaded later must be those checked at start-up. */
static int same_model(const nmt_hparams *a, const nmt_hparams *b)
{
    return a->d_model == b->d_model && a->enc_layers == b->enc_layers && a->dec_layers == b->dec_layers &&
           a->enc_heads == b->enc_heads && a->dec_heads == b->dec_heads && a->enc_ffn == b->enc_ffn &&
           a->dec_ffn == b->dec_ffn && a->vocab_size == b->vocab_size && a->max_pos == b->max_pos &&
           a->pad_id == b->pad_id && a->eos_id == b->eos_id && a->dec_start_id == b->dec_start_id &&
           a->act == b->act && a->tie_embeddings == b->tie_embeddings && a->scale_embedding == b->scale_embedding;
}

nmt_code nmt_translator_open(nmt_translator **out, const char *dir, const nmt_translator_opts *opts, nmt_err *err)
{
    int load_weights = opts->load_weights;
    *out = NULL;
    nmt_translator *tr = calloc(1, sizeof *tr);
    if (!tr)
        return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
    nmt_code rc = NMT_OK;
    tr->compute = opts->compute;
    tr->dir = strdup(dir);
    tr->name = nmt_path_basename(dir);
    if (!tr->dir || !tr->name)
        rc = nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
    if (rc == NMT_OK && load_weights) {
        rc = nmt_model_load_as(&tr->model, dir, tr->compute, err);
        if (rc == NMT_OK) {
            tr->hp = tr->model->hp;
            tr->file_dtype = tr->model->file_dtype;
        }
    } else if (rc == NMT_OK) {
        rc = nmt_model_check(dir, &tr->hp, &tr->file_dtype, err);
    }
    tr->weight_bytes = nmt_model_weight_bytes(&tr->hp, tr->compute);
    if (rc == NMT_OK)
        rc = nmt_tokenizer_load(&tr->tokenizer, dir, &tr->hp, err);
    if (rc == NMT_OK) {
        model_languages(dir, tr->source_lang, tr->target_lang);
        rc = nmt_translator_set_language(tr, tr->source_lang, err);
    }
    if (rc == NMT_OK)
        rc = find_lang_tokens(tr, err);
    if (rc) {
        nmt_translator_free(tr);
        return rc;
    }
    *out = tr;
    return NMT_OK;
}

nmt_code nmt_translator_load(nmt_translator **out, const char *dir, nmt_err *err)
{
    nmt_translator_opts opts = {.load_weights = 1, .compute = NMT_COMPUTE_FLOAT32};
    return nmt_translator_open(out, dir, &opts, err);
}

int nmt_translator_weights_loaded(const nmt_translator *tr) { return tr->model != NULL; }

nmt_code nmt_translator_load_weights(nmt_translator *tr, nmt_err *err)
{
    if (tr->model)
        return NMT_OK;
    nmt_model *m = NULL;
    nmt_code rc = nmt_model_load_as(&m, tr->dir, tr->compute, err);
    if (rc)
        return rc;
    if (!same_model(&m->hp, &tr->hp)) { /* config.json changed since the check */
        nmt_model_free(m);
        return nmt_err_set(err, NMT_ERR_FORMAT, "%s/config.json changed since start-up: restart nmtd", tr->dir);
    }
    tr->model = m;
    return NMT_OK;
}

void nmt_translator_unload_weights(nmt_translator *tr)
{
    nmt_model_free(tr->model);
    tr->model = NULL;
}

void nmt_translator_free(nmt_translator *tr)
{
    if (!tr)
        return;
    for (int i = 0; tr->lang_tokens && i < tr->n_lang_tokens; i++)
        free(tr->lang_tokens[i]);
    free(tr->lang_tokens);
    free(tr->lang_token_ids);
    nmt_segmenter_free(tr->segmenter);
    nmt_tokenizer_free(tr->tokenizer);
    nmt_model_free(tr->model);
    free(tr->dir);
    free(tr->name);
    free(tr);
}

nmt_code nmt_translator_state_new(nmt_translator_state **out, const nmt_translator *tr, int max_batch, int max_tokens,
                                nmt_err *err)
{
    *out = NULL;
    const nmt_hparams *hp = &tr->hp;
    nmt_translator_state *state = calloc(1, sizeof *state);
    if (!state)
        return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
    state->tr = tr;
    state->max_batch = max_batch;
    if (max_tokens < hp->max_pos)
        max_tokens = hp->max_pos; /* any single sentence fits */
    nmt_code rc = nmt_search_state_init(&state->search, tr->model, max_batch, max_tokens, max_tokens, hp->max_pos, err);
    if (rc) {
        free(state);
        return rc;
    }
    size_t B = (size_t)max_batch, src_cap = (size_t)hp->max_pos + 1, out_cap = (size_t)state->search.max_steps;
    state->packed_ids = malloc((size_t)state->search.max_tokens * sizeof(int));
    state->packed_off = malloc(B * sizeof(int));
    state->src_pool = malloc(B * src_cap * sizeof(int));
    state->out_pool = malloc(B * out_cap * sizeof(int));
    state->src = malloc(B * sizeof(int *));
    state->out = malloc(B * sizeof(int *));
    state->src_len = malloc(B * sizeof(int));
    state->out_len = malloc(B * sizeof(int));
    state->limit = malloc(B * sizeof(int));
    state->index = malloc(B * sizeof(int));
    if (!state->packed_ids || !state->packed_off || !state->src_pool || !state->out_pool || !state->src || !state->out || !state->src_len || !state->out_len ||
        !state->limit || !state->index) {
        nmt_translator_state_free(state);
        return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < B; i++)
        state->out[i] = state->out_pool + i * out_cap;
    *out = state;
    return NMT_OK;
}

void nmt_translator_state_free(nmt_translator_state *state)
{
    if (!state)
        return;
    nmt_search_state_free(&state->search);
    free(state->packed_ids);
    free(state->packed_off);
    free(state->src_pool);
    free(state->out_pool);
    free(state->src);
    free(state->out);
    free(state->src_len);
    free(state->out_len);
    free(state->limit);
    free(state->index);
    free(state);
}

int nmt_translator_limit(const nmt_translator *tr, int n_src, const nmt_translate_opts *opts)
{
    const nmt_hparams *hp = &tr->hp;
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

/* Decodes state->src[0..n) into state->out, in batches within the search
 * state's caps, each packed back to back. */
static void decode_batch(nmt_translator_state *state, int n, const int *limits, const nmt_translate_opts *opts,
                         nmt_search_stats *stats)
{
    int min_length = opts ? opts->min_length : 0;
    for (int i = 0; i < n; i++) {
        state->limit[i] = limits ? limits[i] : nmt_translator_limit(state->tr, state->src_len[i], opts);
        if (state->limit[i] > state->tr->hp.max_pos)
            state->limit[i] = state->tr->hp.max_pos;
        if (state->limit[i] < 1)
            state->limit[i] = 1;
        if (state->limit[i] > state->search.max_steps)
            state->limit[i] = state->search.max_steps;
    }
    for (int begin = 0; begin < n;) {
        int end = begin, tokens = 0;
        while (end < n && end - begin < state->search.max_batch &&
               tokens + state->src_len[end] <= state->search.max_tokens) {
            state->packed_off[end - begin] = tokens;
            memcpy(state->packed_ids + tokens, state->src[end], (size_t)state->src_len[end] * sizeof(int));
            tokens += state->src_len[end++];
        }
        nmt_source_batch batch = {.n = end - begin, .total = tokens, .ids = state->packed_ids,
                                  .off = state->packed_off, .len = state->src_len + begin};
        nmt_greedy_decode(state->tr->model, &state->search, &batch, state->limit + begin, min_length,
                          state->out + begin, state->out_len + begin, stats);
        begin = end;
    }
}

nmt_code nmt_translate_ids(nmt_translator_state *state, const int *const *src, const int *src_len, const int *limits,
                           int n, const nmt_translate_opts *opts, int *const *out, int *out_len,
                           nmt_search_stats *stats, nmt_err *err)
{
    const nmt_hparams *hp = &state->tr->hp;
    for (int begin = 0; begin < n; begin += state->max_batch) {
        int m = n - begin < state->max_batch ? n - begin : state->max_batch;
        for (int i = 0; i < m; i++) {
            if (src_len[begin + i] < 1 || src_len[begin + i] > hp->max_pos)
                return nmt_err_set(err, NMT_ERR_TOO_LONG, "sentence %d has %d ids; the model allows 1 to %d",
                                   begin + i, src_len[begin + i], hp->max_pos);
            state->src[i] = (int *)src[begin + i];
            state->src_len[i] = src_len[begin + i];
        }
        decode_batch(state, m, limits ? limits + begin : NULL, opts, stats);
        for (int i = 0; i < m; i++) {
            memcpy(out[begin + i], state->out[i], (size_t)state->out_len[i] * sizeof(int));
            out_len[begin + i] = state->out_len[i];
        }
    }
    return NMT_OK;
}

nmt_code nmt_translate(nmt_translator_state *state, const char *const *texts, const size_t *lens, int n,
                       const nmt_translate_opts *opts, nmt_translation *results, nmt_search_stats *stats,
                       nmt_err *err)
{
    const nmt_translator *tr = state->tr;
    const nmt_hparams *hp = &tr->hp;
    int src_cap = hp->max_pos + 1;
    memset(results, 0, (size_t)n * sizeof *results);
    for (int begin = 0; begin < n; begin += state->max_batch) {
        int m = n - begin < state->max_batch ? n - begin : state->max_batch, k = 0;
        for (int i = 0; i < m; i++) {
            nmt_translation *res = &results[begin + i];
            int *ids = state->src_pool + (size_t)k * src_cap, n_ids = 0;
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
            state->src[k] = ids;
            state->src_len[k] = n_ids;
            state->index[k++] = begin + i;
        }
        decode_batch(state, k, NULL, opts, stats);
        for (int j = 0; j < k; j++) {
            nmt_translation *res = &results[state->index[j]];
            res->n_out = state->out_len[j];
            if (opts && opts->return_ids) {
                res->ids = malloc((size_t)(res->n_out ? res->n_out : 1) * sizeof(int));
                if (!res->ids)
                    return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
                memcpy(res->ids, state->out[j], (size_t)res->n_out * sizeof(int));
            }
            nmt_err dec_err;
            res->code = nmt_tokenizer_decode(tr->tokenizer, state->out[j], state->out_len[j], &res->text, &dec_err);
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
