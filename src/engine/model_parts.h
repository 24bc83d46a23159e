/* model_parts.h: what the model's own files (model.c, model_bind.c,
 * model_pack.c) share; nothing outside them includes it. */
#ifndef NMT_MODEL_PARTS_H
#define NMT_MODEL_PARTS_H

#include "model.h"

/* The model frees p with itself (p is freed at once when this fails). */
nmt_code nmt_model_own(nmt_model *m, void *p, nmt_err *err);

/* Frees an owned block early; 1 when it did, 0 when p is not owned. */
int nmt_model_disown(nmt_model *m, const void *p);

/* Gives the pages of w[bytes] back to the kernel when w lies in the mapped
 * file (they are read again if touched); 1 when it did. */
int nmt_model_release_mapped(nmt_model *m, const void *w, size_t bytes);

/* The fp32 weights w[bytes] are no longer needed for compute: gives their
 * memory back (file pages of the mapping are dropped, read again if ever
 * touched; a converted copy is freed, unless it is the embedding table,
 * still read for token lookups). */
void nmt_model_release_weights(nmt_model *m, const float *w, size_t bytes);

/* The weight rows of the model's linear layers as fp32, a block of at most
 * NMT_MODEL_BLOCK_ROWS rows at a time, for the passes that convert them
 * (nmt_model_quantize, nmt_model_pack): between begin and end,
 * nmt_model_weight_rows gives rows [r, r + rows) of lw: lw->w's own, or,
 * when the file's F16/BF16 rows were left there (m->deferred), those rows
 * widened into one buffer (valid until the next call) and their file pages
 * given back.  begin fails only when out of memory; nmt_model_free frees
 * the buffer too, so an error between begin and end may just return. */
#define NMT_MODEL_BLOCK_ROWS 1024
nmt_code nmt_model_rows_begin(nmt_model *m, nmt_err *err);
const float *nmt_model_weight_rows(nmt_model *m, const nmt_linear_w *lw, int r, int rows, int in);
void nmt_model_rows_end(nmt_model *m);

/* Calls visit on every linear layer of the encoder and decoder stacks
 * (not the output layer) with its shape W[out][in], layer by layer in the
 * order they run (self-attention q, k, v, o, cross-attention q, k, v, o,
 * fc1, fc2); stops at the first error. */
typedef nmt_code (*nmt_linear_visit)(nmt_model *m, nmt_linear_w *lw, int out, int in, nmt_err *err);
nmt_code nmt_model_each_linear(nmt_model *m, nmt_linear_visit visit, nmt_err *err);

/* Binds every tensor a Marian model of m->hp needs (model.safetensors
 * already open in m->st), converting F16/BF16 to fp32 (the linear layers'
 * weights, for int8 and bfloat16, later: m->deferred); fails on a missing,
 * misshapen or unexplained tensor. */
nmt_code nmt_model_bind(nmt_model *m, nmt_err *err);

/* Packs every weight matrix for the packed kernel (gemm.h) and builds the output
 * layer's int8 screen (logits.h), which runs wherever the packed kernel
 * does. */
nmt_code nmt_model_pack(nmt_model *m, nmt_err *err);

/* Builds the output layer's int8 screen (logits.h) from its fp32 rows, a
 * block at a time (between nmt_model_rows_begin and _end), each block's
 * file pages given back; the exact rows are read later with read_row. */
nmt_code nmt_model_screen_output(nmt_model *m, nmt_err *err);

/* Converts every linear layer of the stacks to m->compute (int8: qgemm.h,
 * bfloat16: bf16_gemm.h) and gives the fp32 weights back, layer by layer;
 * the output layer: int8 converted too, bfloat16 screened as float32's
 * (nmt_model_screen_output) or, without the screen's kernels, exact. */
nmt_code nmt_model_quantize(nmt_model *m, nmt_err *err);

#endif
