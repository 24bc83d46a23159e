/* bf16_gemm.h: bfloat16 linear layers (compute_type bfloat16).  Each
 * weight matrix is rounded once at load to bfloat16 (to nearest, ties to
 * even) and laid out in panels of 16 output columns, so that a kernel
 * streams one panel while it multiplies several rows of activations with
 * it: half the bytes of fp32 weights, and a decode step, which reads every
 * weight, reads half as much.
 *
 * Two kinds of kernel, and two panel layouts (chosen at load, from the
 * kernel this CPU runs):
 *  - widened (portable C and AVX2+FMA on layout NMT_BF16_WIDEN, AVX-512
 *    on layout NMT_BF16_PAIRS): the weights are widened to fp32 and the
 *    activations stay fp32.  A bf16 x fp32 product is exact in fp32 only
 *    when fused, so all three sum with fused multiply-adds in one fixed
 *    order: over k in blocks of NMT_BF16_KC, each block summed from zero
 *    and added to the blocks before it, the bias last.  All three give the
 *    same bits.
 *  - dot products of pairs (layout NMT_BF16_PAIRS: AVX512_BF16's VDPBF16PS,
 *    and AMX tiles' TDPBF16PS for blocks of rows): the activations are
 *    rounded to bfloat16 too (to nearest even), each product of two
 *    bfloat16 values is exact in fp32 and the sums are fp32, in the
 *    hardware's order (AMX's is not specified bit for bit), so these are
 *    checked against a plain loop within fp32 rounding, not bit for bit.
 *    This is the CPU's own bfloat16 arithmetic, twice the multiply-adds of
 *    an fp32 instruction -- where the core issues VDPBF16PS as often as
 *    its FMA; some issue it at a quarter of that rate (dot_rate.h).
 *
 * Kernels are chosen at run time (cpu_features.h), the best first: amx;
 * avx512_bf16 where VDPBF16PS measures faster than the FMA
 * (nmt_bf16_dot_rate() >= NMT_BF16_DOT_RATE_MIN), else avx512 (widened);
 * avx2; generic.  NMTD_KERNELS=avx512, avx2 or generic stops the choice at
 * that tier (kernel_override.h). */
#ifndef NMT_BF16_GEMM_H
#define NMT_BF16_GEMM_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define NMT_BF16_PANEL 16 /* output columns per panel */
#define NMT_BF16_KC 512   /* k summed per block */

#define NMT_BF16_PAIR_KP 32 /* PAIRS: k padded to a multiple of this (one AMX tile row) */

typedef enum nmt_bf16_layout {
    /* panel p holds columns 16p .. 16p+15, for each t < k 16 values, column
     * 16p+s in element 2s and column 16p+8+s in element 2s+1 (s < 8: one
     * 32-bit lane holds columns s and s+8): [ceil(n/16)][k][16] */
    NMT_BF16_WIDEN,
    /* panel p holds, for each pair of k (2u, 2u+1), u < kp/2, 16 columns of
     * 2 values: W[16p+c][2u+e] at element (u * 16 + c) * 2 + e;
     * [ceil(n/16)][kp/2][16][2], k padded with zeros to kp */
    NMT_BF16_PAIRS
} nmt_bf16_layout;

/* W[n][k] in bfloat16 panels; columns past n (and k past k) are zeros. */
typedef struct nmt_bf16_matrix {
    uint16_t *panels;
    int n, k;
    int kp; /* k as stored: k (WIDEN), a multiple of NMT_BF16_PAIR_KP (PAIRS) */
    nmt_bf16_layout layout;
} nmt_bf16_matrix;

/* VDPBF16PS's multiply-adds per second over the FMA's from which the
 * pairs kernel is chosen over the widened AVX-512 one: clearly faster, as
 * the widened one also keeps the activations in fp32. */
#define NMT_BF16_DOT_RATE_MIN 1.25

typedef enum nmt_bf16_kernel {
    NMT_BF16_KERNEL_GENERIC,
    NMT_BF16_KERNEL_AVX2,
    NMT_BF16_KERNEL_AVX512, /* widened, fp32 FMA */
    NMT_BF16_KERNEL_AVX512_BF16,
    NMT_BF16_KERNEL_AMX
} nmt_bf16_kernel;

/* 1 when this CPU can run kernel (whatever NMTD_KERNELS says). */
int nmt_bf16_kernel_available(nmt_bf16_kernel kernel);

/* "amx", "avx512_bf16", "avx512", "avx2" or "generic": the kernel nmt_bf16_linear
 * runs on this CPU under this NMTD_KERNELS. */
const char *nmt_bf16_kernel_name(void);

/* The layout kernel reads. */
nmt_bf16_layout nmt_bf16_layout_of(nmt_bf16_kernel kernel);

/* Rounds w[n][k] (row-major) into m, laid out for the kernel this CPU
 * runs (allocated here; free with nmt_bf16_free). */
nmt_code nmt_bf16_pack(nmt_bf16_matrix *m, const float *w, int n, int k, nmt_err *err);
/* The same laid out for kernel (for tests and benchmarks). */
nmt_code nmt_bf16_pack_for(nmt_bf16_kernel kernel, nmt_bf16_matrix *m, const float *w, int n, int k,
                           nmt_err *err);
/* The same in steps: m allocated for n x k (all zeros), then rows
 * j0 .. j0+count-1 rounded from w[count][k] (so that a caller can give
 * back each step's fp32 rows before it reads the next). */
nmt_code nmt_bf16_alloc(nmt_bf16_matrix *m, int n, int k, nmt_err *err);
void nmt_bf16_set_rows(nmt_bf16_matrix *m, const float *w, int j0, int count);
void nmt_bf16_free(nmt_bf16_matrix *m);
/* Bytes of an n x k matrix once packed for the kernel this CPU runs
 * (columns padded to whole panels, k as the layout pads it). */
size_t nmt_bf16_bytes_for(int n, int k);

/* Columns j0 .. j0+nc-1 of m as a matrix of its own, sharing m's memory
 * (j0 a multiple of NMT_BF16_PANEL, j0 + nc <= m->n). */
nmt_bf16_matrix nmt_bf16_columns(const nmt_bf16_matrix *m, int j0, int nc);

/* W[j][t] as stored (for tests and row lookups). */
float nmt_bf16_weight(const nmt_bf16_matrix *m, int j, int t);

/* y[i][j] = b[j] + sum_t x[i][t] * W[j][t] for i < rows (b may be NULL),
 * by the kernel this CPU runs; m laid out for it (nmt_bf16_pack or
 * nmt_bf16_alloc). */
void nmt_bf16_linear(float *y, const float *x, int rows, const nmt_bf16_matrix *m, const float *b);

/* The same with the given kernel, which this CPU must be able to run and
 * whose layout m must have (for tests and benchmarks). */
void nmt_bf16_linear_with(nmt_bf16_kernel kernel, float *y, const float *x, int rows, const nmt_bf16_matrix *m,
                          const float *b);

#endif
