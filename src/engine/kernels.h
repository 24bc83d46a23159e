/* kernels.h: the numeric building blocks of the forward pass.  Pure functions
 * of the form (out, in, weights, dims): they neither allocate nor log, and are
 * thread-safe as long as callers do not share output buffers.  Matrices are
 * row-major; weights follow PyTorch's nn.Linear layout W[out][in]. */
#ifndef NMT_KERNELS_H
#define NMT_KERNELS_H

#include <stddef.h>

#include "bf16_gemm.h"
#include "qgemm.h"

/* A linear layer's weights: W[out][in] (PyTorch's layout), b[out], and,
 * when the CPU runs the packed kernel, W packed once by nmt_gemm_pack, or,
 * with compute_type int8, W quantized (qgemm.h), or, with bfloat16, W
 * rounded to bfloat16 panels (bf16_gemm.h). */
typedef struct nmt_linear_w {
    const float *w;           /* [out][in] (NULL once packed, quantized or rounded) */
    const float *b;           /* [out] (may be NULL) */
    const float *packed;      /* nmt_gemm_pack(w), or NULL */
    const nmt_q8_matrix *q8;  /* int8 W, or NULL */
    const nmt_bf16_matrix *bf16; /* bfloat16 W, or NULL */
} nmt_linear_w;

typedef enum nmt_activation { NMT_ACT_SWISH, NMT_ACT_RELU, NMT_ACT_GELU, NMT_ACT_GELU_TANH } nmt_activation;

/* y[n][out] = x[n][in] . W[out][in]^T + b[out]: the int8 product when lw
 * is quantized, the bfloat16 one when it is rounded, the packed kernel when
 * it is packed, else OpenBLAS. */
void nmt_linear(float *y, const float *x, int n, int in, int out, const nmt_linear_w *lw);

/* nmt_linear's product handed to sink block columns at a time, through
 * buf[n][block] (block a multiple of NMT_LINEAR_BLOCK_ALIGN): each block is
 * consumed while it is still in cache, and the whole [n][out] is never
 * written (for the output layer: 58k logits per row).  The values equal
 * nmt_linear's bit for bit, except on the OpenBLAS path (no packed kernel),
 * whose narrower products may round differently; int8 quantizes x once. */
#define NMT_LINEAR_BLOCK_ALIGN 64
void nmt_linear_blocks(float *buf, const float *x, int n, int in, int out, const nmt_linear_w *lw, int block,
                       nmt_column_sink sink, void *ctx);

/* ys[i][n][out] = x . W_i^T + b_i for count layers (at most
 * NMT_LINEAR_SHARED_MAX) that read the same x: int8 layers quantize x once
 * for all of them.  Equal to count nmt_linear calls. */
#define NMT_LINEAR_SHARED_MAX 32
void nmt_linear_shared(float *const *ys, const float *x, int n, int in, int out, const nmt_linear_w *const *lws,
                       int count);

/* x[n][d] = LayerNorm(x + delta) * gamma + beta, eps inside the sqrt
 * (delta may be NULL for a plain layer norm).  In place on x. */
void nmt_add_layer_norm(float *x, const float *delta, int n, int d, const float *gamma, const float *beta,
                        float eps);

/* The same with the mean's and the variance's sums in 16 lanes (another
 * order of the same additions, so the loops vectorise), for the int8 and
 * bfloat16 compute types; float32 keeps nmt_add_layer_norm's order. */
void nmt_add_layer_norm_lanes(float *x, const float *delta, int n, int d, const float *gamma, const float *beta,
                              float eps);

/* In-place softmax of x[n]; -INFINITY entries get probability 0. */
void nmt_softmax(float *x, int n);

/* In-place activation of x[n]. */
void nmt_activate(float *x, size_t n, nmt_activation act);

/* The same for the int8 and bfloat16 compute types: swish on
 * nmt_swish_approx (approx_exp.h), the others as nmt_activate. */
void nmt_activate_approx(float *x, size_t n, nmt_activation act);

/* Marian sinusoidal positions: out[p][i] = sin(p / 10000^(2i/d)) for
 * i < ceil(d/2), out[p][ceil(d/2)+i] = cos(p / 10000^(2i/d)) after it;
 * computed in double like Hugging Face, stored as float.  out[n_pos][d]. */
void nmt_sinusoid_table(float *out, int n_pos, int d);

/* Index of the largest x[i], skipping ban_a and ban_b (pass -1 for none);
 * the first index wins ties.  Returns -1 only if every entry is banned. */
int nmt_argmax(const float *x, int n, int ban_a, int ban_b);

/* Scaled dot-product attention of every head for one query:
 * out[h*hd + i] = sum_j softmax_j(q_h . k_jh) v_jh[i] for h < heads, where
 * key j is at k + j*stride and its head h at + h*hd (same for v); out holds
 * heads*hd floats.  q is already scaled by hd^-0.5.  scores[heads][n_keys]
 * is caller scratch. */
void nmt_attend_heads(float *restrict out, const float *restrict q, const float *restrict k, const float *restrict v,
                      int n_keys, int heads, int hd, size_t stride, float *restrict scores);
/* The same with keys and values stored as bfloat16: each widened to fp32
 * (exact), then nmt_attend_heads's operations in its order. */
void nmt_attend_heads_bf16(float *restrict out, const float *restrict q, const uint16_t *restrict k,
                           const uint16_t *restrict v, int n_keys, int heads, int hd, size_t stride,
                           float *restrict scores);

#endif
