/* gemm_bench.c: the products y = x . W^T of the forward pass on the shapes
 * of opus-mt-en-de, computed by nmtd's packed fp32 kernel (nmt_gemm_packed,
 * with W packed once beforehand, as at model load; AVX-512 or AVX2+FMA), by
 * nmtd's int8 product (nmt_q8_linear, W quantized beforehand, x quantized in
 * the call), by its bfloat16 product (nmt_bf16_linear, W rounded
 * beforehand) -- each the kernel this CPU runs under NMTD_KERNELS -- and by
 * OpenBLAS cblas_sgemm/sgemv in the same run, single-threaded, G(FL)OP/s
 * each (a multiply-add counts 2); also the largest difference from
 * OpenBLAS's fp32 result, and each kernel's rate as a share of the ceiling
 * of its instructions on this core (measured first, below).
 * Usage: [NMTD_KERNELS=avx512|avx2|generic] bench/gemm_bench [seconds per shape] */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bf16_gemm.h"
#include "cpu_features.h"
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
/* int8 with narrow weights, as the kernel does it: two VPMADDUBSW results
 * (64 multiply-adds) added in int16 (VPADDW), then VPMADDWD and VPADDD;
 * ymm13 stands in for the ones and ymm15 is the second product */
#define MADD_FOUR_STEP(c)                                                                                              \
    "vpmaddubsw %%ymm13, %%ymm12, %%ymm14\n\t"                                                                        \
    "vpmaddubsw %%ymm12, %%ymm13, %%ymm15\n\t"                                                                        \
    "vpaddw %%ymm15, %%ymm14, %%ymm14\n\t"                                                                            \
    "vpmaddwd %%ymm13, %%ymm14, %%ymm14\n\t"                                                                          \
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

