/* qgemm_kernels.h: what the int8 kernels share inside the engine (not an
 * API): the layout constants of qgemm.h's panels and the form of a
 * kernel.  qgemm.c holds the portable and AVX2 kernels and picks one;
 * qgemm_avx512.c the AVX-512 VNNI and AMX ones. */
#ifndef NMT_QGEMM_KERNELS_H
#define NMT_QGEMM_KERNELS_H

#include <stdint.h>

#include "amx_tiles.h"
#include "qgemm.h"

#define NMT_Q8_QUAD 4             /* k values of one column side by side */
#define NMT_Q8_ACTIVATION_OFFSET 128 /* what an activation byte holds above its value */

/* y[i][j] = (sum_t (xq[i][t] - 128) * W[j][t]) * (sx[i] * scale[j]) + b[j]
 * for i < m, j < q->n: the activations quantized (xq[m][q->kp], their
 * scales sx[m]), the sums exact in int32, then these float operations in
 * this order (no fused multiply-add), so that every kernel gives the same
 * bits.  b may be NULL. */
typedef void (*nmt_q8_kernel_fn)(float *y, const uint8_t *xq, const float *sx, int m, const nmt_q8_matrix *q,
                                 const float *b);

/* dst[0..k) = round(x / scale) + offset with scale = max |x| / levels
 * (round half to even), the rest of kp the offset alone, bytes modulo 256;
 * returns scale.  qgemm.c's portable quantizer with 16 lanes: the same
 * bytes.  Needs AVX-512 (F, BW). */
float nmt_q8_quantize_avx512(const float *x, int k, int kp, int levels, int offset, uint8_t *dst);

/* VPMADDUBSW on ymm registers: needs nmt_cpu_features' avx2_fma.  With
 * q->levels <= NMT_Q8_NARROW_LEVELS it adds two VPMADDUBSW results in
 * int16, exact while 4 * max xq * q->levels <= 32767 (qgemm.h's narrow
 * matrices: 4 * 255 * 32); with more levels one, exact while 2 * max xq *
 * q->levels <= 32767 (the output screen's panels, logits.c: weights +-127,
 * activations +-63 offset by 64).  The kernel subtracts q->offset_sum,
 * whatever offset it stands for. */
void nmt_q8_kernel_avx2(float *y, const uint8_t *xq, const float *sx, int m, const nmt_q8_matrix *q, const float *b);
/* VPDPBUSD on zmm registers: needs nmt_cpu_features' avx512_vnni. */
void nmt_q8_kernel_vnni(float *y, const uint8_t *xq, const float *sx, int m, const nmt_q8_matrix *q, const float *b);
/* AMX tiles (TDPBUSD) for whole blocks of rows, VNNI for the rest: needs
 * amx_int8 and avx512_vnni, and q->kp a multiple of 64. */
void nmt_q8_kernel_amx(float *y, const uint8_t *xq, const float *sx, int m, const nmt_q8_matrix *q, const float *b);

/* The AMX tile step, for other int8 products on panels of this layout
 * (the output screen, logits.c); needs amx_int8 and the tiles configured
 * (nmt_amx_row_blocks, amx_tiles.h).  c[0..1] = the int32 sums of the first row block x the panels at w and
 * w + 16 kp (the second only if two_b), c[2..3] those of the second block
 * (only if two_a, starting 16 rows further): x[rows][kp] unsigned bytes,
 * w panels of 16 columns x kp (a multiple of 64) in quads. */
void nmt_q8_amx_sums(int32_t c[4][NMT_TILE_ROWS][NMT_Q8_PANEL], const uint8_t *x, const int8_t *w, int kp,
                     int two_a, int two_b);

#endif
