/* attention.c: multi-head attention over per-query key ranges (see attention.h). */
#include "attention.h"

#include "kernels.h"

void nmt_attention(float *attn, const float *q, int n_queries, const float *const *k_rows,
                   const float *const *v_rows, const int *n_keys, int d, int heads, float *scores)
{
    int hd = d / heads;
    for (int r = 0; r < n_queries; r++)
        for (int h = 0; h < heads; h++)
            nmt_attend(attn + (size_t)r * d + h * hd, q + (size_t)r * d + h * hd, k_rows[r] + h * hd,
                       v_rows[r] + h * hd, n_keys[r], hd, (size_t)d, scores);
}
