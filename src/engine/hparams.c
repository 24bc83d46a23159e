/* hparams.c: config.json (+ generation_config.json) -> nmt_hparams.  Every
 * number a Marian model's shape or decoding depends on is read from the files
 * (never from constants), range-checked, and reported with the file and key
 * when it is missing or wrong. */
#include "hparams.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define CONFIG_MAX_BYTES (1u << 20)

/* Reads an integer field; absent -> def (or an error when required). */
static nmt_code get_int(const cJSON *root, const char *file, const char *key, int required, int def, int min,
                        int max, int *out, nmt_err *err)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!it || cJSON_IsNull(it)) {
        if (required)
            return nmt_err_set(err, NMT_ERR_FORMAT, "%s: required field \"%s\" is missing", file, key);
        *out = def;
        return NMT_OK;
    }
    if (!cJSON_IsNumber(it) || it->valuedouble != floor(it->valuedouble) || it->valuedouble < min ||
        it->valuedouble > max)
        return nmt_err_set(err, NMT_ERR_FORMAT, "%s: \"%s\" must be an integer in [%d, %d]", file, key, min, max);
    *out = (int)it->valuedouble;
    return NMT_OK;
}

static nmt_code get_bool(const cJSON *root, const char *file, const char *key, int def, int *out, nmt_err *err)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!it || cJSON_IsNull(it)) {
        *out = def;
        return NMT_OK;
    }
    if (!cJSON_IsBool(it))
        return nmt_err_set(err, NMT_ERR_FORMAT, "%s: \"%s\" must be true or false", file, key);
    *out = cJSON_IsTrue(it);
    return NMT_OK;
}

static nmt_code parse_activation(nmt_hparams *hp, const char *file, const cJSON *root, nmt_err *err)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, "activation_function");
    const char *name = cJSON_IsString(it) ? it->valuestring : "gelu"; /* MarianConfig's default */
    if (it && !cJSON_IsString(it))
        return nmt_err_set(err, NMT_ERR_FORMAT, "%s: \"activation_function\" must be a string", file);
    static const struct { const char *name; nmt_activation act; } table[] = {
        {"swish", NMT_ACT_SWISH}, {"silu", NMT_ACT_SWISH},         {"relu", NMT_ACT_RELU},
        {"gelu", NMT_ACT_GELU},   {"gelu_new", NMT_ACT_GELU_TANH}, {"gelu_fast", NMT_ACT_GELU_TANH},
        {"gelu_pytorch_tanh", NMT_ACT_GELU_TANH},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (strcmp(name, table[i].name) == 0) {
            hp->act = table[i].act;
            snprintf(hp->act_name, sizeof hp->act_name, "%s", name);
            return NMT_OK;
        }
    }
    return nmt_err_set(err, NMT_ERR_UNSUPPORTED,
                       "%s: activation_function \"%s\" is not supported (swish, silu, relu, gelu, gelu_new)", file,
                       name);
}

