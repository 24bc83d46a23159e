/* float_convert.c: F16/BF16 -> F32, F32 -> BF16 (see float_convert.h). */
#include "float_convert.h"

#include <string.h>

float nmt_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else { /* subnormal: renormalise */
            exp = 127 - 15 + 1;
            while (!(mant & 0x400)) {
                mant <<= 1;
                exp--;
            }
            bits = sign | (exp << 23) | ((mant & 0x3ff) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else {
        bits = sign | ((exp - 15 + 127) << 23) | (mant << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

uint16_t nmt_f32_to_bf16(float f)
{
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    if ((bits & 0x7fffffffu) > 0x7f800000u) /* NaN: keep the sign and the top of the payload, quiet */
        return (uint16_t)((bits >> 16) | 0x0040u);
    bits += 0x7fffu + ((bits >> 16) & 1u); /* half of the dropped ulp, plus one when the kept lsb is odd */
    return (uint16_t)(bits >> 16);
}

void nmt_convert_to_f32(float *dst, const unsigned char *src, int64_t n, nmt_dtype dtype)
{
    for (int64_t i = 0; i < n; i++) {
        uint16_t h;
        switch (dtype) {
        case NMT_DT_F32:
            memcpy(&dst[i], src + 4 * i, 4);
            break;
        case NMT_DT_F16:
            memcpy(&h, src + 2 * i, 2);
            dst[i] = nmt_f16_to_f32(h);
            break;
        case NMT_DT_BF16:
            memcpy(&h, src + 2 * i, 2);
            dst[i] = nmt_bf16_to_f32(h);
            break;
        case NMT_DT_OTHER:
            break;
        }
    }
}
