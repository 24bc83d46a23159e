/* dot_rate.c: VDPBF16PS against VFMADD231PS on this core (see dot_rate.h). */
#include "dot_rate.h"

#include <pthread.h>

#include "cpu_features.h"
#include "util.h"

#if defined(__x86_64__) && defined(__GNUC__)

/* rounds x 24 independent chains of one instruction (zmm0-23 accumulate,
 * zmm30 and zmm31 the operands), written out in assembly so that the
 * compiler can neither drop nor merge nor spill them. */
#define STEP(op, c) op " %%zmm31, %%zmm30, %%zmm" #c "\n\t"
#define CHAINS(op)                                                                                                     \
    STEP(op, 0) STEP(op, 1) STEP(op, 2) STEP(op, 3) STEP(op, 4) STEP(op, 5) STEP(op, 6) STEP(op, 7) STEP(op, 8)        \
    STEP(op, 9) STEP(op, 10) STEP(op, 11) STEP(op, 12) STEP(op, 13) STEP(op, 14) STEP(op, 15) STEP(op, 16)             \
    STEP(op, 17) STEP(op, 18) STEP(op, 19) STEP(op, 20) STEP(op, 21) STEP(op, 22) STEP(op, 23)
#define CLOBBERS                                                                                                       \
    "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", \
        "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm30", "xmm31", "cc"
#define RUN(op, rounds)                                                                                                \
    do {                                                                                                               \
        long left = (rounds);                                                                                          \
        __asm__ volatile("vpxord %%zmm30, %%zmm30, %%zmm30\n\tvpxord %%zmm31, %%zmm31, %%zmm31\n\t"                    \
                         "1:\n\t" CHAINS(op) "dec %0\n\tjnz 1b\n\tvzeroupper"                                          \
                         : "+r"(left)                                                                                  \
                         :                                                                                             \
                         : CLOBBERS);                                                                                  \
    } while (0)

enum { TRIAL_ROUNDS = 512, TRIALS = 9 };

__attribute__((target("avx512f"))) static double fma_seconds(long rounds)
{
    double t0 = nmt_now_s();
    RUN("vfmadd231ps", rounds);
    return nmt_now_s() - t0;
}

__attribute__((target("avx512f,avx512bf16"))) static double dot_seconds(long rounds)
{
    double t0 = nmt_now_s();
    RUN("vdpbf16ps", rounds);
    return nmt_now_s() - t0;
}

static double measured;

static void measure(void)
{
    if (!nmt_cpu_features_get()->avx512_bf16)
        return;
    /* warm-up: until the core runs 512-bit instructions at its full rate */
    for (double t0 = nmt_now_s(); nmt_now_s() - t0 < 2e-4;)
        fma_seconds(TRIAL_ROUNDS);
    double best_fma = 1e9, best_dot = 1e9;
    for (int i = 0; i < TRIALS; i++) {
        double f = fma_seconds(TRIAL_ROUNDS), d = dot_seconds(TRIAL_ROUNDS);
        best_fma = f < best_fma ? f : best_fma;
        best_dot = d < best_dot ? d : best_dot;
    }
    /* the same count of each instruction; VDPBF16PS's two multiply-adds a lane */
    if (best_dot > 0)
        measured = 2.0 * best_fma / best_dot;
}

#else
static double measured;
static void measure(void) {}
#endif

double nmt_bf16_dot_rate(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, measure);
    return measured;
}
