/* approx_exp.h: e^x on a polynomial, for the int8 and bfloat16 compute
 * types, whose products already differ from fp32 far more than this does:
 * swish in 8 lanes where AVX2 and FMA run (libm's expf, one call per
 * element, was 12% of an int8 decode step on AMX).  The portable form does
 * the same IEEE operations in the same order, so every CPU gets the same
 * bits, as the int8 kernels do.  float32 keeps libm's expf (kernels.h):
 * its tokens are compared with PyTorch's. */
#ifndef NMT_APPROX_EXP_H
#define NMT_APPROX_EXP_H

#include <stddef.h>

/* e^x within 2 ulp for x in [-87, 88]; x is clamped to that range first
 * (so below it the result is e^-87, about 1.6e-38, above it e^88). */
float nmt_exp_approx(float x);

/* In place: x[i] / (1 + e^-x[i]) with nmt_exp_approx, 8 at a time where
 * AVX2 and FMA run (NMTD_KERNELS permitting), the same bits either way. */
void nmt_swish_approx(float *x, size_t n);

#endif
