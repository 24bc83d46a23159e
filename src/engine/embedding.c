/* embedding.c: token + position embedding (see embedding.h). */
#include "embedding.h"

void nmt_embed(const nmt_model *model, float *out, int id, int pos)
{
    int d = model->hp.d_model;
    float scale = model->hp.embed_scale;
    const float *p = model->positions + (size_t)pos * d;
    nmt_model_embedding_row(model, id, out);
    for (int i = 0; i < d; i++)
        out[i] = out[i] * scale + p[i];
}
