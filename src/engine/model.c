/* model.c: loading a model directory, in order: hyper-parameters
 * (hparams.c), weights bound and checked (model_bind.c), packed for the
 * kernel when it runs (model_pack.c); and the memory the model owns. */
#include "model_parts.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "float_convert.h"
#include "gemm.h"
#include "huge_alloc.h"
#include "kernel_override.h"
#include "log.h"
#include "util.h"

nmt_code nmt_model_own(nmt_model *m, void *p, nmt_err *err)
{
    if (m->n_owned == m->cap_owned) {
        int cap = m->cap_owned ? 2 * m->cap_owned : 64;
        void **grown = realloc(m->owned, (size_t)cap * sizeof *grown);
        if (!grown) {
            nmt_huge_free(p);
            return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
        }
        m->owned = grown;
        m->cap_owned = cap;
    }
    m->owned[m->n_owned++] = p;
    return NMT_OK;
}

int nmt_model_disown(nmt_model *m, const void *p)
{
    for (int i = 0; i < m->n_owned; i++)
        if (m->owned[i] == p) {
            nmt_huge_free(m->owned[i]);
            m->owned[i] = NULL;
            return 1;
        }
    return 0;
}

int nmt_model_release_mapped(nmt_model *m, const void *w, size_t bytes)
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

void nmt_model_release_weights(nmt_model *m, const float *w, size_t bytes)
{
    if (nmt_model_release_mapped(m, w, bytes))
        return;
    if (w == m->embed)
        return; /* still needed for token lookups */
    nmt_model_disown(m, w);
}

static nmt_code visit_attn(nmt_model *m, nmt_attn_w *a, int d, nmt_linear_visit visit, nmt_err *err)
{
    nmt_linear_w *const proj[4] = {&a->q, &a->k, &a->v, &a->o};
    for (int i = 0; i < 4; i++) {
        nmt_code rc = visit(m, proj[i], d, d, err);
        if (rc)
            return rc;
    }
    return NMT_OK;
}

nmt_code nmt_model_each_linear(nmt_model *m, nmt_linear_visit visit, nmt_err *err)
{
    const nmt_hparams *hp = &m->hp;
    int d = hp->d_model;
    nmt_code rc;
    for (int l = 0; l < hp->enc_layers; l++) {
        nmt_enc_layer *L = &m->enc[l];
        if ((rc = visit_attn(m, &L->self_attn, d, visit, err)) || (rc = visit(m, &L->fc1, hp->enc_ffn, d, err)) ||
            (rc = visit(m, &L->fc2, d, hp->enc_ffn, err)))
            return rc;
    }
    for (int l = 0; l < hp->dec_layers; l++) {
        nmt_dec_layer *L = &m->dec[l];
        if ((rc = visit_attn(m, &L->self_attn, d, visit, err)) || (rc = visit_attn(m, &L->cross_attn, d, visit, err)) ||
            (rc = visit(m, &L->fc1, hp->dec_ffn, d, err)) || (rc = visit(m, &L->fc2, d, hp->dec_ffn, err)))
            return rc;
    }
    return NMT_OK;
}

const char *nmt_compute_type_name(nmt_compute_type t)
{
    return t == NMT_COMPUTE_INT8 ? "int8" : t == NMT_COMPUTE_BFLOAT16 ? "bfloat16" : "float32";
}

static void read_output_row(void *user, int i, float *dst) { nmt_model_output_row(user, i, dst); }

/* The file's F16/BF16 tensor of lw when it was left there (model_bind.c), else NULL. */
static const nmt_st_tensor *deferred_tensor(const nmt_model *m, const nmt_linear_w *lw)
{
    for (int i = 0; i < m->n_deferred; i++)
        if (m->deferred[i].lw == lw)
            return m->deferred[i].t;
    return NULL;
}

nmt_code nmt_model_rows_begin(nmt_model *m, nmt_err *err)
{
    size_t widest = 0; /* one buffer for every block: the rows of the widest matrix */
    for (int i = 0; i < m->n_deferred; i++) {
        const nmt_st_tensor *t = m->deferred[i].t;
        size_t rows = (size_t)(t->shape[0] < NMT_MODEL_BLOCK_ROWS ? t->shape[0] : NMT_MODEL_BLOCK_ROWS);
        widest = rows * (size_t)t->shape[1] > widest ? rows * (size_t)t->shape[1] : widest;
    }
    if (widest && !(m->convert_block = malloc(widest * sizeof *m->convert_block)))
        return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory converting weights");
    return NMT_OK;
}