__attribute__((target("avx2"))) static double peak_int8_four_avx2(double budget)
{
    long iters = 0;
    double t0 = now(), t;
    do {
        ROUNDS(MADD_FOUR_STEP);
        iters += 1000;
        t = now() - t0;
    } while (t < budget);
    return 2.0 * 64 * 12 * (double)iters / t / 1e9;
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

/* The same with twelve zmm accumulators (zmm0-11), operands in zmm12-13. */
#define ROUNDS512(STEP)                                                                                                \
    do {                                                                                                               \
        long rounds = 1000;                                                                                            \
        __asm__ volatile("vpternlogd $0xff, %%zmm12, %%zmm12, %%zmm12\n\t"                                              \
                         "vpternlogd $0xff, %%zmm13, %%zmm13, %%zmm13\n\t"                                              \
                         "vpxord %%zmm0, %%zmm0, %%zmm0\n\tvpxord %%zmm1, %%zmm1, %%zmm1\n\t"                          \
                         "vpxord %%zmm2, %%zmm2, %%zmm2\n\tvpxord %%zmm3, %%zmm3, %%zmm3\n\t"                          \
                         "vpxord %%zmm4, %%zmm4, %%zmm4\n\tvpxord %%zmm5, %%zmm5, %%zmm5\n\t"                          \
                         "vpxord %%zmm6, %%zmm6, %%zmm6\n\tvpxord %%zmm7, %%zmm7, %%zmm7\n\t"                          \
                         "vpxord %%zmm8, %%zmm8, %%zmm8\n\tvpxord %%zmm9, %%zmm9, %%zmm9\n\t"                          \
                         "vpxord %%zmm10, %%zmm10, %%zmm10\n\tvpxord %%zmm11, %%zmm11, %%zmm11\n\t"                    \
                         "1:\n\t" STEP("0") STEP("1") STEP("2") STEP("3") STEP("4") STEP("5") STEP("6") STEP("7")      \
                             STEP("8") STEP("9") STEP("10") STEP("11") "dec %0\n\tjnz 1b\n\tvzeroupper"                \
                         : "+r"(rounds)                                                                                \
                         :                                                                                             \
                         : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",    \
                           "xmm11", "xmm12", "xmm13", "cc");                                                           \
    } while (0)

/* AVX-512: fp32 FMA (16 multiply-adds), VNNI's VPDPBUSD (64), AVX512_BF16's
 * VDPBF16PS (32) */
#define FMA512_STEP(c) "vfmadd231ps %%zmm13, %%zmm12, %%zmm" c "\n\t"
#define VNNI_STEP(c) "vpdpbusd %%zmm13, %%zmm12, %%zmm" c "\n\t"
#define BF16_STEP(c) "vdpbf16ps %%zmm13, %%zmm12, %%zmm" c "\n\t"

#define PEAK(name, isa, rounds, step, macs)                                                                         \
    __attribute__((target(isa))) static double name(double budget)                                                 \
    {                                                                                                                  \
        long iters = 0;                                                                                                \
        double t0 = now(), t;                                                                                          \
        do {                                                                                                           \
            rounds(step);                                                                                              \
            iters += 1000;                                                                                             \
            t = now() - t0;                                                                                            \
        } while (t < budget);                                                                                          \
        return 2.0 * (macs) * 12 * (double)iters / t / 1e9;                                                            \
    }
PEAK(peak_fma512, "avx512f", ROUNDS512, FMA512_STEP, 16)
PEAK(peak_vnni, "avx512f,avx512vnni", ROUNDS512, VNNI_STEP, 64)
PEAK(peak_bf16, "avx512f,avx512bf16", ROUNDS512, BF16_STEP, 32)

/* AMX: four independent accumulator tiles (16 x 16), each step
 * TDPBUSD (16 x 16 x 64 multiply-adds) or TDPBF16PS (16 x 16 x 32) on
 * tiles already loaded: the tile unit alone. */
typedef struct amx_config {
    unsigned char palette, start_row, reserved[14];
    unsigned short colsb[16];
    unsigned char rows[16];
} amx_config;

#define AMX_PEAK(name, isa, dp, macs)                                                                               \
    __attribute__((target(isa))) static double name(double budget)                                                  \
    {                                                                                                                  \
        amx_config c = {.palette = 1};                                                                                 \
        for (int i = 0; i < 8; i++) {                                                                                  \
            c.rows[i] = 16;                                                                                            \
            c.colsb[i] = 64;                                                                                           \
        }                                                                                                              \
        _tile_loadconfig(&c);                                                                                          \
        _tile_zero(0); _tile_zero(1); _tile_zero(2); _tile_zero(3);                                                    \
        _tile_zero(4); _tile_zero(5); _tile_zero(6); _tile_zero(7);                                                    \
        long iters = 0;                                                                                                \
        double t0 = now(), t;                                                                                          \
        do {                                                                                                           \
            for (int r = 0; r < 1000; r++) {                                                                           \
                dp(0, 4, 6);                                                                                           \
                dp(1, 4, 7);                                                                                           \
                dp(2, 5, 6);                                                                                           \
                dp(3, 5, 7);                                                                                           \
            }                                                                                                          \
            iters += 1000;                                                                                             \
            t = now() - t0;                                                                                            \
        } while (t < budget);                                                                                          \
        _tile_release();                                                                                               \
        return 2.0 * (macs) * 4 * (double)iters / t / 1e9;                                                             \
    }
AMX_PEAK(peak_amx_int8, "amx-tile,amx-int8", _tile_dpbusd, 16 * 16 * 64)
AMX_PEAK(peak_amx_bf16, "amx-tile,amx-bf16", _tile_dpbf16ps, 16 * 16 * 32)
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
    /* each kernel's ceiling: what its instructions alone reach on this core */
    double ceiling_packed = 0, ceiling_int8 = 0, ceiling_bf16 = 0;
#if defined(__x86_64__) && defined(__GNUC__)
    const nmt_cpu_features *cpu = nmt_cpu_features_get();
    printf("Ceilings on one core (independent instruction chains, nothing else):\n");
    if (cpu->avx2_fma) {
        double i8 = peak_int8_avx2(budget), four = peak_int8_four_avx2(budget), fma = peak_fma(budget);
        printf("- AVX2 int8 (VPMADDUBSW+VPMADDWD+VPADDD) %.1f GOP/s, with narrow weights (2 VPMADDUBSW+VPADDW+"
               "VPMADDWD+VPADDD) %.1f GOP/s, AVX2 FMA %.1f GFLOP/s\n",
               i8, four, fma);
        ceiling_int8 = nmt_q8_levels() <= NMT_Q8_NARROW_LEVELS ? four : i8;
        ceiling_packed = fma;
        ceiling_bf16 = fma;
    }
    if (cpu->avx512) {
        double fma = peak_fma512(budget);
        printf("- AVX-512 FMA %.1f GFLOP/s\n", fma);
        if (packed_ok && strcmp(nmt_gemm_packed_kernel(), "avx512") == 0)
            ceiling_packed = fma;
        if (strcmp(nmt_bf16_kernel_name(), "avx512") == 0) /* widened weights, fp32 FMA */
            ceiling_bf16 = fma;
    }
    if (cpu->avx512_vnni) {
        double v = peak_vnni(budget);
        printf("- AVX-512 VNNI (VPDPBUSD) %.1f GOP/s\n", v);
        if (strcmp(nmt_q8_kernel_name(), "avx512_vnni") == 0)
            ceiling_int8 = v;
    }
    if (cpu->avx512_bf16) {
        double v = peak_bf16(budget);
        printf("- AVX512_BF16 (VDPBF16PS) %.1f GFLOP/s\n", v);
        if (strcmp(nmt_bf16_kernel_name(), "avx512_bf16") == 0)
            ceiling_bf16 = v;
    }
    if (cpu->amx_int8) {
        double v = peak_amx_int8(budget);
        printf("- AMX int8 (TDPBUSD) %.1f GOP/s\n", v);
        if (strcmp(nmt_q8_kernel_name(), "amx") == 0)
            ceiling_int8 = v;
    }
    if (cpu->amx_bf16) {
        double v = peak_amx_bf16(budget);
        printf("- AMX bf16 (TDPBF16PS) %.1f GFLOP/s\n", v);
        if (strcmp(nmt_bf16_kernel_name(), "amx") == 0)
            ceiling_bf16 = v;
    }
    printf("- the kernels this run measures: packed fp32 (%s) %.1f GFLOP/s, int8 (%s) %.1f GOP/s, bf16 (%s) %.1f "
           "GFLOP/s\n\n",
           packed_ok ? nmt_gemm_packed_kernel() : "none", ceiling_packed, nmt_q8_kernel_name(), ceiling_int8,
           nmt_bf16_kernel_name(), ceiling_bf16);
#endif
    printf("| M | K | N | packed fp32 (%s) GFLOP/s | int8 (%s) GOP/s | bf16 (%s) GFLOP/s | OpenBLAS fp32 GFLOP/s "
           "| packed / OpenBLAS | int8 / OpenBLAS | bf16 / OpenBLAS | packed / ceiling | int8 / ceiling "
           "| bf16 / ceiling | packed max abs diff | int8 max abs diff "
           "| bf16 max abs diff |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
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
        if (nmt_q8_quantize(&q, w, n, k, nmt_q8_levels(), &err) || nmt_bf16_pack(&h, w, n, k, &err)) {
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
        char share[3][32];
        const double achieved[3] = {packed ? rate[0] : 0, rate[1], rate[3]},
                     ceiling[3] = {ceiling_packed, ceiling_int8, ceiling_bf16};
        for (int c = 0; c < 3; c++)
            if (ceiling[c] > 0 && achieved[c] > 0)
                snprintf(share[c], sizeof share[c], "%.0f%%", 100 * achieved[c] / ceiling[c]);
            else
                snprintf(share[c], sizeof share[c], "–");
        printf("| %d | %d | %d | %s | %.1f | %.1f | %.1f | %s | %.2f | %.2f | %s | %s | %s | %s | %.2g | %.2g |\n", m,
               k, n, p_rate, rate[1], rate[3], rate[2], p_ratio, rate[1] / rate[2], rate[3] / rate[2], share[0],
               share[1], share[2], p_diff, qdiff, hdiff);
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
