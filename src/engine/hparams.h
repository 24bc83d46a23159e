/* hparams.h: the hyper-parameters and conventions of a Marian model, as
 * config.json and generation_config.json give them. */
#ifndef NMT_HPARAMS_H
#define NMT_HPARAMS_H

#include <stddef.h>

#include "err.h"
#include "kernels.h"

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

/* Parses the hyper-parameters of dir (config.json + generation_config.json,
 * the latter optional). */
nmt_code nmt_hparams_load(nmt_hparams *hp, const char *dir, nmt_err *err);

/* The same from the files' contents: config (config_len bytes) and gen
 * (gen_len bytes, or NULL when there is no generation_config.json); neither
 * need be NUL-terminated.  Messages name the files, not a directory.  Used by
 * the fuzz target and tests; thread-safe. */
nmt_code nmt_hparams_parse(nmt_hparams *hp, const char *config, size_t config_len, const char *gen, size_t gen_len,
                           nmt_err *err);

#endif
