/* gemm.h: y = x . W^T (+ b) for the few-row products of decoding.
 * A decode step multiplies a handful of rows (the live sentences) by large
 * weight matrices.  A general BLAS GEMM first copies ("packs") the weight
 * matrix into its own layout on every call, which for the 58k x 512 output
 * projection costs more than the multiplication.  This kernel reads the
 * weights in place, row by row, once per call, and keeps the few activation
 * rows in cache.  Every output row depends only on its own input row, in a
 * fixed order of operations, so a sentence gets bit-identical results
 * whatever batch it travels in.  AVX-512 only; nmt_gemm_small_ok says when
 * it applies.
 * Pure: no allocation, no logging, thread-safe. */
#ifndef NMT_GEMM_H
#define NMT_GEMM_H

/* 1 when nmt_gemm_small can compute this shape on this CPU. */
int nmt_gemm_small_ok(int m, int k);

/* y[m][n] = sum_k x[m][k] * w[n][k] (+ b[n] when b is not NULL). */
void nmt_gemm_small(float *y, const float *x, int m, int k, const float *w, int n, const float *b);

#endif
