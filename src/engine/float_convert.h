/* float_convert.h: the checkpoint dtypes nmtd computes from, widened to
 * fp32 exactly (every F16 and BF16 value is an fp32 value), and fp32
 * rounded to bfloat16 (compute_type bfloat16). */
#ifndef NMT_FLOAT_CONVERT_H
#define NMT_FLOAT_CONVERT_H

#include <stdint.h>
#include <string.h>

#include "safetensors.h"

/* IEEE 754 binary16 -> binary32 (subnormals, infinities and NaNs kept). */
float nmt_f16_to_f32(uint16_t h);

/* bfloat16 -> binary32: the upper half of the fp32 bits (inline, so that
 * loops over bfloat16 values vectorise). */
static inline float nmt_bf16_to_f32(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* binary32 -> bfloat16, rounded to nearest, ties to even (as PyTorch's
 * .to(torch.bfloat16)); infinities kept, NaNs stay NaNs (quiet), values
 * beyond bfloat16's range become infinities. */
uint16_t nmt_f32_to_bf16(float f);

/* dst[i] = element i of the n little-endian elements of type dtype at src
 * (F32, F16 or BF16; src need not be aligned). */
void nmt_convert_to_f32(float *dst, const unsigned char *src, int64_t n, nmt_dtype dtype);

#endif
