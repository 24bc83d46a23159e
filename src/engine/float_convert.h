/* float_convert.h: the checkpoint dtypes nmtd computes from, widened to
 * fp32 exactly (every F16 and BF16 value is an fp32 value). */
#ifndef NMT_FLOAT_CONVERT_H
#define NMT_FLOAT_CONVERT_H

#include <stdint.h>

#include "safetensors.h"

/* IEEE 754 binary16 -> binary32 (subnormals, infinities and NaNs kept). */
float nmt_f16_to_f32(uint16_t h);

/* bfloat16 -> binary32: the upper half of the fp32 bits. */
float nmt_bf16_to_f32(uint16_t h);

/* dst[i] = element i of the n little-endian elements of type dtype at src
 * (F32, F16 or BF16; src need not be aligned). */
void nmt_convert_to_f32(float *dst, const unsigned char *src, int64_t n, nmt_dtype dtype);

#endif
