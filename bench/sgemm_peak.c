/*
 * sgemm_peak.c - what OpenBLAS cblas_sgemm reaches on this machine for the
 * GEMM shapes of opus-mt-en-de greedy decoding, so the engine's achieved
 * GFLOP/s can be set against the possible.
 *
 * Shapes are those of y = x . W^T with row-major activations x [M, K] and
 * row-major weights W [N, K] (Hugging Face layout), i.e.
 * cblas_sgemm(RowMajor, NoTrans, Trans, M, N, K, ...):
 *   M = 1 (batch 1 decode step) or 32 (batch 32 decode step);
 *   K = 512, N = 512   (attention projections), K = 512, N = 2048 (fc1),
 *   K = 2048, N = 512  (fc2), K = 512, N = 58101 (output projection);
 *   M = 640 (32 sentences x 20 source tokens: the encoder) for comparison.
 * For M = 1 the same product is also timed as cblas_sgemv (W . x): OpenBLAS
 * 0.3.21's sgemm does not forward M = 1 to its matrix-vector kernels, and is
 * several times slower there.
 * Each shape runs for at least --seconds (default 0.3) after one warm-up
 * call, for each thread count given.
 *
 * Build: cc -O2 -o sgemm_peak sgemm_peak.c $(pkg-config --cflags --libs openblas)
 * Usage: sgemm_peak [--threads 1,2] [--seconds S] [--vocab N]
 * Output: a config line, then "threads op M K N gflops" lines (tab-separated).
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static float *alloc_rand(size_t n, unsigned *seed)
{
    float *p = malloc(n * sizeof *p);
    if (!p) {
        fprintf(stderr, "sgemm_peak: out of memory (%zu floats)\n", n);
        exit(1);
    }
    for (size_t i = 0; i < n; i++) {
        *seed = *seed * 1103515245u + 12345u;
        p[i] = ((float)((*seed >> 8) & 0xffff) / 65536.0f - 0.5f) * 0.1f;
    }
    return p;
}

/* gemv != 0: y = W . x with cblas_sgemv (only for m == 1). */
static double measure(int m, int k, int n, int gemv, double min_seconds)
{
    unsigned seed = 12345u;
    float *a = alloc_rand((size_t)m * k, &seed);
    float *w = alloc_rand((size_t)n * k, &seed);
    float *c = calloc((size_t)m * n, sizeof *c);
    if (!c) {
        fprintf(stderr, "sgemm_peak: out of memory\n");
        exit(1);
    }
    long iters = -1; /* one warm-up call */
    double t0 = 0, t;
    do {
        if (gemv)
            cblas_sgemv(CblasRowMajor, CblasNoTrans, n, k, 1.0f, w, k, a, 1, 0.0f, c, 1);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, a, k, w, k, 0.0f, c, n);
        if (++iters == 0)
            t0 = now();

        t = iters ? now() - t0 : 0;
    } while (t < min_seconds);
    free(a);
    free(w);
    free(c);
    return 2.0 * m * k * (double)n * iters / t / 1e9;
}

int main(int argc, char **argv)
{
    const char *threads = "1,2";
    double seconds = 0.3;
    int vocab = 58101;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = argv[++i];
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--vocab") && i + 1 < argc)
            vocab = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--threads 1,2] [--seconds S] [--vocab N]\n", argv[0]);
            return 2;
        }
    }
    const int shapes[][3] = {
        {1, 512, 512},    {1, 512, 2048},    {1, 2048, 512},    {1, 512, 0},
        {32, 512, 512},   {32, 512, 2048},   {32, 2048, 512},   {32, 512, 0},
        {640, 512, 512},  {640, 512, 2048},  {640, 2048, 512},
    };
    printf("# openblas: %s\n", openblas_get_config());
    printf("threads\top\tM\tK\tN\tgflops\n");
    char buf[64];
    snprintf(buf, sizeof buf, "%s", threads);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        int nt = atoi(tok);
        if (nt < 1)
            continue;
        openblas_set_num_threads(nt);
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            int m = shapes[s][0], k = shapes[s][1], n = shapes[s][2] ? shapes[s][2] : vocab;
            printf("%d\tsgemm\t%d\t%d\t%d\t%.1f\n", nt, m, k, n, measure(m, k, n, 0, seconds));
            fflush(stdout);
            if (m == 1) {
                printf("%d\tsgemv\t%d\t%d\t%d\t%.1f\n", nt, m, k, n, measure(m, k, n, 1, seconds));
                fflush(stdout);
            }
        }
    }
    return 0;
}
