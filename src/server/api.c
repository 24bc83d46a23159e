/* api.c: JSON request parsing and response building for the HTTP API.
 * A body is checked against the strict JSON grammar (json_check.c) before
 * cJSON parses it, so no string is cut short by a U+0000 and nothing JSON
 * forbids is accepted; then duplicate keys are refused. */
#include "api.h"

#include <cJSON.h>
#include <math.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_check.h"
#include "utf8.h"

/* a request is {"text": [...]}: anything nested deeper is not one */
#define MAX_JSON_DEPTH 32

int nmt_api_fail(nmt_api_error *e, int status, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    e->status = status;
    e->code = code;
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return -1;
}

void nmt_api_request_free(nmt_api_request *req)
{
    if (!req)
        return;
    for (int i = 0; i < req->n; i++)
        if (req->texts)
            free(req->texts[i]);
    free(req->texts);
    free(req->lens);
    memset(req, 0, sizeof *req);
}

/* One text into req->texts[i]: valid UTF-8 without NUL, within max_chars. */
static int set_text(nmt_api_request *req, int i, const char *s, size_t len, const char *field,
                    const nmt_api_limits *limits, nmt_api_error *e)
{
    if (memchr(s, '\0', len))
        return nmt_api_fail(e, 400, "invalid_text", "\"%s\" contains U+0000 (NUL); text cannot contain NUL", field);
    if (!nmt_utf8_valid(s, len))
        return nmt_api_fail(e, 400, "invalid_utf8", "sentence %d is not valid UTF-8", i);
    size_t chars = nmt_utf8_length(s, len);
    if (chars > (size_t)limits->max_chars)
        return nmt_api_fail(e, 400, "text_too_long", "text %d has %zu characters; at most %d are allowed", i, chars,
                    limits->max_chars);
    if (!(req->texts[i] = malloc(len + 1)))
        return nmt_api_fail(e, 500, "internal", "out of memory");
    memcpy(req->texts[i], s, len);
    req->texts[i][len] = '\0';
    req->lens[i] = len;
    return 0;
}

static int reserve_texts(nmt_api_request *req, int n, const nmt_api_limits *limits, nmt_api_error *e)
{
    if (n > limits->max_sentences)
        return nmt_api_fail(e, 400, "too_many_sentences", "%d sentences; at most %d are allowed per request", n,
                    limits->max_sentences);
    req->texts = calloc((size_t)(n ? n : 1), sizeof *req->texts);
    req->lens = calloc((size_t)(n ? n : 1), sizeof *req->lens);
    if (!req->texts || !req->lens)
        return nmt_api_fail(e, 500, "internal", "out of memory");
    req->n = n;
    return 0;
}

int nmt_api_take_texts(nmt_api_request *req, const cJSON *value, const char *field, const nmt_api_limits *limits,
                       nmt_api_error *e)
{
    req->is_list = cJSON_IsArray(value);
    if (!req->is_list && !cJSON_IsString(value))
        return nmt_api_fail(e, 400, "invalid_request", "\"%s\" must be a string or a list of strings", field);
    if (reserve_texts(req, req->is_list ? cJSON_GetArraySize(value) : 1, limits, e))
        return -1;
    if (!req->is_list) /* whole: json_check refused any U+0000 */
        return set_text(req, 0, value->valuestring, strlen(value->valuestring), field, limits, e);
    int i = 0;
    for (const cJSON *it = value->child; it; it = it->next, i++) {
        if (!cJSON_IsString(it))
            return nmt_api_fail(e, 400, "invalid_request", "\"%s\"[%d] is not a string", field, i);
        if (set_text(req, i, it->valuestring, strlen(it->valuestring), field, limits, e))
            return -1;
    }
    return 0;
}

int nmt_api_take_text_bytes(nmt_api_request *req, const char *s, size_t len, const char *field,
                            const nmt_api_limits *limits, nmt_api_error *e)
{
    req->is_list = 0;
    if (reserve_texts(req, 1, limits, e))
        return -1;
    return set_text(req, 0, s, len, field, limits, e);
}