static nmt_code parse_config(nmt_hparams *hp, const cJSON *root, const char *file, nmt_err *err)
{
    nmt_code rc;
    const int big = 1 << 20;
    memset(hp, 0, sizeof *hp);
    if (!cJSON_IsObject(root))
        return nmt_err_set(err, NMT_ERR_FORMAT, "%s: not a JSON object", file);
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(root, "model_type");
    if (cJSON_IsString(mt) && strcmp(mt->valuestring, "marian") != 0)
        return nmt_err_set(err, NMT_ERR_UNSUPPORTED, "%s: model_type \"%s\" is not a Marian model", file,
                           mt->valuestring);
    if ((rc = get_int(root, file, "d_model", 1, 0, 2, 65536, &hp->d_model, err)) ||
        (rc = get_int(root, file, "encoder_layers", 1, 0, 1, 256, &hp->enc_layers, err)) ||
        (rc = get_int(root, file, "decoder_layers", 1, 0, 1, 256, &hp->dec_layers, err)) ||
        (rc = get_int(root, file, "encoder_attention_heads", 1, 0, 1, 1024, &hp->enc_heads, err)) ||
        (rc = get_int(root, file, "decoder_attention_heads", 1, 0, 1, 1024, &hp->dec_heads, err)) ||
        (rc = get_int(root, file, "encoder_ffn_dim", 1, 0, 1, big, &hp->enc_ffn, err)) ||
        (rc = get_int(root, file, "decoder_ffn_dim", 1, 0, 1, big, &hp->dec_ffn, err)) ||
        (rc = get_int(root, file, "vocab_size", 1, 0, 3, 16 * big, &hp->vocab_size, err)) ||
        (rc = get_int(root, file, "max_position_embeddings", 0, 1024, 2, big, &hp->max_pos, err)) ||
        (rc = get_int(root, file, "pad_token_id", 0, 58100, 0, 16 * big, &hp->pad_id, err)) ||
        (rc = get_int(root, file, "eos_token_id", 0, 0, 0, 16 * big, &hp->eos_id, err)) ||
        (rc = get_int(root, file, "decoder_start_token_id", 0, hp->pad_id, 0, 16 * big, &hp->dec_start_id, err)) ||
        (rc = get_int(root, file, "max_length", 0, hp->max_pos, 1, big, &hp->max_length, err)) ||
        (rc = get_bool(root, file, "scale_embedding", 0, &hp->scale_embedding, err)) ||
        (rc = get_bool(root, file, "tie_word_embeddings", 1, &hp->tie_embeddings, err)) ||
        (rc = parse_activation(hp, file, root, err)))
        return rc;
    int normalize_before, shared_vocab, decoder_vocab;
    if ((rc = get_bool(root, file, "normalize_before", 0, &normalize_before, err)) ||
        (rc = get_bool(root, file, "share_encoder_decoder_embeddings", 1, &shared_vocab, err)) ||
        (rc = get_int(root, file, "decoder_vocab_size", 0, hp->vocab_size, 1, 16 * big, &decoder_vocab, err)))
        return rc;
    if (normalize_before)
        return nmt_err_set(err, NMT_ERR_UNSUPPORTED,
                           "%s: normalize_before is true; nmtd implements Marian's post-norm Transformer only", file);
    if (!shared_vocab || decoder_vocab != hp->vocab_size)
        return nmt_err_set(err, NMT_ERR_UNSUPPORTED,
                           "%s: separate source and target vocabularies (share_encoder_decoder_embeddings: false "
                           "or decoder_vocab_size %d != vocab_size %d) are not supported yet",
                           file, decoder_vocab, hp->vocab_size);
    if (hp->d_model % hp->enc_heads || hp->d_model % hp->dec_heads)
        return nmt_err_set(err, NMT_ERR_FORMAT, "%s: d_model %d is not divisible by the attention heads (%d, %d)",
                           file, hp->d_model, hp->enc_heads, hp->dec_heads);
    const struct { const char *key; int id; } ids[] = {
        {"pad_token_id", hp->pad_id}, {"eos_token_id", hp->eos_id}, {"decoder_start_token_id", hp->dec_start_id}};
    for (size_t i = 0; i < 3; i++)
        if (ids[i].id >= hp->vocab_size)
            return nmt_err_set(err, NMT_ERR_FORMAT, "%s: %s %d is outside the vocabulary (vocab_size %d)", file,
                               ids[i].key, ids[i].id, hp->vocab_size);
    if (hp->pad_id == hp->eos_id)
        return nmt_err_set(err, NMT_ERR_FORMAT, "%s: pad_token_id and eos_token_id are both %d", file, hp->pad_id);
    hp->embed_scale = hp->scale_embedding ? sqrtf((float)hp->d_model) : 1.0f;
    hp->ln_eps = 1e-5f;
    return NMT_OK;
}

