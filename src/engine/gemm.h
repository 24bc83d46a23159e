/* gemm.h: y = x . W^T + b with W packed once at load, for the products of
 * the forward pass (AVX-512, or AVX2 + FMA).
 * A general BLAS GEMM copies ("packs") the weight matrix into its own layout
 * on every call; for the few rows of a decode step, and for the 58k x 512
 * output projection, that copy costs more than the multiplication.  Here the
 * weights are packed once, when the model loads, into panels of 32 output
 * columns ([n/32][k][32], zero-padded), and a register-blocked kernel
 * (up to 12 rows x 32 columns with AVX-512, 6 x 16 with AVX2; broadcast x, FMA)
 * streams each panel once per call.  Every output element is the same chain
 * of fused multiply-adds (from the bias, k in order) whatever the number of
 * rows and whichever kernel runs, so a sentence gets bit-identical results
 * in any batch and on any CPU that runs a packed kernel.
 * Pure: no allocation, no logging, thread-safe. */
#ifndef NMT_GEMM_H
#define NMT_GEMM_H

#include <stddef.h>

/* Output columns per packed panel: W[n][k] is stored as panel n / 32,
 * row k, column n % 32. */
#define NMT_GEMM_PANEL 32

/* 1 when this CPU runs a packed kernel (AVX-512F, or AVX2 and FMA), unless
 * the environment says NMTD_KERNELS=generic (the portable OpenBLAS path, for
 * tests); NMTD_KERNELS=avx2 keeps an AVX-512 CPU on the AVX2 kernel. */
int nmt_gemm_packed_available(void);

/* "avx512" or "avx2": the packed kernel this CPU runs; NULL when none. */
const char *nmt_gemm_packed_kernel(void);

/* Floats needed for W[n][k] packed. */
size_t nmt_gemm_packed_size(int n, int k);

/* Packs W[n][k] (row-major, PyTorch's nn.Linear layout) into dst. */
void nmt_gemm_pack(float *dst, const float *w, int n, int k);

/* dst[k] = row `row` of the W[n][k] that nmt_gemm_pack packed into packed. */
void nmt_gemm_packed_row(float *dst, const float *packed, int k, int row);

/* Columns j0 .. of a matrix nmt_gemm_pack packed (j0 a multiple of
 * NMT_GEMM_PANEL): a packed matrix of its own, within packed. */
const float *nmt_gemm_packed_columns(const float *packed, int k, int j0);

/* y[m][n] = b[n] + sum_k x[m][k] * W[n][k], W packed by nmt_gemm_pack
 * (b may be NULL). */
void nmt_gemm_packed(float *y, const float *x, int m, int k, const float *packed, int n, const float *b);

#endif