cJSON *nmt_api_parse_object(const char *body, size_t len, const char *expected, nmt_api_error *e)
{
    if (len == 0) {
        nmt_api_fail(e, 400, "invalid_json", "empty body: expected %s", expected);
        return NULL;
    }
    if (!nmt_utf8_valid(body, len)) {
        nmt_api_fail(e, 400, "invalid_utf8", "the body is not valid UTF-8");
        return NULL;
    }
    nmt_json_problem problem;
    switch (nmt_json_check(body, len, MAX_JSON_DEPTH, &problem)) {
    case NMT_JSON_OK:
        break;
    case NMT_JSON_NUL_IN_VALUE:
        nmt_api_fail(e, 400, "invalid_text", "a string contains U+0000 (NUL) at byte %zu; text cannot contain NUL",
             problem.offset);
        return NULL;
    case NMT_JSON_TOO_DEEP:
        nmt_api_fail(e, 400, "invalid_json", "JSON nested deeper than %d levels at byte %zu", MAX_JSON_DEPTH,
             problem.offset);
        return NULL;
    case NMT_JSON_NUL_IN_KEY:
    case NMT_JSON_MALFORMED:
        nmt_api_fail(e, 400, "invalid_json", "malformed JSON at byte %zu: %s", problem.offset, problem.what);
        return NULL;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
    if (!root) { /* the grammar held: memory was short, or cJSON is stricter still */
        nmt_api_fail(e, 400, "invalid_json", "the body could not be parsed near byte %zu",
             end ? (size_t)(end - body) : (size_t)0);
        return NULL;
    }
    const char *dup = NULL;
    int dup_rc = nmt_json_duplicate_key(root, &dup);
    if (dup_rc < 0)
        nmt_api_fail(e, 500, "internal", "out of memory");
    else if (dup_rc > 0)
        nmt_api_fail(e, 400, "invalid_json", "duplicate key \"%.64s\" in an object", dup);
    else if (!cJSON_IsObject(root))
        nmt_api_fail(e, 400, "invalid_request", "the body must be a JSON object: %s", expected);
    else
        return root;
    cJSON_Delete(root);
    return NULL;
}

int nmt_api_parse_translate(const char *body, size_t len, const nmt_api_limits *limits, nmt_api_request *req,
                            nmt_api_error *e)
{
    memset(req, 0, sizeof *req);
    cJSON *root = nmt_api_parse_object(body, len, "{\"text\": \"...\"}", e);
    if (!root)
        return -1;
    int rc = -1;
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(root, "text");
    if (!text) {
        nmt_api_fail(e, 400, "invalid_request", "missing \"text\" (a string or a list of strings)");
        goto out;
    }
    const cJSON *max_length = cJSON_GetObjectItemCaseSensitive(root, "max_length");
    if (max_length && !cJSON_IsNull(max_length)) {
        double v = max_length->valuedouble;
        if (!cJSON_IsNumber(max_length) || v != floor(v) || v < 1 || v > limits->max_length_limit) {
            nmt_api_fail(e, 400, "invalid_max_length", "\"max_length\" must be an integer from 1 to %d",
                 limits->max_length_limit);
            goto out;
        }
        req->max_length = (int)v;
    }
    req->split = 1;
    const cJSON *split = cJSON_GetObjectItemCaseSensitive(root, "split");
    if (split && !cJSON_IsNull(split)) {
        if (!cJSON_IsBool(split)) {
            nmt_api_fail(e, 400, "invalid_split", "\"split\" must be true or false");
            goto out;
        }
        req->split = cJSON_IsTrue(split);
    }
    static const struct { const char *name; size_t off, size; } routing[] = {
        {"source", offsetof(nmt_api_request, source), sizeof req->source},
        {"target", offsetof(nmt_api_request, target), sizeof req->target},
        {"model", offsetof(nmt_api_request, model), sizeof req->model},
    };
    for (size_t k = 0; k < sizeof routing / sizeof routing[0]; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, routing[k].name);
        if (!v || cJSON_IsNull(v))
            continue;
        if (!cJSON_IsString(v) || strlen(v->valuestring) >= routing[k].size) {
            nmt_api_fail(e, 400, "invalid_request", "\"%s\" must be a string of at most %zu bytes", routing[k].name,
                         routing[k].size - 1);
            goto out;
        }
        memcpy((char *)req + routing[k].off, v->valuestring, strlen(v->valuestring) + 1);
    }
    if (nmt_api_take_texts(req, text, "text", limits, e))
        goto out;
    rc = 0;
out:
    cJSON_Delete(root);
    if (rc)
        nmt_api_request_free(req);
    return rc;
}

char *nmt_api_translate_body(const nmt_api_request *req, const char *const *translations, const char *pivot)
{
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return NULL;
    if (req->is_list) {
        cJSON *list = cJSON_AddArrayToObject(root, "translations");
        for (int i = 0; list && i < req->n; i++)
            cJSON_AddItemToArray(list, cJSON_CreateString(translations[i]));
    } else {
        cJSON_AddStringToObject(root, "translation", translations[0]);
    }
    if (pivot)
        cJSON_AddStringToObject(root, "pivot", pivot);
    char *out = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return out;
}

