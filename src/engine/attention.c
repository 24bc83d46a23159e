/* attention.c: multi-head attention over per-query key ranges (see attention.h). */
#include "attention.h"

#include "kernels.h"

void nmt_attention(float *attn, const float *q, int n_queries, const void *const *k_rows, const void *const *v_rows,
                   const int *n_keys, int d, int heads, int kv_bf16, float *scores)
{
    int hd = d / heads;
    for (int r = 0; r < n_queries; r++) {
        float *out = attn + (size_t)r * d;
        const float *qr = q + (size_t)r * d;
        if (kv_bf16)
            nmt_attend_heads_bf16(out, qr, k_rows[r], v_rows[r], n_keys[r], heads, hd, (size_t)d, scores);
        else
            nmt_attend_heads(out, qr, k_rows[r], v_rows[r], n_keys[r], heads, hd, (size_t)d, scores);
    }
}
