/* gemm_bench.c: the products y = x . W^T of the forward pass on the shapes
 * of opus-mt-en-de, computed by nmtd's packed fp32 kernel (nmt_gemm_packed,
 * with W packed once beforehand, as at model load; AVX-512 or AVX2+FMA), by
 * nmtd's int8 product (nmt_q8_linear, W quantized beforehand, x quantized in
 * the call), by its bfloat16 product (nmt_bf16_linear, W rounded
 * beforehand) -- each the kernel this CPU runs -- and by OpenBLAS
 * cblas_sgemm/sgemv in the same run, single-threaded, G(FL)OP/s each (a
 * multiply-add counts 2); also the largest difference from OpenBLAS's fp32
 * result.
 * Usage: bench/gemm_bench [seconds per shape] */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bf16_gemm.h"
#include "gemm.h"
#include "qgemm.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

/* The ceiling of each path on this core: independent chains of the
 * instructions its inner loop is made of, nothing else (12 chains hide the
 * latency).  int8 (AVX2): VPMADDUBSW + VPMADDWD + VPADDD, 32
 * multiply-adds per three; fp32: VFMADD, 8 multiply-adds.
 * 1000 rounds of twelve steps, written out in assembly so that the
 * compiler can neither drop nor merge nor spill them; STEP(c) is the step
 * of accumulator %%ymm<c>, with the operands in ymm12, ymm13 and ymm15. */
#define ROUNDS(STEP)                                                                                                   \
    do {                                                                                                               \
        long rounds = 1000;                                                                                            \
        __asm__ volatile("vpcmpeqd %%ymm12, %%ymm12, %%ymm12\n\t"                                                      \
                         "vpcmpeqd %%ymm13, %%ymm13, %%ymm13\n\t"                                                      \
                         "vpcmpeqd %%ymm15, %%ymm15, %%ymm15\n\t"                                                      \
                         "vpxor %%ymm0, %%ymm0, %%ymm0\n\tvpxor %%ymm1, %%ymm1, %%ymm1\n\t"                          \
                         "vpxor %%ymm2, %%ymm2, %%ymm2\n\tvpxor %%ymm3, %%ymm3, %%ymm3\n\t"                          \
                         "vpxor %%ymm4, %%ymm4, %%ymm4\n\tvpxor %%ymm5, %%ymm5, %%ymm5\n\t"                          \
                         "vpxor %%ymm6, %%ymm6, %%ymm6\n\tvpxor %%ymm7, %%ymm7, %%ymm7\n\t"                          \
                         "vpxor %%ymm8, %%ymm8, %%ymm8\n\tvpxor %%ymm9, %%ymm9, %%ymm9\n\t"                          \
                         "vpxor %%ymm10, %%ymm10, %%ymm10\n\tvpxor %%ymm11, %%ymm11, %%ymm11\n\t"                    \
                         "1:\n\t" STEP("0") STEP("1") STEP("2") STEP("3") STEP("4") STEP("5") STEP("6") STEP("7")      \
                             STEP("8") STEP("9") STEP("10") STEP("11") "dec %0\n\tjnz 1b\n\tvzeroupper"                \
                         : "+r"(rounds)                                                                                \
                         :                                                                                             \
                         : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",    \
                           "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "cc");                                         \
    } while (0)

/* int8 as the kernel does it: products of byte pairs summed in int16
 * (VPMADDUBSW), pairs of those in int32 (VPMADDWD by ones), added to the
 * accumulator (VPADDD) */
#define MADD_STEP(c)                                                                                                   \
    "vpmaddubsw %%ymm13, %%ymm12, %%ymm14\n\t"                                                                        \
    "vpmaddwd %%ymm15, %%ymm14, %%ymm14\n\t"                                                                          \
    "vpaddd %%ymm14, %%ymm" c ", %%ymm" c "\n\t"
/* fp32: a fused multiply-add into the accumulator */
#define FMA_STEP(c) "vfmadd231ps %%ymm13, %%ymm12, %%ymm" c "\n\t"

__attribute__((target("avx2"))) static double peak_int8_avx2(double budget)
{
    long iters = 0;
    double t0 = now(), t;
    do {
        ROUNDS(MADD_STEP);
        iters += 1000;
        t = now() - t0;
    } while (t < budget);
    return 2.0 * 32 * 12 * (double)iters / t / 1e9;
}

__attribute__((target("avx2,fma"))) static double peak_fma(double budget)
{
    long iters = 0;
    double t0 = now(), t;
    do {
        ROUNDS(FMA_STEP);
        iters += 1000;
        t = now() - t0;
    } while (t < budget);
    return 2.0 * 8 * 12 * (double)iters / t / 1e9;
}
#endif

static void blas(float *y, const float *x, int m, int k, const float *w, int n)
{
    if (m == 1)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, n, k, 1.0f, w, k, x, 1, 0.0f, y, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, x, k, w, k, 0.0f, y, n);
}

