/* kernels.c: numeric kernels (see kernels.h).  GEMMs go through OpenBLAS;
 * the rest are plain loops written so that the compiler vectorises them. */
#include "kernels.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

void nmt_linear(float *y, const float *x, int n, int in, int out, const float *w, const float *b)
{
    if (n == 1)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, out, in, 1.0f, w, in, x, 1, 0.0f, y, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, in, 1.0f, x, in, w, in, 0.0f, y, out);
    if (b) {
        for (int r = 0; r < n; r++) {
            float *row = y + (size_t)r * out;
            for (int j = 0; j < out; j++)
                row[j] += b[j];
        }
    }
}

void nmt_add_layer_norm(float *x, const float *delta, int n, int d, const float *gamma, const float *beta,
                        float eps)
{
    for (int r = 0; r < n; r++) {
        float *row = x + (size_t)r * d;
        if (delta) {
            const float *dr = delta + (size_t)r * d;
            for (int i = 0; i < d; i++)
                row[i] += dr[i];
        }
        float mean = 0.0f;
        for (int i = 0; i < d; i++)
            mean += row[i];
        mean /= (float)d;
        float var = 0.0f;
        for (int i = 0; i < d; i++) {
            float c = row[i] - mean;
            var += c * c;
        }
        var /= (float)d;
        float inv = 1.0f / sqrtf(var + eps);
        for (int i = 0; i < d; i++)
            row[i] = (row[i] - mean) * inv * gamma[i] + beta[i];
    }
}

void nmt_softmax(float *x, int n)
{
    float max = -INFINITY;
    for (int i = 0; i < n; i++)
        if (x[i] > max)
            max = x[i];
    if (max == -INFINITY) {
        for (int i = 0; i < n; i++)
            x[i] = 0.0f;
        return;
    }
    float sum = 0.0f;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - max);
        sum += x[i];
    }
    float inv = 1.0f / sum;
    for (int i = 0; i < n; i++)
        x[i] *= inv;
}

void nmt_activate(float *x, size_t n, nmt_activation act)
{
    switch (act) {
    case NMT_ACT_SWISH:
        for (size_t i = 0; i < n; i++)
            x[i] = x[i] / (1.0f + expf(-x[i]));
        break;
    case NMT_ACT_RELU:
        for (size_t i = 0; i < n; i++)
            x[i] = x[i] > 0.0f ? x[i] : 0.0f;
        break;
    case NMT_ACT_GELU:
        for (size_t i = 0; i < n; i++)
            x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * (float)M_SQRT1_2));
        break;
    case NMT_ACT_GELU_TANH:
        for (size_t i = 0; i < n; i++) {
            float v = x[i];
            x[i] = 0.5f * v * (1.0f + tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v)));
        }
        break;
    }
}

void nmt_sinusoid_table(float *out, int n_pos, int d)
{
    int half = (d + 1) / 2; /* sin columns; cos take the rest */
    for (int p = 0; p < n_pos; p++) {
        float *row = out + (size_t)p * d;
        for (int j = 0; j < d; j++) {
            /* Column j of the interleaved table has exponent 2*(j/2)/d; sin
             * takes the even columns, cos the odd ones, each packed in order. */
            int src = j < half ? 2 * j : 2 * (j - half) + 1;
            double angle = (double)p / pow(10000.0, 2.0 * (double)(src / 2) / (double)d);
            row[j] = (float)(j < half ? sin(angle) : cos(angle));
        }
    }
}

int nmt_argmax(const float *x, int n, int ban_a, int ban_b)
{
    int best = -1;
    float best_v = 0.0f;
    for (int i = 0; i < n; i++) {
        if (i == ban_a || i == ban_b)
            continue;
        if (best < 0 || x[i] > best_v) {
            best = i;
            best_v = x[i];
        }
    }
    return best;
}

void nmt_attend(float *out, const float *q, const float *k, const float *v, int n_keys, int hd, size_t stride,
                float *scores)
{
    for (int j = 0; j < n_keys; j++) {
        const float *kj = k + (size_t)j * stride;
        float s = 0.0f;
        for (int i = 0; i < hd; i++)
            s += q[i] * kj[i];
        scores[j] = s;
    }
    nmt_softmax(scores, n_keys);
    memset(out, 0, (size_t)hd * sizeof *out);
    for (int j = 0; j < n_keys; j++) {
        const float *vj = v + (size_t)j * stride;
        float p = scores[j];
        for (int i = 0; i < hd; i++)
            out[i] += p * vj[i];
    }
}
