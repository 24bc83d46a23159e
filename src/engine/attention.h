/* attention.h: multi-head scaled dot-product attention over rows of queries,
 * each query with its own run of keys.  The three uses in the Transformer are
 * all this one function with different key ranges:
 *   - encoder self-attention: the query's own sentence (packed, so keys of
 *     other sentences and padding are never seen: the padding mask);
 *   - decoder self-attention: the row's KV cache up to the current step
 *     (the causal mask: future positions do not exist yet);
 *   - encoder-decoder attention: the row's encoder output (cached K/V).
 * Pure: no allocation, no logging. */
#ifndef NMT_ATTENTION_H
#define NMT_ATTENTION_H

/* attn[r][d] = concat_h softmax(q[r]_h . K_h^T) V_h for r < n_queries, where
 * query r sees n_keys[r] keys starting at k_rows[r] / v_rows[r] (row stride
 * d): floats, or bfloat16 values (uint16_t) when kv_bf16, each widened to
 * fp32 exactly (the same sums as float keys and values of those values).
 * q is already scaled by head_dim^-0.5.  scores has room for heads times
 * the largest n_keys. */
void nmt_attention(float *attn, const float *q, int n_queries, const void *const *k_rows, const void *const *v_rows,
                   const int *n_keys, int d, int heads, int kv_bf16, float *scores);

#endif
