/* model.c: config.json -> hyper-parameters; model.safetensors -> bound,
 * validated weights.  The whole model is checked before it is used: every
 * tensor a Marian model of this configuration needs must be present with the
 * right shape and a float dtype, and no tensor may be left unexplained.
 * F32 tensors are used in place from the read-only mapping; F16/BF16 tensors
 * are converted to F32 once, here.  Immutable after nmt_model_load. */
#include "model.h"

#include <cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "gemm.h"
#include "log.h"
#include "util.h"

#define CONFIG_MAX_BYTES (1u << 20)

/* ---- config.json ------------------------------------------------------ */

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

/* ---- weights ---------------------------------------------------------- */

typedef struct binder {
    nmt_model *m;
    unsigned char *used; /* [st.n_tensors] */
    nmt_err *err;
} binder;

static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else { /* subnormal: renormalise */
            exp = 127 - 15 + 1;
            while (!(mant & 0x400)) {
                mant <<= 1;
                exp--;
            }
            bits = sign | (exp << 23) | ((mant & 0x3ff) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else {
        bits = sign | ((exp - 15 + 127) << 23) | (mant << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static nmt_code own(nmt_model *m, void *p, nmt_err *err)
{
    if (m->n_owned == m->cap_owned) {
        int cap = m->cap_owned ? 2 * m->cap_owned : 64;
        void **grown = realloc(m->owned, (size_t)cap * sizeof *grown);
        if (!grown) {
            free(p);
            return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
        }
        m->owned = grown;
        m->cap_owned = cap;
    }
    m->owned[m->n_owned++] = p;
    return NMT_OK;
}

/* Returns the tensor as F32: in place when possible, else a converted copy. */
static const float *as_f32(binder *b, const nmt_st_tensor *t)
{
    if (t->dtype == NMT_DT_F32 && ((uintptr_t)t->data % sizeof(float)) == 0)
        return (const float *)t->data;
    float *out = malloc((size_t)(t->numel ? t->numel : 1) * sizeof *out);
    if (!out) {
        nmt_err_set(b->err, NMT_ERR_NOMEM, "out of memory converting '%s'", t->name);
        return NULL;
    }
    for (int64_t i = 0; i < t->numel; i++) {
        uint16_t h;
        switch (t->dtype) {
        case NMT_DT_F32:
            memcpy(&out[i], t->data + 4 * i, 4);
            break;
        case NMT_DT_F16:
            memcpy(&h, t->data + 2 * i, 2);
            out[i] = half_to_float(h);
            break;
        case NMT_DT_BF16: {
            memcpy(&h, t->data + 2 * i, 2);
            uint32_t bits = (uint32_t)h << 16;
            memcpy(&out[i], &bits, 4);
            break;
        }
        case NMT_DT_OTHER:
            break;
        }
    }
    if (own(b->m, out, b->err))
        return NULL;
    return out;
}

/* Looks up name, checks dtype and shape (d1 < 0 for a vector), marks it used.
 * *missing is set instead of failing when the tensor is absent and optional. */
static const nmt_st_tensor *check_tensor(binder *b, const char *name, int64_t d0, int64_t d1, int optional)
{
    const nmt_st_tensor *t = nmt_st_find(&b->m->st, name);
    int64_t want[2] = {d0, d1};
    int want_ndim = d1 < 0 ? 1 : 2;
    char ws[64], gs[64];
    if (!t) {
        if (!optional)
            nmt_err_set(b->err, NMT_ERR_FORMAT, "model.safetensors: missing tensor '%s' (expected shape %s)", name,
                        nmt_shape_str(want, want_ndim, ws, sizeof ws));
        return NULL;
    }
    b->used[t - b->m->st.tensors] = 1;
    if (t->dtype == NMT_DT_OTHER) {
        nmt_err_set(b->err, NMT_ERR_FORMAT, "model.safetensors: tensor '%s' has dtype %s, expected F32, F16 or BF16",
                    name, t->dtype_name);
        return NULL;
    }
    /* Hugging Face stores final_logits_bias as [1, vocab]; accept [vocab] too. */
    int ok = t->ndim == want_ndim && t->shape[0] == d0 && (want_ndim == 1 || t->shape[1] == d1);
    if (!ok && want_ndim == 1 && t->ndim == 2 && t->shape[0] == 1 && t->shape[1] == d0)
        ok = 1;
    if (!ok) {
        nmt_err_set(b->err, NMT_ERR_FORMAT, "model.safetensors: tensor '%s' has shape %s, expected %s", name,
                    nmt_shape_str(t->shape, t->ndim, gs, sizeof gs), nmt_shape_str(want, want_ndim, ws, sizeof ws));
        return NULL;
    }
    return t;
}

static const float *bind(binder *b, const char *name, int64_t d0, int64_t d1)
{
    const nmt_st_tensor *t = check_tensor(b, name, d0, d1, 0);
    return t ? as_f32(b, t) : NULL;
}

static nmt_code bind_linear(binder *b, nmt_linear_w *lw, const char *prefix, int out, int in)
{
    char name[256];
    snprintf(name, sizeof name, "%s.weight", prefix);
    if (!(lw->w = bind(b, name, out, in)))
        return b->err->code;
    snprintf(name, sizeof name, "%s.bias", prefix);
    if (!(lw->b = bind(b, name, out, -1)))
        return b->err->code;
    return NMT_OK;
}

static nmt_code bind_norm(binder *b, nmt_norm_w *nw, const char *prefix, int d)
{
    char name[256];
    snprintf(name, sizeof name, "%s.weight", prefix);
    if (!(nw->gamma = bind(b, name, d, -1)))
        return b->err->code;
    snprintf(name, sizeof name, "%s.bias", prefix);
    if (!(nw->beta = bind(b, name, d, -1)))
        return b->err->code;
    return NMT_OK;
}

static nmt_code bind_attn(binder *b, nmt_attn_w *aw, const char *prefix, int d)
{
    static const char *const proj[4] = {"q_proj", "k_proj", "v_proj", "out_proj"};
    nmt_linear_w *dst[4] = {&aw->q, &aw->k, &aw->v, &aw->o};
    char name[256];
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "%s.%s", prefix, proj[i]);
        nmt_code rc = bind_linear(b, dst[i], name, d, d);
        if (rc)
            return rc;
    }
    return NMT_OK;
}

static nmt_code bind_layers(binder *b)
{
    nmt_model *m = b->m;
    const nmt_hparams *hp = &m->hp;
    char p[192], q[224];
    nmt_code rc;
    for (int l = 0; l < hp->enc_layers; l++) {
        nmt_enc_layer *L = &m->enc[l];
        snprintf(p, sizeof p, "model.encoder.layers.%d", l);
#define SUB(s) (snprintf(q, sizeof q, "%s.%s", p, s), q)
        if ((rc = bind_attn(b, &L->self_attn, SUB("self_attn"), hp->d_model)) ||
            (rc = bind_norm(b, &L->self_norm, SUB("self_attn_layer_norm"), hp->d_model)) ||
            (rc = bind_linear(b, &L->fc1, SUB("fc1"), hp->enc_ffn, hp->d_model)) ||
            (rc = bind_linear(b, &L->fc2, SUB("fc2"), hp->d_model, hp->enc_ffn)) ||
            (rc = bind_norm(b, &L->final_norm, SUB("final_layer_norm"), hp->d_model)))
            return rc;
    }
    for (int l = 0; l < hp->dec_layers; l++) {
        nmt_dec_layer *L = &m->dec[l];
        snprintf(p, sizeof p, "model.decoder.layers.%d", l);
        if ((rc = bind_attn(b, &L->self_attn, SUB("self_attn"), hp->d_model)) ||
            (rc = bind_norm(b, &L->self_norm, SUB("self_attn_layer_norm"), hp->d_model)) ||
            (rc = bind_attn(b, &L->cross_attn, SUB("encoder_attn"), hp->d_model)) ||
            (rc = bind_norm(b, &L->cross_norm, SUB("encoder_attn_layer_norm"), hp->d_model)) ||
            (rc = bind_linear(b, &L->fc1, SUB("fc1"), hp->dec_ffn, hp->d_model)) ||
            (rc = bind_linear(b, &L->fc2, SUB("fc2"), hp->d_model, hp->dec_ffn)) ||
            (rc = bind_norm(b, &L->final_norm, SUB("final_layer_norm"), hp->d_model)))
            return rc;
#undef SUB
    }
    return NMT_OK;
}

/* The token embeddings are tied: Hugging Face may save them under any of these
 * names (or several); all present must have the right shape, the first is used. */
static nmt_code bind_embeddings(binder *b)
{
    nmt_model *m = b->m;
    const nmt_hparams *hp = &m->hp;
    static const char *const names[] = {"model.shared.weight", "model.encoder.embed_tokens.weight",
                                        "model.decoder.embed_tokens.weight"};
    const nmt_st_tensor *first = NULL;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const nmt_st_tensor *t = check_tensor(b, names[i], hp->vocab_size, hp->d_model, 1);
        if (!t && b->err->code)
            return b->err->code;
        if (t && !first)
            first = t;
    }
    const nmt_st_tensor *lm_head = check_tensor(b, "lm_head.weight", hp->vocab_size, hp->d_model, 1);
    if (!lm_head && b->err->code)
        return b->err->code;
    if (!first && hp->tie_embeddings)
        first = lm_head;
    if (!first)
        return nmt_err_set(b->err, NMT_ERR_FORMAT,
                           "model.safetensors: missing tensor 'model.shared.weight' (expected shape [%d, %d])",
                           hp->vocab_size, hp->d_model);
    m->file_dtype = first->dtype == NMT_DT_F32 ? "F32" : first->dtype == NMT_DT_F16 ? "F16" : "BF16";
    if (!(m->embed = as_f32(b, first)))
        return b->err->code;
    m->out_proj = m->embed;
    if (!hp->tie_embeddings) {
        if (!lm_head)
            return nmt_err_set(b->err, NMT_ERR_FORMAT,
                               "model.safetensors: tie_word_embeddings is false but 'lm_head.weight' is missing");
        if (!(m->out_proj = as_f32(b, lm_head)))
            return b->err->code;
    }
    const nmt_st_tensor *bias = check_tensor(b, "final_logits_bias", hp->vocab_size, -1, 1);
    if (!bias && b->err->code)
        return b->err->code;
    if (bias) {
        m->final_logits_bias = as_f32(b, bias);
    } else {
        float *zeros = calloc((size_t)hp->vocab_size, sizeof *zeros);
        if (!zeros || own(m, zeros, b->err))
            return nmt_err_set(b->err, NMT_ERR_NOMEM, "out of memory");
        m->final_logits_bias = zeros;
    }
    return m->final_logits_bias ? NMT_OK : b->err->code;
}

/* Sinusoids are computed; a file that carries them must agree. */
static nmt_code bind_positions(binder *b)
{
    nmt_model *m = b->m;
    const nmt_hparams *hp = &m->hp;
    size_t n = (size_t)hp->max_pos * (size_t)hp->d_model;
    float *table = malloc(n * sizeof *table);
    if (!table || own(m, table, b->err))
        return nmt_err_set(b->err, NMT_ERR_NOMEM, "out of memory");
    nmt_sinusoid_table(table, hp->max_pos, hp->d_model);
    m->positions = table;
    static const char *const names[] = {"model.encoder.embed_positions.weight", "model.decoder.embed_positions.weight"};
    for (int i = 0; i < 2; i++) {
        const nmt_st_tensor *t = check_tensor(b, names[i], hp->max_pos, hp->d_model, 1);
        if (!t && b->err->code)
            return b->err->code;
        if (!t)
            continue;
        const float *stored = as_f32(b, t);
        if (!stored)
            return b->err->code;
        for (size_t j = 0; j < n; j++) {
            if (fabsf(stored[j] - table[j]) > 1e-3f)
                return nmt_err_set(b->err, NMT_ERR_FORMAT,
                                   "model.safetensors: '%s' is not Marian's sinusoidal table: at position %zu, "
                                   "dimension %zu the file has %g, expected %g",
                                   names[i], j / (size_t)hp->d_model, j % (size_t)hp->d_model, (double)stored[j],
                                   (double)table[j]);
        }
    }
    return NMT_OK;
}

/* ---- packing for the AVX-512 kernel ----------------------------------- */

/* The unpacked weights w[bytes] are no longer needed for compute: give back
 * their memory (file pages of the read-only mapping are dropped and would
 * simply be read again if touched; converted copies are freed). */
static int release_mapped(nmt_model *m, const float *w, size_t bytes)
{
    const char *p = (const char *)w, *map = m->st.map;
    if (!map || p < map || p + bytes > map + m->st.map_size)
        return 0;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t begin = ((uintptr_t)p + page - 1) & ~(page - 1), end = ((uintptr_t)p + bytes) & ~(page - 1);
    if (end > begin)
        madvise((void *)begin, end - begin, MADV_DONTNEED);
    return 1;
}

static void release_unpacked(nmt_model *m, const float *w, size_t bytes)
{
    if (release_mapped(m, w, bytes))
        return;
    if (w == m->embed)
        return; /* still needed for token lookups */
    for (int i = 0; i < m->n_owned; i++)
        if (m->owned[i] == w) {
            free(m->owned[i]);
            m->owned[i] = NULL;
            return;
        }
}

static void trim_output_rows(void *ctx)
{
    nmt_model *m = ctx;
    release_mapped(m, m->out_proj, (size_t)m->hp.vocab_size * m->hp.d_model * sizeof(float));
}

static nmt_code pack_linear(nmt_model *m, nmt_linear_w *lw, int out, int in, nmt_err *err)
{
    float *packed = malloc(nmt_gemm_packed_size(out, in) * sizeof *packed);
    if (!packed || own(m, packed, err))
        return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory packing weights");
    /* 1024 rows (whole panels) at a time, each released once packed, so the
     * packed copy never coexists with much of the original */
    const int chunk = 1024;
    for (int r = 0; r < out; r += chunk) {
        int rows = out - r < chunk ? out - r : chunk;
        nmt_gemm_pack(packed + (size_t)r * in, lw->w + (size_t)r * in, rows, in);
        release_mapped(m, lw->w + (size_t)r * in, (size_t)rows * in * sizeof(float));
    }
    release_unpacked(m, lw->w, (size_t)out * in * sizeof(float)); /* a converted copy as a whole */
    lw->packed = packed;
    lw->w = NULL;
    return NMT_OK;
}

static nmt_code pack_attn(nmt_model *m, nmt_attn_w *a, int d, nmt_err *err)
{
    nmt_code rc;
    if ((rc = pack_linear(m, &a->q, d, d, err)) || (rc = pack_linear(m, &a->k, d, d, err)) ||
        (rc = pack_linear(m, &a->v, d, d, err)) || (rc = pack_linear(m, &a->o, d, d, err)))
        return rc;
    return NMT_OK;
}

/* Packs every weight matrix once, layer by layer, so that peak memory stays
 * near one copy of the weights. */
static nmt_code pack_weights(nmt_model *m, nmt_err *err)
{
    const nmt_hparams *hp = &m->hp;
    int d = hp->d_model;
    nmt_code rc;
    for (int l = 0; l < hp->enc_layers; l++) {
        nmt_enc_layer *L = &m->enc[l];
        if ((rc = pack_attn(m, &L->self_attn, d, err)) || (rc = pack_linear(m, &L->fc1, hp->enc_ffn, d, err)) ||
            (rc = pack_linear(m, &L->fc2, d, hp->enc_ffn, err)))
            return rc;
    }
    for (int l = 0; l < hp->dec_layers; l++) {
        nmt_dec_layer *L = &m->dec[l];
        if ((rc = pack_attn(m, &L->self_attn, d, err)) || (rc = pack_attn(m, &L->cross_attn, d, err)) ||
            (rc = pack_linear(m, &L->fc1, hp->dec_ffn, d, err)) || (rc = pack_linear(m, &L->fc2, d, hp->dec_ffn, err)))
            return rc;
    }
    if (nmt_logits_screen_available()) {
        /* the output layer goes through the int8 screen; the fp32 rows stay
         * where they are, read only for the few tokens the screen keeps */
        m->screen = calloc(1, sizeof *m->screen);
        if (!m->screen)
            return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
        if ((rc = nmt_logits_screen_build(m->screen, m->out_proj, hp->vocab_size, d, trim_output_rows, m, err)))
            return rc;
        release_mapped(m, m->out_proj, (size_t)hp->vocab_size * d * sizeof(float));
    } else {
        int tied = m->logits.w == m->embed;
        if ((rc = pack_linear(m, &m->logits, hp->vocab_size, d, err)))
            return rc;
        if (tied) /* the packed output projection doubles as the lookup table */
            m->embed_packed = m->logits.packed;
    }
    if (m->st.map) /* what is still read from the file is read row by row: no readahead */
        madvise(m->st.map, m->st.map_size, MADV_RANDOM);
    m->packed = 1;
    return NMT_OK;
}

/* "a/b/models/en-de/" -> "en-de" (malloc'd). */
static char *dir_basename(const char *dir)
{
    size_t end = strlen(dir);
    while (end > 1 && dir[end - 1] == '/')
        end--;
    size_t begin = end;
    while (begin > 0 && dir[begin - 1] != '/')
        begin--;
    return strndup(dir + begin, end - begin);
}

static size_t count_weight_bytes(const nmt_hparams *hp)
{
    size_t d = (size_t)hp->d_model, attn = 4 * (d * d + d), norm = 2 * d;
    size_t enc = attn + norm + (size_t)hp->enc_ffn * (2 * d + 1) + d + norm;
    size_t dec = 2 * (attn + norm) + (size_t)hp->dec_ffn * (2 * d + 1) + d + norm;
    size_t vocab = (size_t)hp->vocab_size * (d + 1) * (hp->tie_embeddings ? 1 : 2);
    return 4 * (vocab + (size_t)hp->enc_layers * enc + (size_t)hp->dec_layers * dec);
}

nmt_code nmt_model_load(nmt_model **out, const char *dir, nmt_err *err)
{
    nmt_err local;
    if (!err)
        err = &local;
    *out = NULL;
    nmt_model *m = calloc(1, sizeof *m);
    if (!m)
        return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
    nmt_code rc = nmt_hparams_load(&m->hp, dir, err);
    if (rc)
        goto fail;
    m->dir = strdup(dir);
    m->name = dir_basename(dir);
    char *path = nmt_path_join(dir, "model.safetensors");
    if (!m->dir || !m->name || !path) {
        free(path);
        rc = nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if (!nmt_file_exists(path)) {
        char *bin = nmt_path_join(dir, "pytorch_model.bin");
        int has_bin = bin && nmt_file_exists(bin);
        free(bin);
        rc = has_bin ? nmt_err_set(err, NMT_ERR_IO,
                                   "%s: missing; this directory has only pytorch_model.bin: convert it with "
                                   "tools/convert_pytorch_bin.py %s",
                                   path, dir)
                     : nmt_err_set(err, NMT_ERR_IO, "%s: missing", path);
        free(path);
        goto fail;
    }
    rc = nmt_st_open(&m->st, path, err);
    free(path);
    if (rc)
        goto fail;
    m->enc = calloc((size_t)m->hp.enc_layers, sizeof *m->enc);
    m->dec = calloc((size_t)m->hp.dec_layers, sizeof *m->dec);
    binder b = {.m = m, .used = calloc((size_t)m->st.n_tensors + 1, 1), .err = err};
    if (!m->enc || !m->dec || !b.used) {
        free(b.used);
        rc = nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if (err)
        err->code = NMT_OK;
    rc = bind_embeddings(&b);
    if (!rc)
        rc = bind_positions(&b);
    if (!rc)
        rc = bind_layers(&b);
    for (int i = 0; !rc && i < m->st.n_tensors; i++)
        if (!b.used[i]) {
            char gs[64];
            const nmt_st_tensor *t = &m->st.tensors[i];
            rc = nmt_err_set(err, NMT_ERR_FORMAT,
                             "model.safetensors: unexpected tensor '%s' %s (config.json: %d encoder and %d decoder "
                             "layers; not part of a Marian model of that shape)",
                             t->name, nmt_shape_str(t->shape, t->ndim, gs, sizeof gs), m->hp.enc_layers,
                             m->hp.dec_layers);
        }
    free(b.used);
    if (rc) {
        nmt_err_prefix(err, dir);
        goto fail;
    }
    m->logits = (nmt_linear_w){.w = m->out_proj, .b = m->final_logits_bias, .packed = NULL};
    if (nmt_gemm_packed_available() && (rc = pack_weights(m, err)))
        goto fail;
    m->weight_bytes = count_weight_bytes(&m->hp);
    nmt_info("model",
             "loaded %s: d_model %d, %d+%d layers, %d heads, ffn %d, vocab %d, %s, %s weights (%.1f MB fp32%s)",
             m->name, m->hp.d_model, m->hp.enc_layers, m->hp.dec_layers, m->hp.enc_heads, m->hp.enc_ffn,
             m->hp.vocab_size, m->hp.act_name, m->file_dtype, (double)m->weight_bytes / 1e6,
             m->screen ? ", packed for AVX-512, int8 output screen" : m->packed ? ", packed for AVX-512" : ", OpenBLAS");
    *out = m;
    return NMT_OK;
fail:
    nmt_model_free(m);
    return rc;
}

void nmt_model_read_row(const nmt_model *m, const float *matrix, int i, float *dst)
{
    size_t d = (size_t)m->hp.d_model;
    const float *row = matrix + (size_t)i * d;
    if (nmt_st_pread(&m->st, row, dst, d * sizeof(float)) != 0)
        memcpy(dst, row, d * sizeof(float)); /* in memory (or a read error: fall back to the mapping) */
}

void nmt_model_free(nmt_model *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->n_owned; i++)
        free(m->owned[i]);
    free(m->owned);
    nmt_logits_screen_free(m->screen);
    free(m->screen);
    nmt_st_close(&m->st);
    free(m->enc);
    free(m->dec);
    free(m->dir);
    free(m->name);
    free(m);
}
