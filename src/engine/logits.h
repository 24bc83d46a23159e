/* logits.h: the output layer's greedy choice, exactly, with less memory
 * traffic.  The projection onto the vocabulary (58k x 512 for opus-mt) is the
 * largest single cost of a decode step.  With AVX-512 VNNI, a copy of the
 * output matrix quantized to int8 (one scale per row) gives every logit
 * within a proven error bound at a quarter of the bytes and a fraction of the
 * arithmetic; only the tokens whose bound reaches the best one are then
 * computed exactly in fp32, in the same order of operations as the full fp32
 * product, so the chosen token is exactly the argmax of the fp32 logits.
 * With AVX2 alone the same screen runs on VPMADDUBSW, its activations on
 * 7 bits (a wider bound, more candidates); the candidates then get a second
 * look with 8-bit activations (VPMADDWD) before any is computed exactly.
 * Without AVX2 the full fp32 logits are computed (OpenBLAS).
 * The screen is immutable after nmt_logits_screen_build; thread-safe. */
#ifndef NMT_LOGITS_H
#define NMT_LOGITS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef struct nmt_logits_screen {
    int vocab, d, k4;    /* k4: d rounded up to a multiple of 4 */
    int8_t *wq;          /* [vocab/16 panels][k4/4][16][4] quantized rows */
    float *scale;        /* [vocab] row scale: max|w| / 127 */
    float *l1;           /* [vocab] sum |w| (rounded up) */
    int32_t *qsum;       /* [vocab] sum of the quantized row */
    int32_t *offset_sum; /* [vocab] 64 * qsum: what the AVX2 kernel's activation offset adds */
    size_t bytes;
} nmt_logits_screen;

/* The screen's kernel on this CPU: "amx" (tiles for blocks of rows, where
 * the int8 products use them, VNNI for the rest), "avx512_vnni" or "avx2",
 * as NMTD_KERNELS allows, or NULL (no screen: no packed fp32 kernel). */
const char *nmt_logits_screen_kernel(void);

/* 1 when nmt_logits_screen_kernel is not NULL. */
int nmt_logits_screen_available(void);

/* The screen of a vocab x d matrix, its rows still unset: set them all
 * with nmt_logits_screen_set_rows (a block at a time, so that a large
 * matrix need not be whole in fp32) before nmt_logits_choose. */
nmt_code nmt_logits_screen_alloc(nmt_logits_screen *s, int vocab, int d, nmt_err *err);

/* Quantizes rows [r0, r0 + rows) of the matrix, given as w[rows][d] (fp32). */
void nmt_logits_screen_set_rows(nmt_logits_screen *s, const float *w, int r0, int rows);

/* nmt_logits_screen_alloc, then every row of w[vocab][d] (fp32, row-major). */
nmt_code nmt_logits_screen_build(nmt_logits_screen *s, const float *w, int vocab, int d, nmt_err *err);

/* The bytes a screen of a vocab x d matrix holds. */
size_t nmt_logits_screen_bytes_for(int vocab, int d);

void nmt_logits_screen_free(nmt_logits_screen *s);

/* How many tokens a row keeps while the screen runs; a row with more in
 * reach of its lower bound at once is scanned whole. */
enum { NMT_LOGITS_NEAR = 2048 };

/* AVX2: about how many screen values a block holds (rows x columns). */
enum { NMT_LOGITS_BLOCK_FLOATS = 32768 };

/* One row's state while the screen runs (logits.c, step 3). */
typedef struct nmt_logits_near {
    int count;             /* tokens kept */
    int crowded;           /* too many to keep: the row is scanned */
    float lower;           /* L so far: the largest a_i - e_i of the allowed tokens seen */
    float c_s, c_l1, c_b;  /* the row's terms of e_i */
    double l1x;            /* |x|_1 of the row */
} nmt_logits_near;

/* Scratch for nmt_logits_choose, for up to max_rows rows a call: one per
 * thread (nmt_logits_scratch_init). */
typedef struct nmt_logits_scratch {
    uint8_t *xq;             /* [rows][k4] */
    float *xmax;             /* [rows] max |x| of each row */
    float *approx;           /* [vocab] a crowded row's screen values */
    float *block;            /* AVX2: [rows][columns] a block of screen values (NMT_LOGITS_BLOCK_FLOATS) */
    nmt_logits_near *near;   /* [rows] */
    int *near_index;         /* [rows][NMT_LOGITS_NEAR] tokens each row kept, ascending */
    float *near_value;       /* [rows][NMT_LOGITS_NEAR] their screen values */
    int *cand;               /* [vocab] */
    float *bounds;           /* [vocab] a crowded row's bounds; the second look's a + e */
    float *rows;             /* [16][d] fp32 rows of candidate tokens */
    int16_t *x16;            /* [k4] one row on finer levels (the screen's second look) */
    size_t bytes;
    /* optional: copies fp32 row i of w into dst (e.g. with pread, so a
     * mapped file's pages stay out of memory); NULL reads w directly */
    void (*read_row)(void *ctx, int i, float *dst);
    void *read_ctx;
} nmt_logits_scratch;

/* Scratch for screen s and up to max_rows rows a call (large blocks are
 * touched only as far as rows use them). */
nmt_code nmt_logits_scratch_init(nmt_logits_scratch *sc, const nmt_logits_screen *s, int max_rows, nmt_err *err);
void nmt_logits_scratch_free(nmt_logits_scratch *sc);

/* For each of n rows x[r][d], the index of the largest fp32 logit
 * b[i] + sum_k x[r][k] * w[i][k] (fma in k order), skipping ban_a and ban_b
 * (-1 for none); the first index wins ties.  w is the fp32 matrix the screen
 * was built from. */
void nmt_logits_choose(const nmt_logits_screen *s, const float *w, const float *b, const float *x, int n,
                       int ban_a, int ban_b, nmt_logits_scratch *scratch, int *out, long *candidates);

/* The screen's value of every token (values[vocab]) for one row x[d] with
 * bias b: what nmt_logits_choose's first look sees (for tests). */
void nmt_logits_screen_row(const nmt_logits_screen *s, const float *b, const float *x, nmt_logits_scratch *sc,
                           float *values);

/* What nmt_logits_choose gives, without a screen, on any CPU: every
 * token's fp32 logit b[i] + sum_k x[r][k] * w[i][k] (fmaf in k order: the
 * same bits as the screen's exact step), skipping ban_a and ban_b, the
 * first index on ties.  Row i of w is read with read_row into row[d] when
 * read_row is not NULL, else from w; best[n] is scratch.  vocab x d x n
 * scalar multiply-adds: the portable path's, for tests and CPUs without
 * the screen's kernels. */
void nmt_logits_choose_exact(const float *w, const float *b, const float *x, int n, int vocab, int d, int ban_a,
                             int ban_b, void (*read_row)(void *ctx, int i, float *dst), void *read_ctx, float *row,
                             float *best, int *out);

#endif
