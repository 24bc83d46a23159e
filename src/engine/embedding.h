/* embedding.h: the first box of encoder and decoder: a token id at a
 * position becomes its input vector, embed[id] * embed_scale + positions[pos]. */
#ifndef NMT_EMBEDDING_H
#define NMT_EMBEDDING_H

#include "model.h"

/* out[d_model] = embed[id] * embed_scale + positions[pos]. */
void nmt_embed(const nmt_model *model, float *out, int id, int pos);

#endif
