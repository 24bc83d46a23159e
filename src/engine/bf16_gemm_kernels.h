/* bf16_gemm_kernels.h: the bfloat16 kernels (bf16_gemm.h) that live
 * outside bf16_gemm.c, engine-internal: bf16_gemm.c picks among them,
 * bf16_gemm_avx512.c holds the dot-product ones (VDPBF16PS, AMX) and
 * bf16_gemm_widen512.c the widened AVX-512 one; all three read the pairs
 * layout. */
#ifndef NMT_BF16_GEMM_KERNELS_H
#define NMT_BF16_GEMM_KERNELS_H

#include "bf16_gemm.h"

/* y[i][j] = sum_t x[i][t] * W[j][t] (+ b[j]) with fp32 activations (b may
 * be NULL), summed as bf16_gemm.h says for the widened kernels, bit for
 * bit. */
/* Portable C, m in the widened layout. */
void nmt_bf16_widen_portable(float *y, const float *x, int rows, const nmt_bf16_matrix *m, const float *b);
/* AVX-512 F and BW, m in the pairs layout: needs nmt_cpu_features' avx512. */
void nmt_bf16_kernel_widen512(float *y, const float *x, int rows, const nmt_bf16_matrix *m, const float *b);

/* y[i][j] = sum_t bf16(x[i][t]) * W[j][t] (+ b[j]) for m in the pairs
 * layout (b may be NULL). */
/* Portable C, k in order. */
void nmt_bf16_pairs_portable(float *y, const float *x, int rows, const nmt_bf16_matrix *m, const float *b);
/* VDPBF16PS on zmm registers: needs nmt_cpu_features' avx512_bf16. */
void nmt_bf16_kernel_avx512(float *y, const float *x, int rows, const nmt_bf16_matrix *m, const float *b);
/* AMX tiles (TDPBF16PS) for blocks of rows, VDPBF16PS for the rest: needs
 * amx_bf16 and avx512_bf16. */
void nmt_bf16_kernel_amx(float *y, const float *x, int rows, const nmt_bf16_matrix *m, const float *b);

#endif
