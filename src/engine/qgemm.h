/* qgemm.h: int8 linear layers (compute_type int8), CTranslate2's
 * int8_float32 scheme: each weight row quantized once at load with its own
 * scale (max |w| / 127, or / 32 for the AVX2 kernel: see below), each
 * activation row quantized per call with its own scale (max |x| / 127),
 * products summed in int32, scaled back to fp32 and the fp32 bias added;
 * norms, softmax and attention stay fp32.
 *
 * The weights are stored in panels of 16 output columns, k in quads, so
 * that a kernel streams one panel while it multiplies several rows of
 * activations with it.  The activations are unsigned bytes (value + 128)
 * times the signed weights; the +128 is taken off with each column's
 * precomputed sum.  Kernels are chosen at run time from the CPU
 * (cpu_features.h), the best first:
 *   amx          AMX tiles (TDPBUSD) for blocks of 4 to 32 rows, VNNI for
 *                the rest;
 *   avx512_vnni  VPDPBUSD on zmm registers;
 *   avx2         VPMADDUBSW, two results added in int16, widened by
 *                VPMADDWD;
 *   generic      portable C.
 * NMTD_KERNELS=avx512, avx2 or generic stops the choice at that one
 * (kernel_override.h).  Every kernel's int32 sums are exact, so every
 * kernel gives the same output bit for bit from the same quantized
 * weights.  The weights have two formats: +-127 (eight bits) for amx and
 * avx512_vnni, +-32 for avx2, so that four of its products fit int16
 * (VPMADDUBSW's pair sums, two of them added) and it issues a quarter fewer
 * multiplies.  The portable kernel takes the format of the best kernel
 * the CPU has, so that it reproduces that kernel's output; int8's text may
 * therefore differ between a CPU with VNNI and one with AVX2 alone.
 *
 * The product needs per-thread scratch for the quantized activations: it
 * grows to the largest call and is freed when the thread exits. */
#ifndef NMT_QGEMM_H
#define NMT_QGEMM_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define NMT_Q8_PANEL 16 /* output columns per panel */

/* The weight formats: the largest |W| of each. */
#define NMT_Q8_WIDE_LEVELS 127
#define NMT_Q8_NARROW_LEVELS 32

/* W[n][k] in int8 (-levels .. levels), k padded with zeros to kp (a
 * multiple of 64), n to whole panels: panel p, quad u holds W[16p + c][4u +
 * e] at ((p * kp/4 + u) * 16 + c) * 4 + e (c < 16, e < 4; read it with
 * nmt_q8_weight). */
typedef struct nmt_q8_matrix {
    int8_t *w;           /* [ceil(n/16)][kp/4][16][4] */
    float *scale;        /* [n] the row's max |w| / levels (1 for an all-zero row) */
    int32_t *offset_sum; /* [n] 128 * sum_t W[j][t]: what the activations' +128 adds to column j */
    int n, k, kp;
    int levels;          /* the format: NMT_Q8_WIDE_LEVELS or NMT_Q8_NARROW_LEVELS */
} nmt_q8_matrix;

typedef enum nmt_q8_kernel {
    NMT_Q8_KERNEL_GENERIC,
    NMT_Q8_KERNEL_AVX2,
    NMT_Q8_KERNEL_AVX512_VNNI,
    NMT_Q8_KERNEL_AMX
} nmt_q8_kernel;

/* 1 when this CPU can run kernel (whatever NMTD_KERNELS says). */
int nmt_q8_kernel_available(nmt_q8_kernel kernel);

/* "amx", "avx512_vnni", "avx2" or "generic": the kernel nmt_q8_linear
 * runs on this CPU under this NMTD_KERNELS. */
const char *nmt_q8_kernel_name(void);

/* The weight format kernel reads: NMT_Q8_NARROW_LEVELS for avx2,
 * NMT_Q8_WIDE_LEVELS for amx and avx512_vnni; for generic, the format of
 * the best kernel this CPU has, whatever NMTD_KERNELS says. */
int nmt_q8_weight_levels(nmt_q8_kernel kernel);
/* The format of the kernel nmt_q8_linear runs (the one to quantize to). */
int nmt_q8_levels(void);

/* Quantizes w[n][k] (row-major) into q (allocated here; free with
 * nmt_q8_free) in the format levels. */
nmt_code nmt_q8_quantize(nmt_q8_matrix *q, const float *w, int n, int k, int levels, nmt_err *err);
/* The same in steps: q allocated for n x k, then rows j0 .. j0+count-1
 * quantized from w[count][k] (so that a caller can give back each step's
 * fp32 rows before it reads the next). */
nmt_code nmt_q8_alloc(nmt_q8_matrix *q, int n, int k, int levels, nmt_err *err);
nmt_code nmt_q8_set_rows(nmt_q8_matrix *q, const float *w, int j0, int count, nmt_err *err);
void nmt_q8_free(nmt_q8_matrix *q);
size_t nmt_q8_bytes(const nmt_q8_matrix *q);
/* The same for an n x k matrix before it is quantized (padded, scales). */
size_t nmt_q8_bytes_for(int n, int k);

/* The quantized W[j][t] (t < kp; 0 in the padding). */
int8_t nmt_q8_weight(const nmt_q8_matrix *q, int j, int t);

/* y[m][n] = b[n] + sum_k x[m][k] * W[n][k] with W quantized in q and each
 * row of x quantized on the fly (b may be NULL). */
void nmt_q8_linear(float *y, const float *x, int m, const nmt_q8_matrix *q, const float *b);

/* ys[c] = the product of x with qs[c] (bias bs[c], may be NULL) for count
 * matrices of the same k that read the same x: x is quantized once (the
 * results equal count nmt_q8_linear calls). */
void nmt_q8_linear_shared(float *const *ys, const float *x, int m, const nmt_q8_matrix *const *qs,
                          const float *const *bs, int count);

/* A consumer of a product one block of columns at a time: y[m][nc] holds
 * columns j0 .. j0+nc-1 of the product's m rows. */
typedef void (*nmt_column_sink)(void *ctx, const float *y, int m, int j0, int nc);

/* nmt_q8_linear's product handed to sink block columns at a time (block a
 * multiple of NMT_Q8_PANEL) through buf[m][block]: x is quantized once,
 * and each block is consumed while it is still in cache (the 58k logits
 * of a decode step would otherwise go out to memory and back).  The
 * values equal nmt_q8_linear's. */
void nmt_q8_linear_blocks(float *buf, const float *x, int m, const nmt_q8_matrix *q, const float *b, int block,
                          nmt_column_sink sink, void *ctx);

/* Columns j0 .. j0+nc-1 of q as a matrix of its own, sharing q's memory
 * (j0 a multiple of NMT_Q8_PANEL, j0 + nc <= q->n). */
nmt_q8_matrix nmt_q8_columns(const nmt_q8_matrix *q, int j0, int nc);

/* nmt_q8_linear with the given kernel, which this CPU must be able to run,
 * on q in a format it reads: at most nmt_q8_weight_levels(kernel) (for
 * tests and benchmarks). */
void nmt_q8_linear_with(nmt_q8_kernel kernel, float *y, const float *x, int m, const nmt_q8_matrix *q,
                        const float *b);

#endif
