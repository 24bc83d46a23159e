/* model_bind.c: model.safetensors -> the model's weight pointers.  The whole
 * file is checked before anything runs: every tensor a Marian model of this
 * configuration needs must be present with the right shape and a float dtype
 * (expected vs got in the message), and no tensor may be left unexplained.
 * F32 tensors are used in place from the read-only mapping; F16/BF16 tensors
 * are converted to F32 once, here, except weights that only pass through
 * fp32 on their way to another copy (int8, bfloat16, or packed fp32): those
 * stay in the file and nmt_model_quantize or nmt_model_pack widens them a
 * block of rows at a time (stays_in_file).  A check (nmt_model_check) binds
 * names, dtypes and shapes only. */
#include "model_parts.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "float_convert.h"
#include "gemm.h"
#include "util.h"

typedef struct binder {
    nmt_model *m;
    unsigned char *used; /* [st.n_tensors] */
    nmt_err *err;
} binder;

/* Returns the tensor as F32: in place when possible, else a converted copy. */
static const float *as_f32(binder *b, const nmt_st_tensor *t)
{
    if (b->m->check_only) /* never read */
        return (const float *)t->data;
    if (t->dtype == NMT_DT_F32 && ((uintptr_t)t->data % sizeof(float)) == 0)
        return (const float *)t->data;
    float *out = malloc((size_t)(t->numel ? t->numel : 1) * sizeof *out);
    if (!out) {
        nmt_err_set(b->err, NMT_ERR_NOMEM, "out of memory converting '%s'", t->name);
        return NULL;
    }
    nmt_convert_to_f32(out, t->data, t->numel, t->dtype);
    nmt_model_release_mapped(b->m, t->data, t->nbytes); /* read once: the file's pages go back */
    if (nmt_model_own(b->m, out, b->err))
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

/* 1 when t is best left in the file and read a block of rows at a time:
 * t needs widening (F16, BF16) and its fp32 rows would only pass through
 * on their way to another copy: the int8 or bfloat16 one, or the packed
 * fp32 one (packed kernel).  With float32, the output layer and embeddings
 * (output: 1) stay fp32 in memory: the int8 output screen, which runs
 * wherever the packed kernel does, reads them whole, and OpenBLAS needs
 * every matrix whole. */
static int stays_in_file(const binder *b, const nmt_st_tensor *t, int output)
{
    const nmt_model *m = b->m;
    if (m->check_only || t->dtype == NMT_DT_F32)
        return 0;
    if (m->compute != NMT_COMPUTE_FLOAT32)
        return 1;
    return !output && nmt_gemm_packed_available();
}

/* Records that lw's weights are t, in the file, for nmt_model_quantize to
 * convert a block of rows at a time; NMT_OK or out of memory. */
static nmt_code defer(binder *b, const nmt_linear_w *lw, const nmt_st_tensor *t)
{
    nmt_model *m = b->m;
    if (m->n_deferred == m->cap_deferred) {
        int cap = m->cap_deferred ? 2 * m->cap_deferred : 64;
        struct nmt_deferred_linear *grown = realloc(m->deferred, (size_t)cap * sizeof *grown);
        if (!grown)
            return nmt_err_set(b->err, NMT_ERR_NOMEM, "out of memory binding '%s'", t->name);
        m->deferred = grown;
        m->cap_deferred = cap;
    }
    m->deferred[m->n_deferred++] = (struct nmt_deferred_linear){.lw = lw, .t = t};
    return NMT_OK;
}

static nmt_code bind_linear(binder *b, nmt_linear_w *lw, const char *prefix, int out, int in)
{
    char name[256];
    snprintf(name, sizeof name, "%s.weight", prefix);
    const nmt_st_tensor *t = check_tensor(b, name, out, in, 0);
    if (!t)
        return b->err->code;
    if (stays_in_file(b, t, 0)) {
        lw->w = NULL;
        if (defer(b, lw, t))
            return b->err->code;
    } else if (!(lw->w = as_f32(b, t))) {
        return b->err->code;
    }
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
    if (stays_in_file(b, first, 1))
        m->embed_src = first; /* rows widened at each lookup */
    else if (!(m->embed = as_f32(b, first)))
        return b->err->code;
    m->output.w = m->embed;
    m->output_src = m->embed_src;
    if (!hp->tie_embeddings) {
        if (!lm_head)
            return nmt_err_set(b->err, NMT_ERR_FORMAT,
                               "model.safetensors: tie_word_embeddings is false but 'lm_head.weight' is missing");
        m->output_src = stays_in_file(b, lm_head, 1) ? lm_head : NULL;
        if (!m->output_src && !(m->output.w = as_f32(b, lm_head)))
            return b->err->code;
        if (m->output_src)
            m->output.w = NULL;
    }
    /* the output layer (m->output.full, set from output.w by the loader) converted from the file */
    if (m->output_src && defer(b, &m->output.full, m->output_src))
        return b->err->code;
    const nmt_st_tensor *bias = check_tensor(b, "final_logits_bias", hp->vocab_size, -1, 1);
    if (!bias && b->err->code)
        return b->err->code;
    if (bias) {
        m->output.bias = as_f32(b, bias);
    } else {
        float *zeros = calloc((size_t)hp->vocab_size, sizeof *zeros);
        if (!zeros || nmt_model_own(m, zeros, b->err))
            return nmt_err_set(b->err, NMT_ERR_NOMEM, "out of memory");
        m->output.bias = zeros;
    }
    return m->output.bias ? NMT_OK : b->err->code;
}

/* Sinusoids are computed; a file that carries them must agree. */
static nmt_code bind_positions(binder *b)
{
    nmt_model *m = b->m;
    const nmt_hparams *hp = &m->hp;
    size_t n = (size_t)hp->max_pos * (size_t)hp->d_model;
    float *table = malloc(n * sizeof *table);
    if (!table || nmt_model_own(m, table, b->err))
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
        if (b->m->check_only)
            continue; /* values are compared when the weights load */
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

nmt_code nmt_model_bind(nmt_model *m, nmt_err *err)
{
    binder b = {.m = m, .used = calloc((size_t)m->st.n_tensors + 1, 1), .err = err};
    if (!b.used)
        return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
    err->code = NMT_OK;
    nmt_code rc = bind_embeddings(&b);
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
    return rc;
}
