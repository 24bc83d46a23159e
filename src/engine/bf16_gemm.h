/* bf16_gemm.h: bfloat16 linear layers (compute_type bfloat16).  Each
 * weight matrix is rounded once at load to bfloat16 (to nearest, ties to
 * even) and laid out in panels of 16 output columns, k-major, so that a
 * kernel streams one panel while it multiplies several rows of
 * activations with it: half the bytes of fp32 weights, and a decode step,
 * which reads every weight, reads half as much.
 *
 * Activations stay fp32.  A bf16 x fp32 product is exact in fp32 only when
 * fused, so every kernel sums with fused multiply-adds in one fixed order:
 * over k in blocks of NMT_BF16_KC, each block summed from zero and added
 * to the blocks before it, the bias added last.  The AVX2+FMA kernel and
 * the portable one therefore give the same bits.  (An AVX512_BF16 or AMX
 * kernel would round the activations to bfloat16 too and is not written:
 * no machine this project ran on had them when this was.)
 *
 * Kernels are chosen at run time: AVX2+FMA where present, else portable C;
 * NMTD_KERNELS=generic forces the portable one. */
#ifndef NMT_BF16_GEMM_H
#define NMT_BF16_GEMM_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define NMT_BF16_PANEL 16 /* output columns per panel */
#define NMT_BF16_KC 512   /* k summed per block */

/* W[n][k] in bfloat16 panels: panel p holds columns 16p .. 16p+15, for each
 * t < k 16 values, column 16p+s in element 2s and column 16p+8+s in
 * element 2s+1 (s < 8: one 32-bit lane holds columns s and s+8); columns
 * past n are zeros. */
typedef struct nmt_bf16_matrix {
    uint16_t *panels; /* [ceil(n/16)][k][16] */
    int n, k;
} nmt_bf16_matrix;

/* "avx2" or "generic": the kernel nmt_bf16_linear runs on this CPU. */
const char *nmt_bf16_kernel_name(void);

/* Rounds w[n][k] (row-major) into m (allocated here; free with
 * nmt_bf16_free). */
nmt_code nmt_bf16_pack(nmt_bf16_matrix *m, const float *w, int n, int k, nmt_err *err);
/* The same in steps: m allocated for n x k (all zeros), then rows
 * j0 .. j0+count-1 rounded from w[count][k] (so that a caller can give
 * back each step's fp32 rows before it reads the next). */
nmt_code nmt_bf16_alloc(nmt_bf16_matrix *m, int n, int k, nmt_err *err);
void nmt_bf16_set_rows(nmt_bf16_matrix *m, const float *w, int j0, int count);
void nmt_bf16_free(nmt_bf16_matrix *m);
/* Bytes of an n x k matrix once packed (columns padded to whole panels). */
size_t nmt_bf16_bytes_for(int n, int k);

/* Columns j0 .. j0+nc-1 of m as a matrix of its own, sharing m's memory
 * (j0 a multiple of NMT_BF16_PANEL, j0 + nc <= m->n). */
nmt_bf16_matrix nmt_bf16_columns(const nmt_bf16_matrix *m, int j0, int nc);

/* W[j][t] as stored (for tests and row lookups). */
float nmt_bf16_weight(const nmt_bf16_matrix *m, int j, int t);

/* y[i][j] = b[j] + sum_t x[i][t] * W[j][t] for i < rows (b may be NULL). */
void nmt_bf16_linear(float *y, const float *x, int rows, const nmt_bf16_matrix *m, const float *b);

/* The same with the portable kernel, whatever the CPU (for tests). */
void nmt_bf16_linear_generic(float *y, const float *x, int rows, const nmt_bf16_matrix *m, const float *b);

#endif