const float *nmt_model_weight_rows(nmt_model *m, const nmt_linear_w *lw, int r, int rows, int in)
{
    if (lw->w)
        return lw->w + (size_t)r * in;
    const nmt_st_tensor *t = deferred_tensor(m, lw);
    size_t item = t->nbytes / (size_t)(t->numel ? t->numel : 1);
    const unsigned char *src = t->data + (size_t)r * in * item;
    nmt_convert_to_f32(m->convert_block, src, (int64_t)rows * in, t->dtype);
    nmt_model_release_mapped(m, src, (size_t)rows * in * item);
    return m->convert_block;
}

void nmt_model_rows_end(nmt_model *m)
{
    free(m->convert_block);
    m->convert_block = NULL;
}

/* Bytes of one linear layer's weights W[n][k] + b[n] as computed. */
static size_t linear_bytes(size_t n, size_t k, nmt_compute_type compute)
{
    size_t w = compute == NMT_COMPUTE_INT8       ? nmt_q8_bytes_for((int)n, (int)k)
               : compute == NMT_COMPUTE_BFLOAT16 ? nmt_bf16_bytes_for((int)n, (int)k)
                                                 : 4 * n * k;
    return w + 4 * n;
}

size_t nmt_model_weight_bytes(const nmt_hparams *hp, nmt_compute_type c)
{
    size_t d = (size_t)hp->d_model, norm = 4 * 2 * d, attn = 4 * linear_bytes(d, d, c);
    size_t enc = attn + norm + linear_bytes((size_t)hp->enc_ffn, d, c) + linear_bytes(d, (size_t)hp->enc_ffn, c) + norm;
    size_t dec = 2 * (attn + norm) + linear_bytes((size_t)hp->dec_ffn, d, c) + linear_bytes(d, (size_t)hp->dec_ffn, c) +
                 norm;
    size_t V = (size_t)hp->vocab_size;
    /* the output layer: float32 (packed) and bfloat16, its int8 screen where
     * that runs (the fp32 rows of the candidates are read one at a time);
     * bfloat16 without it, only the bias (every fp32 row read one at a
     * time); else its rows as computed, and an untied model's fp32
     * embedding table */
    int screened = c != NMT_COMPUTE_INT8 && nmt_logits_screen_available();
    size_t vocab = screened                        ? nmt_logits_screen_bytes_for((int)V, (int)d) + 4 * V
                   : c == NMT_COMPUTE_BFLOAT16     ? 4 * V
                                                   : linear_bytes(V, d, c) + (hp->tie_embeddings ? 0 : 4 * V * d);
    return vocab + (size_t)hp->enc_layers * enc + (size_t)hp->dec_layers * dec;
}

