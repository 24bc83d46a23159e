/* attention.c: multi-head attention over per-query key ranges (see attention.h). */
#include "attention.h"

#include "kernels.h"

void nmt_attention(float *attn, const float *q, int n_queries, const void *const *k_rows, const void *const *v_rows,
                   const int *n_keys, int d, int heads, int kv_bf16, float *scores)
{
    int hd = d / heads;
    for (int r = 0; r < n_queries; r++)
        for (int h = 0; h < heads; h++) {
            float *out = attn + (size_t)r * d + h * hd;
            const float *qh = q + (size_t)r * d + h * hd;
            if (kv_bf16)
                nmt_attend_bf16(out, qh, (const uint16_t *)k_rows[r] + h * hd, (const uint16_t *)v_rows[r] + h * hd,
                                n_keys[r], hd, (size_t)d, scores);
            else
                nmt_attend(out, qh, (const float *)k_rows[r] + h * hd, (const float *)v_rows[r] + h * hd, n_keys[r],
                           hd, (size_t)d, scores);
        }
}
