/* model.h: a Marian encoder-decoder Transformer loaded from a Hugging Face
 * model directory (config.json + model.safetensors).  nmt_model_load reads the
 * hyper-parameters and conventions from config.json (never from constants),
 * maps the weights once, checks every tensor's name, dtype and shape against
 * the config, and binds them by pointer.  After loading the model is
 * immutable: share one across all worker threads. */
#ifndef NMT_MODEL_H
#define NMT_MODEL_H

#include <stddef.h>

#include "err.h"
#include "kernels.h"
#include "logits.h"
#include "safetensors.h"

typedef struct nmt_hparams {
    int d_model;
    int enc_layers, dec_layers;
    int enc_heads, dec_heads;
    int enc_ffn, dec_ffn;
    int vocab_size;
    int max_pos;          /* max_position_embeddings: bounds source and target length */
    int pad_id, eos_id, dec_start_id;
    int max_length;       /* generation limit (generation_config.json, else config.json) */
    nmt_activation act;
    char act_name[24];
    int scale_embedding;  /* token embeddings x sqrt(d_model) */
    int tie_embeddings;   /* output projection = shared embedding */
    float embed_scale;
    float ln_eps;
} nmt_hparams;

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
    char *name;                     /* last component of dir */
    const float *embed;             /* [vocab][d_model] shared token embeddings */
    const float *out_proj;          /* [vocab][d_model]: embed, or lm_head when untied */
    const float *final_logits_bias; /* [vocab] (zeros when the file has none) */
    const float *positions;         /* [max_pos][d_model] sinusoids */
    nmt_linear_w logits;            /* out_proj + final_logits_bias (+ packed) */
    const float *embed_packed;      /* when tied and packed: token rows are read from logits.packed */
    nmt_logits_screen *screen;      /* int8 screen of out_proj (AVX-512 VNNI), or NULL */
    nmt_enc_layer *enc;             /* [enc_layers] */
    nmt_dec_layer *dec;             /* [dec_layers] */
    size_t weight_bytes;            /* fp32 bytes of the weights in use */
    int packed;                     /* weights packed for the AVX-512 kernel */
    const char *file_dtype;         /* dtype of the stored embedding, e.g. "F32" */
    /* private */
    nmt_safetensors st;
    void **owned;
    int n_owned, cap_owned;
} nmt_model;

/* Loads dir/config.json, dir/generation_config.json (optional) and
 * dir/model.safetensors.  Returns NMT_OK and a model in *out, or an error
 * naming the file and the problem (expected vs got). */
nmt_code nmt_model_load(nmt_model **out, const char *dir, nmt_err *err);

/* Frees everything; accepts NULL. */
void nmt_model_free(nmt_model *model);

/* Copies row i of matrix[rows][d_model] (the token embeddings or the output
 * projection) into dst.  Rows that live in the mapped file are read with
 * pread, so looking up a few rows of a large matrix does not map its pages
 * into the process.  Thread-safe. */
void nmt_model_read_row(const nmt_model *model, const float *matrix, int i, float *dst);


/* Parses only the hyper-parameters of dir (config.json +
 * generation_config.json); used by nmt_model_load and by tests. */
nmt_code nmt_hparams_load(nmt_hparams *hp, const char *dir, nmt_err *err);

/* The same from the files' contents: config (config_len bytes) and gen
 * (gen_len bytes, or NULL when there is no generation_config.json); neither
 * need be NUL-terminated.  Messages name the files, not a directory.  Used by
 * the fuzz target and tests; thread-safe. */
nmt_code nmt_hparams_parse(nmt_hparams *hp, const char *config, size_t config_len, const char *gen, size_t gen_len,
                           nmt_err *err);

#endif