/* Parses len bytes of JSON named name (in messages) into *out.  Refuses a
 * NUL in a string (cJSON would end the string there, so "d_model\u0000x"
 * would read as "d_model") and text after the value. */
static nmt_code parse_json(const char *name, const char *text, size_t len, cJSON **out, nmt_err *err)
{
    *out = NULL;
    size_t nul = nmt_json_nul_at(text, len);
    if (nul < len)
        return nmt_err_set(err, NMT_ERR_FORMAT, "%s: invalid JSON: a NUL (a 0 byte or \\u0000) at byte %zu",
                           name, nul);
    const char *end = NULL;
    *out = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!*out)
        return nmt_err_set(err, NMT_ERR_FORMAT, "%s: invalid JSON near byte %zu", name,
                           end ? (size_t)(end - text) : 0);
    for (const char *p = end; p < text + len; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            cJSON_Delete(*out);
            *out = NULL;
            return nmt_err_set(err, NMT_ERR_FORMAT, "%s: invalid JSON: text after the value at byte %zu", name,
                               (size_t)(p - text));
        }
    return NMT_OK;
}

static nmt_code load_json(const char *dir, const char *name, int optional, cJSON **out, nmt_err *err)
{
    *out = NULL;
    char *path = nmt_path_join(dir, name);
    if (!path)
        return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
    if (optional && !nmt_file_exists(path)) {
        free(path);
        return NMT_OK;
    }
    char *text = NULL;
    size_t len = 0;
    nmt_code rc = nmt_read_file(path, CONFIG_MAX_BYTES, &text, &len, err);
    if (rc == NMT_OK)
        rc = parse_json(path, text, len, out, err);
    free(text);
    free(path);
    return rc;
}

/* generation_config.json (parsed; NULL when there is none) over hp. */
static nmt_code apply_generation_config(nmt_hparams *hp, const cJSON *gen, nmt_err *err)
{
    if (!gen)
        return NMT_OK;
    if (!cJSON_IsObject(gen))
        return nmt_err_set(err, NMT_ERR_FORMAT, "generation_config.json: not a JSON object");
    return get_int(gen, "generation_config.json", "max_length", 0, hp->max_length, 1, 1 << 20, &hp->max_length,
                   err);
}

nmt_code nmt_hparams_load(nmt_hparams *hp, const char *dir, nmt_err *err)
{
    cJSON *config = NULL, *gen = NULL;
    nmt_code rc = load_json(dir, "config.json", 0, &config, err);
    if (rc)
        return rc;
    rc = parse_config(hp, config, "config.json", err);
    if (rc == NMT_OK)
        rc = load_json(dir, "generation_config.json", 1, &gen, err);
    if (rc == NMT_OK)
        rc = apply_generation_config(hp, gen, err);
    if (rc && err && strncmp(err->msg, dir, strlen(dir)) != 0)
        nmt_err_prefix(err, dir);
    cJSON_Delete(config);
    cJSON_Delete(gen);
    return rc;
}

nmt_code nmt_hparams_parse(nmt_hparams *hp, const char *config, size_t config_len, const char *gen, size_t gen_len,
                           nmt_err *err)
{
    if (config_len > CONFIG_MAX_BYTES || gen_len > CONFIG_MAX_BYTES)
        return nmt_err_set(err, NMT_ERR_FORMAT, "a JSON file of more than %u bytes", CONFIG_MAX_BYTES);
    cJSON *cj = NULL, *gj = NULL;
    nmt_code rc = parse_json("config.json", config, config_len, &cj, err);
    if (rc == NMT_OK)
        rc = parse_config(hp, cj, "config.json", err);
    if (rc == NMT_OK && gen)
        rc = parse_json("generation_config.json", gen, gen_len, &gj, err);
    if (rc == NMT_OK)
        rc = apply_generation_config(hp, gj, err);
    cJSON_Delete(cj);
    cJSON_Delete(gj);
    return rc;
}