static nmt_code load(nmt_model **out, const char *dir, int check_only, nmt_compute_type compute, nmt_err *err)
{
    nmt_err local;
    if (!err)
        err = &local;
    *out = NULL;
    nmt_model *m = calloc(1, sizeof *m);
    if (!m)
        return nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
    m->check_only = check_only;
    m->compute = compute;
    nmt_code rc = nmt_kernel_override_check(err);
    if (rc || (rc = nmt_hparams_load(&m->hp, dir, err)))
        goto fail;
    m->dir = strdup(dir);
    m->name = nmt_path_basename(dir);
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
    if (!m->enc || !m->dec) {
        rc = nmt_err_set(err, NMT_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if ((rc = nmt_model_bind(m, err))) {
        nmt_err_prefix(err, dir);
        goto fail;
    }
    m->output.vocab = m->hp.vocab_size;
    m->output.d = m->hp.d_model;
    m->output.full = (nmt_linear_w){.w = m->output.w, .b = m->output.bias, .packed = NULL};
    m->output.read_row = read_output_row;
    m->output.read_user = m;
    if (check_only) {
        *out = m;
        return NMT_OK;
    }
    if (compute != NMT_COMPUTE_FLOAT32) {
        if ((rc = nmt_model_quantize(m, err)))
            goto fail;
    } else if (nmt_gemm_packed_available() && (rc = nmt_model_pack(m, err))) {
        goto fail;
    }
    m->weight_bytes = nmt_model_weight_bytes(&m->hp, compute);
    char format[32] = "";
    if (compute == NMT_COMPUTE_INT8)
        snprintf(format, sizeof format, ", weights +-%d", nmt_q8_levels());
    nmt_info("model",
             "loaded %s: d_model %d, %d+%d layers, %d heads, ffn %d, vocab %d, %s, %s weights (%.1f MB %s, %s%s%s%s%s)",
             m->name, m->hp.d_model, m->hp.enc_layers, m->hp.dec_layers, m->hp.enc_heads, m->hp.enc_ffn,
             m->hp.vocab_size, m->hp.act_name, m->file_dtype, (double)m->weight_bytes / 1e6,
             nmt_compute_type_name(compute),
             compute == NMT_COMPUTE_INT8       ? "kernel int8-"
             : compute == NMT_COMPUTE_BFLOAT16 ? "kernel bf16-"
             : m->packed                       ? "packed for "
                                               : "OpenBLAS",
             compute == NMT_COMPUTE_INT8       ? nmt_q8_kernel_name()
             : compute == NMT_COMPUTE_BFLOAT16 ? nmt_bf16_kernel_name()
             : m->packed                       ? nmt_gemm_packed_kernel()
                                               : "",
             format, m->output.screen ? ", int8 output screen on " : "", m->output.screen ? nmt_logits_screen_kernel() : "");
    *out = m;
    return NMT_OK;
fail:
    nmt_model_free(m);
    return rc;
}

nmt_code nmt_model_load(nmt_model **out, const char *dir, nmt_err *err)
{
    return load(out, dir, 0, NMT_COMPUTE_FLOAT32, err);
}

nmt_code nmt_model_load_as(nmt_model **out, const char *dir, nmt_compute_type compute, nmt_err *err)
{
    return load(out, dir, 0, compute, err);
}

nmt_code nmt_model_check(const char *dir, nmt_hparams *hp, const char **file_dtype, nmt_err *err)
{
    nmt_model *m = NULL;
    nmt_code rc = load(&m, dir, 1, NMT_COMPUTE_FLOAT32, err);
    if (rc == NMT_OK)
        *hp = m->hp;
    if (rc == NMT_OK && file_dtype)
        *file_dtype = m->file_dtype;
    nmt_model_free(m);
    return rc;
}

/* dst[d] = row i of matrix[rows][d], fp32 in memory or in the mapped file. */
static void read_row(const nmt_model *m, const float *matrix, int i, float *dst)
{
    size_t d = (size_t)m->hp.d_model;
    const float *row = matrix + (size_t)i * d;
    if (nmt_st_pread(&m->st, row, dst, d * sizeof(float)) != 0)
        memcpy(dst, row, d * sizeof(float)); /* in memory (or a read error: fall back to the mapping) */
}

/* dst[d] = row i of the file's F16/BF16 tensor t, read a piece at a time
 * into a buffer on the stack and widened. */
static void read_row_converted(const nmt_model *m, const nmt_st_tensor *t, int i, float *dst)
{
    enum { PIECE = 2048 }; /* elements: 4 KB of F16/BF16 */
    uint16_t piece[PIECE];
    size_t d = (size_t)m->hp.d_model, item = sizeof(uint16_t);
    const unsigned char *row = t->data + (size_t)i * d * item;
    for (size_t done = 0; done < d; done += PIECE) {
        size_t n = d - done < PIECE ? d - done : PIECE;
        const unsigned char *src = row + done * item;
        if (nmt_st_pread(&m->st, src, piece, n * item) == 0)
            src = (const unsigned char *)piece;
        nmt_convert_to_f32(dst + done, src, (int64_t)n, t->dtype); /* else from the mapping */
    }
}

void nmt_model_embedding_row(const nmt_model *m, int id, float *dst)
{
    if (m->embed_src)
        read_row_converted(m, m->embed_src, id, dst);
    else
        read_row(m, m->embed, id, dst);
}

void nmt_model_output_row(const nmt_model *m, int i, float *dst)
{
    if (m->output_src)
        read_row_converted(m, m->output_src, i, dst);
    else
        read_row(m, m->output.w, i, dst);
}

void nmt_model_free(nmt_model *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->n_owned; i++)
        nmt_huge_free(m->owned[i]); /* malloc's or huge_alloc's */
    free(m->owned);
    nmt_logits_screen_free(m->output.screen);
    free(m->output.screen);
    nmt_st_close(&m->st);
    free(m->deferred);
    free(m->convert_block);
    free(m->enc);
    free(m->dec);
    free(m->dir);
    free(m->name);
    free(m);
}