int main(int argc, char **argv)
{
    double budget = argc > 1 ? atof(argv[1]) : 0.5;
    static const int shapes[][3] = {{1, 512, 512},   {1, 512, 2048},   {1, 2048, 512},   {1, 512, 58101},
                                    {32, 512, 512},  {32, 512, 2048},  {32, 2048, 512},  {32, 512, 58101},
                                    {64, 512, 2048}, {640, 512, 2048}, {640, 2048, 512}};
    openblas_set_num_threads(1);
    int packed_ok = nmt_gemm_packed_available();
    if (!packed_ok)
        printf("no packed fp32 kernel on this CPU (needs AVX-512 or AVX2+FMA)\n\n");
#if defined(__x86_64__) && defined(__GNUC__)
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        printf("Ceilings on one core (independent instruction chains, nothing else): int8 AVX2 "
               "(VPMADDUBSW+VPMADDWD+VPADDD) %.1f GOP/s, fp32 AVX2 FMA %.1f GFLOP/s\n\n",
               peak_int8_avx2(budget), peak_fma(budget));
#endif
    printf("| M | K | N | packed fp32 (%s) GFLOP/s | int8 (%s) GOP/s | bf16 (%s) GFLOP/s | OpenBLAS fp32 GFLOP/s "
           "| packed / OpenBLAS | int8 / OpenBLAS | bf16 / OpenBLAS | packed max abs diff | int8 max abs diff "
           "| bf16 max abs diff |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
           packed_ok ? nmt_gemm_packed_kernel() : "none", nmt_q8_kernel_name(), nmt_bf16_kernel_name());
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int m = shapes[s][0], k = shapes[s][1], n = shapes[s][2];
        float *x = malloc(sizeof(float) * (size_t)m * k), *w = malloc(sizeof(float) * (size_t)n * k),
              *y1 = malloc(sizeof(float) * (size_t)m * n), *y2 = malloc(sizeof(float) * (size_t)m * n),
              *y3 = malloc(sizeof(float) * (size_t)m * n), *y4 = malloc(sizeof(float) * (size_t)m * n),
              *packed = packed_ok ? malloc(sizeof(float) * nmt_gemm_packed_size(n, k)) : NULL;
        for (size_t i = 0; i < (size_t)m * k; i++)
            x[i] = (float)((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
        for (size_t i = 0; i < (size_t)n * k; i++)
            w[i] = (float)((i * 40503u) % 997) / 997.0f - 0.5f;
        if (packed)
            nmt_gemm_pack(packed, w, n, k);
        nmt_q8_matrix q;
        nmt_bf16_matrix h;
        nmt_err err;
        if (nmt_q8_quantize(&q, w, n, k, &err) || nmt_bf16_pack(&h, w, n, k, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        double gflop = 2.0 * m * k * n / 1e9, rate[4] = {0, 0, 0, 0};
        for (int which = 0; which < 4; which++) {
            if (which == 0 && !packed)
                continue;
            int reps = 0;
            double t0 = now(), t;
            do {
                if (which == 0)
                    nmt_gemm_packed(y1, x, m, k, packed, n, NULL);
                else if (which == 1)
                    nmt_q8_linear(y3, x, m, &q, NULL);
                else if (which == 3)
                    nmt_bf16_linear(y4, x, m, &h, NULL);
                else
                    blas(y2, x, m, k, w, n);
                reps++;
                t = now() - t0;
            } while (t < budget);
            rate[which] = gflop * reps / t;
        }
        double diff = 0, qdiff = 0, hdiff = 0;
        for (size_t i = 0; i < (size_t)m * n; i++) {
            diff = packed ? fmax(diff, fabs(y1[i] - y2[i])) : 0;
            qdiff = fmax(qdiff, fabs(y3[i] - y2[i]));
            hdiff = fmax(hdiff, fabs(y4[i] - y2[i]));
        }
        char p_rate[32] = "–", p_ratio[32] = "–", p_diff[32] = "–";
        if (packed) {
            snprintf(p_rate, sizeof p_rate, "%.1f", rate[0]);
            snprintf(p_ratio, sizeof p_ratio, "%.2f", rate[0] / rate[2]);
            snprintf(p_diff, sizeof p_diff, "%.2g", diff);
        }
        printf("| %d | %d | %d | %s | %.1f | %.1f | %.1f | %s | %.2f | %.2f | %s | %.2g | %.2g |\n", m, k, n, p_rate,
               rate[1], rate[3], rate[2], p_ratio, rate[1] / rate[2], rate[3] / rate[2], p_diff, qdiff, hdiff);
        nmt_q8_free(&q);
        nmt_bf16_free(&h);
        free(y3);
        free(y4);
        free(x);
        free(w);
        free(y1);
        free(y2);
        free(packed);
    }
    return 0;
}
