/* model.h: a Marian encoder-decoder Transformer loaded from a Hugging Face
 * model directory (config.json + model.safetensors).  Loading is three
 * steps, one file each: the hyper-parameters (hparams.c), the weights bound
 * and checked by name, dtype and shape (model_bind.c), and, where the packed
 * kernel runs, the weights repacked once with the file's pages given back
 * (model_pack.c); this file orchestrates them and owns the memory.  After
 * loading the model is immutable: share one across all worker threads. */
#ifndef NMT_MODEL_H
#define NMT_MODEL_H

#include <stddef.h>

#include "err.h"
#include "hparams.h"
#include "kernels.h"
#include "output_layer.h"
#include "safetensors.h"

/* How the linear layers compute: float32 (exact, the reference's tokens),
 * int8 (qgemm.h: weights quantized at load, the fp32 copy given back) or
 * bfloat16 (bf16_gemm.h: weights rounded at load, the fp32 copy given back). */
typedef enum nmt_compute_type { NMT_COMPUTE_FLOAT32, NMT_COMPUTE_INT8, NMT_COMPUTE_BFLOAT16 } nmt_compute_type;

/* "float32", "int8", "bfloat16". */
const char *nmt_compute_type_name(nmt_compute_type t);

typedef struct nmt_norm_w {
    const float *gamma; /* [d_model] */
    const float *beta;  /* [d_model] */
} nmt_norm_w;

typedef struct nmt_attn_w {
    nmt_linear_w q, k, v, o; /* each [d_model][d_model], [d_model] */
} nmt_attn_w;

typedef struct nmt_enc_layer {
    nmt_attn_w self_attn;
    nmt_norm_w self_norm;
    nmt_linear_w fc1; /* [ffn][d_model] */
    nmt_linear_w fc2; /* [d_model][ffn] */
    nmt_norm_w final_norm;
} nmt_enc_layer;

typedef struct nmt_dec_layer {
    nmt_attn_w self_attn;
    nmt_norm_w self_norm;
    nmt_attn_w cross_attn; /* Q from the decoder, K/V from the encoder output */
    nmt_norm_w cross_norm;
    nmt_linear_w fc1;
    nmt_linear_w fc2;
    nmt_norm_w final_norm;
} nmt_dec_layer;

typedef struct nmt_model {
    nmt_hparams hp;
    char *dir;
    char *name;                 /* last component of dir */
    const float *embed;         /* [vocab][d_model] shared token embeddings (read rows with nmt_model_embedding_row);
                                   NULL when embed_src is read instead */
    const float *positions;     /* [max_pos][d_model] sinusoids */
    nmt_output_layer output;    /* hidden state -> next token */
    nmt_enc_layer *enc;         /* [enc_layers] */
    nmt_dec_layer *dec;         /* [dec_layers] */
    size_t weight_bytes;        /* bytes of the weights in use (fp32, or int8 / bfloat16 where converted) */
    nmt_compute_type compute;
    int packed;                 /* weights packed for the packed kernel (gemm.h) */
    const char *file_dtype;     /* dtype of the stored embedding, e.g. "F32" */
    const nmt_st_tensor *embed_src;  /* int8 / bfloat16 from an F16/BF16 file: the embeddings, */
    const nmt_st_tensor *output_src; /* and the output weights, read from the file row by row (else NULL) */
    /* private to the model's files */
    int check_only;             /* nmt_model_check: bind names and shapes, convert nothing */
    nmt_safetensors st;
    void **owned;
    int n_owned, cap_owned;
    /* linear layers whose F16/BF16 weights stay in the file until int8 or
     * bfloat16 converts them a block of rows at a time (their w is NULL):
     * a whole fp32 copy of the model never exists */
    struct nmt_deferred_linear {
        const nmt_linear_w *lw;
        const nmt_st_tensor *t;
    } *deferred;
    int n_deferred, cap_deferred;
    float *convert_block; /* while nmt_model_quantize runs: the widened rows of one block of them */
} nmt_model;

/* Loads dir/config.json, dir/generation_config.json (optional) and
 * dir/model.safetensors.  Returns NMT_OK and a model in *out, or an error
 * naming the file and the problem (expected vs got). */
nmt_code nmt_model_load(nmt_model **out, const char *dir, nmt_err *err);
/* The same computing as `compute` says. */
nmt_code nmt_model_load_as(nmt_model **out, const char *dir, nmt_compute_type compute, nmt_err *err);

/* Checks dir as nmt_model_load does (config.json, every tensor's name,
 * dtype and shape) without reading or converting the weights: the cheap
 * check for a model loaded later.  *hp gets its hyper-parameters and
 * *file_dtype (may be NULL) the stored embedding's dtype ("F32", "F16",
 * "BF16"). */
nmt_code nmt_model_check(const char *dir, nmt_hparams *hp, const char **file_dtype, nmt_err *err);

/* The bytes of the weights of a model of these hyper-parameters, once
 * loaded for `compute` on this CPU (with int8, the linear layers' int8 rows
 * and scales in place of their fp32 weights; with bfloat16, their bfloat16
 * panels; the output layer's int8 screen where it has one). */
size_t nmt_model_weight_bytes(const nmt_hparams *hp, nmt_compute_type compute);

/* Frees everything; accepts NULL. */
void nmt_model_free(nmt_model *model);

/* dst[d_model] = the token embedding of id (unscaled), wherever it lives.
 * Rows that live in the mapped file are read with pread (F16/BF16 ones
 * widened on the way), so looking up a few rows of a large matrix does not
 * map its pages into the process.  Thread-safe; allocates nothing. */
void nmt_model_embedding_row(const nmt_model *model, int id, float *dst);

/* dst[d_model] = row i of the output layer's fp32 weights, as
 * nmt_model_embedding_row reads. */
void nmt_model_output_row(const nmt_model *model, int i, float *dst);

#endif