char *nmt_api_error_body(const char *code, const char *message)
{
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return NULL;
    cJSON *err = cJSON_AddObjectToObject(root, "error");
    if (err) {
        cJSON_AddStringToObject(err, "code", code);
        cJSON_AddStringToObject(err, "message", message);
    }
    char *out = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return out;
}

static cJSON *model_object(const nmt_api_model *a)
{
    const nmt_translator_info *m = &a->info;
    cJSON *model = cJSON_CreateObject();
    if (!model)
        return NULL;
    cJSON_AddStringToObject(model, "name", m->name);
    cJSON_AddStringToObject(model, "path", m->path);
    cJSON_AddStringToObject(model, "architecture", "MarianMTModel");
    cJSON_AddStringToObject(model, "source", a->source);
    cJSON *targets = cJSON_AddArrayToObject(model, "targets");
    for (int t = 0; targets && t < a->n_targets; t++)
        cJSON_AddItemToArray(targets, cJSON_CreateString(a->targets[t]));
    cJSON_AddNumberToObject(model, "d_model", m->d_model);
    cJSON_AddNumberToObject(model, "encoder_layers", m->encoder_layers);
    cJSON_AddNumberToObject(model, "decoder_layers", m->decoder_layers);
    cJSON_AddNumberToObject(model, "attention_heads", m->attention_heads);
    cJSON_AddNumberToObject(model, "ffn_dim", m->ffn_dim);
    cJSON_AddNumberToObject(model, "vocab_size", m->vocab_size);
    cJSON_AddNumberToObject(model, "max_position_embeddings", m->max_positions);
    cJSON_AddNumberToObject(model, "max_length", m->max_length);
    cJSON_AddStringToObject(model, "activation", m->activation);
    cJSON_AddStringToObject(model, "weights_dtype", m->weights_dtype);
    cJSON_AddNumberToObject(model, "weight_bytes", (double)m->weight_bytes);
    cJSON_AddStringToObject(model, "compute_type", m->compute_type ? m->compute_type : "float32");
    cJSON_AddStringToObject(model, "kernel", m->kernel ? m->kernel : "");
    cJSON_AddNumberToObject(model, "load_seconds", a->load_seconds);
    cJSON_AddStringToObject(model, "sentence_rules", m->sentence_rules);
    cJSON_AddStringToObject(model, "source_language", m->source_lang ? m->source_lang : "");
    cJSON_AddStringToObject(model, "target_language", m->target_lang ? m->target_lang : "");
    return model;
}

char *nmt_api_model_body(const nmt_api_model *models, int n, const nmt_config *cfg)
{
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return NULL;
    if (n > 0)
        cJSON_AddItemToObject(root, "model", model_object(&models[0]));
    cJSON *list = cJSON_AddArrayToObject(root, "models");
    for (int i = 0; list && i < n; i++)
        cJSON_AddItemToArray(list, model_object(&models[i]));
    cJSON *batching = cJSON_AddObjectToObject(root, "batching");
    cJSON_AddStringToObject(batching, "decoding", "greedy");
    cJSON_AddNumberToObject(batching, "workers", cfg->workers);
    cJSON_AddNumberToObject(batching, "blas_threads", cfg->blas_threads);
    cJSON_AddNumberToObject(batching, "max_batch_sentences", cfg->max_batch_sentences);
    cJSON_AddNumberToObject(batching, "max_batch_tokens", cfg->max_batch_tokens);
    cJSON_AddNumberToObject(batching, "max_wait_ms", cfg->max_wait_ms);
    cJSON_AddNumberToObject(batching, "queue_capacity", cfg->queue_capacity);
    cJSON_AddNumberToObject(batching, "request_timeout_ms", cfg->request_timeout_ms);
    cJSON_AddNumberToObject(batching, "max_sentences_per_request", cfg->max_sentences_per_request);
    cJSON_AddNumberToObject(batching, "max_chars_per_text", cfg->max_chars_per_text);
    cJSON_AddNumberToObject(batching, "max_segments_per_request", cfg->max_segments_per_request);
    cJSON_AddStringToObject(batching, "newline", cfg->newline == NMT_NEWLINE_JOIN ? "join" : "split");
    cJSON_AddNumberToObject(batching, "max_length_limit", cfg->max_length_limit);
    char *out = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return out;
}
