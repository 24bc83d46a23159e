/* check_logits.c: the int8-screened greedy choice equals the argmax of the
 * exact fp32 logits (fma in k order from the bias), including near-ties the
 * screen cannot resolve, exact ties (first index wins), banned tokens that
 * hold the maximum, rounding errors all one way (the screen ranks the two
 * best the wrong way round by nearly the bound), and batches of rows of
 * every tile shape: with d = 70 (VNNI tiles of 8 rows, AVX2 strips of 5)
 * and d = 128 with up to 40 rows (where the CPU has AMX: blocks of 32,
 * 16 + 1 to 16 and 4 to 16 rows, and the rows left for VNNI after them),
 * and 75 rows (VNNI: 64 rows past each pair of panels, then 11).
 * Screens set a block of rows at a time equal one built whole; the
 * portable choice from every exact logit (no screen) equals the exact
 * argmax and the screen's choice.
 * It runs the screen's kernel for this CPU; screen_avx2.sh runs it again
 * with NMTD_KERNELS=avx2. */
#include <check.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "logits.h"
#include "testutil.h"

static unsigned rng = 99;
static int exact_argmax(const float *w, const float *b, const float *x, int V, int d, int ban_a, int ban_b)
{
    int best = -1;
    float best_v = 0.0f;
    for (int i = 0; i < V; i++) {
        if (i == ban_a || i == ban_b)
            continue;
        float acc = b ? b[i] : 0.0f;
        for (int k = 0; k < d; k++)
            acc = fmaf(x[k], w[(size_t)i * d + k], acc);
        if (best < 0 || acc > best_v) {
            best = i;
            best_v = acc;
        }
    }
    return best;
}

static void check_screen(int D, int N, int n_step)
{
    enum { V = 1003 };
    float *w = malloc(sizeof(float) * V * D), *b = malloc(sizeof(float) * V), *x = malloc(sizeof(float) * N * D);
    for (int i = 0; i < V * D; i++)
        w[i] = tu_frand(&rng) * 0.1f;
    for (int i = 0; i < V; i++)
        b[i] = tu_frand(&rng) * 0.01f;
    /* near-ties: rows 500..509 equal to row 7 up to the last bit of one weight */
    for (int i = 500; i < 510; i++) {
        memcpy(w + (size_t)i * D, w + 7 * D, sizeof(float) * D);
        w[(size_t)i * D + (i % D)] = nextafterf(w[(size_t)i * D + (i % D)], (i % 2) ? INFINITY : -INFINITY);
        b[i] = b[7];
    }
    /* an exact tie: row 900 is row 600 */
    memcpy(w + 900 * D, w + 600 * D, sizeof(float) * D);
    b[900] = b[600];
    for (int r = 0; r < N * D; r++)
        x[r] = tu_frand(&rng);
    /* rows aligned with row 7 (near-ties decide), with row 600 (exact tie) */
    for (int k = 0; k < D; k++) {
        x[0 * D + k] = w[7 * D + k] * 30.0f;
        x[1 * D + k] = w[600 * D + k] * 30.0f;
    }
    nmt_logits_screen s;
    nmt_err err;
    ck_assert(nmt_logits_screen_build(&s, w, V, D, &err) == NMT_OK);
    nmt_logits_scratch sc;
    ck_assert(nmt_logits_scratch_init(&sc, &s, N, &err) == NMT_OK);
    int *out = malloc(sizeof(int) * N);
    long cands = 0, rows_chosen = 0;
    static const int bans[][2] = {{-1, -1}, {7, -1}, {600, 3}};
    for (size_t t = 0; t < 3; t++) {
        for (int n = 1; n <= N; n += n_step) { /* a single row, partial and full tiles */
            nmt_logits_choose(&s, w, b, x, n, bans[t][0], bans[t][1], &sc, out, &cands);
            rows_chosen += n;
            for (int r = 0; r < n; r++)
                ck_assert_int_eq(out[r], exact_argmax(w, b, x + (size_t)r * D, V, D, bans[t][0], bans[t][1]));
        }
    }
    int tie = exact_argmax(w, b, x + D, V, D, -1, -1);
    ck_assert_int_eq(tie, 600); /* the first of two equal maxima */
    ck_assert_int_lt(cands, rows_chosen * V / 4); /* the screen does narrow */
    nmt_logits_choose(&s, w, NULL, x, 4, -1, -1, &sc, out, NULL); /* no bias */
    for (int r = 0; r < 4; r++)
        ck_assert_int_eq(out[r], exact_argmax(w, NULL, x + (size_t)r * D, V, D, -1, -1));
    nmt_logits_scratch_free(&sc);
    free(out);
    nmt_logits_screen_free(&s);
    free(w);
    free(b);
    free(x);
}

START_TEST(test_screen_equals_exact_argmax) { check_screen(70, 19, 6); }
END_TEST

/* Rounding errors all one way: x = +-1 (on every kernel's grid), the
 * winner's weights 127 s, then 0.499 s with x's sign (each rounds down to
 * 0), the runner-up's 127 s, then 0.501 s for 62 of them (each rounds up to
 * s).  The runner-up's screen value is 62 s above the winner's, about 0.93
 * of the two bounds together: the winner stays a candidate only while the
 * bound is within 7% of what logits.c proves.  Twice: the winner before
 * the runner-up, and after it (the screen then keeps it only if what a
 * row keeps as it goes reaches down to L, not to the best value so far). */
START_TEST(test_screen_survives_aligned_rounding)
{
    enum { V = 40, D = 64, N = 6 };
    const int WIN = _i ? 20 : 5, RUNNER = _i ? 5 : 20;
    const float s = 0x1p-7f;
    float w[V * D], x[N * D], b[V];
    for (int i = 0; i < V * D; i++)
        w[i] = tu_frand(&rng) * 0.05f;
    for (int i = 0; i < V; i++)
        b[i] = 0.0f;
    for (int r = 0; r < N; r++)
        for (int k = 0; k < D; k++)
            x[r * D + k] = ((k * 7 + r) % 3 == 0) ? -1.0f : 1.0f;
    for (int r = 1; r < N; r++) /* every row the same: the winner's weights follow x's signs */
        memcpy(x + r * D, x, sizeof(float) * D);
    for (int k = 0; k < D; k++) {
        float sign = x[k] < 0.0f ? -1.0f : 1.0f;
        w[WIN * D + k] = sign * (k == 0 ? 127.0f * s : 0.499f * s);
        w[RUNNER * D + k] = sign * (k == 0 ? 127.0f * s : k < D - 1 ? 0.501f * s : 0.0f);
    }
    ck_assert_int_eq(exact_argmax(w, b, x, V, D, -1, -1), WIN);
    nmt_logits_screen sc_;
    nmt_err err;
    ck_assert(nmt_logits_screen_build(&sc_, w, V, D, &err) == NMT_OK);
    nmt_logits_scratch sc;
    ck_assert(nmt_logits_scratch_init(&sc, &sc_, N, &err) == NMT_OK);
    int out[N];
    float values[V];
    nmt_logits_screen_row(&sc_, b, x, &sc, values);
    ck_assert_float_gt(values[RUNNER] - values[WIN], 61.0f * s); /* the screen ranks them the wrong way */
    for (int n = 1; n <= N; n += N - 1) { /* a single row; a block of rows (AMX where it runs) */
        nmt_logits_choose(&sc_, w, b, x, n, -1, -1, &sc, out, NULL);
        for (int r = 0; r < n; r++)
            ck_assert_int_eq(out[r], WIN);
    }
    nmt_logits_scratch_free(&sc);
    nmt_logits_screen_free(&sc_);
}
END_TEST

START_TEST(test_screen_blocks_of_rows) { check_screen(128, 40, 3); }
END_TEST

/* More rows than the VNNI screen takes past one pair of panels (64). */
START_TEST(test_screen_many_rows) { check_screen(70, 75, 37); }
END_TEST

/* A crowd: NMT_LOGITS_NEAR + 400 tokens with the same weights (more than a
 * row keeps while the screen runs), every one a candidate for rows along
 * them, and the winner after them all, a near-copy scaled by 1 + 2^-12
 * (within the screen's bound of the crowd: the exact logits decide).  The
 * crowded rows are scanned whole; a row along other weights in the same
 * batch is not. */
START_TEST(test_screen_crowded_row)
{
    enum { D = 64, N = 9, CROWD = 100, CROWD_END = CROWD + NMT_LOGITS_NEAR + 400, WINNER = CROWD_END + 500,
           V = WINNER + 500 };
    float *w = malloc(sizeof(float) * V * D), *b = calloc(V, sizeof(float)), x[N * D];
    for (int i = 0; i < V * D; i++)
        w[i] = tu_frand(&rng) * 0.1f;
    for (int i = CROWD + 1; i < CROWD_END; i++)
        memcpy(w + (size_t)i * D, w + (size_t)CROWD * D, sizeof(float) * D);
    for (int k = 0; k < D; k++)
        w[(size_t)WINNER * D + k] = w[(size_t)CROWD * D + k] * (1.0f + 0x1p-12f);
    for (int i = 0; i < N * D; i++)
        x[i] = tu_frand(&rng);
    for (int r = 0; r < N - 1; r++) /* all but the last row along the crowd */
        for (int k = 0; k < D; k++)
            x[r * D + k] = w[(size_t)CROWD * D + k] * (20.0f + (float)r) + 0.01f * tu_frand(&rng);
    nmt_logits_screen s;
    nmt_logits_scratch sc;
    nmt_err err;
    ck_assert(nmt_logits_screen_build(&s, w, V, D, &err) == NMT_OK);
    ck_assert(nmt_logits_scratch_init(&sc, &s, N, &err) == NMT_OK);
    int out[N];
    static const int bans[][2] = {{-1, -1}, {WINNER, -1}, {CROWD, WINNER}};
    for (size_t t = 0; t < 3; t++)
        for (int n = 1; n <= N; n += N - 1) { /* a single row; a tile of 8 and a row */
            long cands = 0;
            nmt_logits_choose(&s, w, b, x, n, bans[t][0], bans[t][1], &sc, out, &cands);
            for (int r = 0; r < n; r++)
                ck_assert_int_eq(out[r], exact_argmax(w, b, x + (size_t)r * D, V, D, bans[t][0], bans[t][1]));
            ck_assert_int_ge(cands, (long)(CROWD_END - CROWD - 1)); /* the crowd went to the exact step */
            ck_assert_int_eq(out[0], t == 0 ? WINNER : t == 1 ? CROWD : CROWD + 1);
        }
    nmt_logits_scratch_free(&sc);
    nmt_logits_screen_free(&s);
    free(w);
    free(b);
}
END_TEST

/* A screen set a block of rows at a time (model loading's way: 1024 rows)
 * holds the bytes of one built from the whole matrix. */
START_TEST(test_screen_set_in_blocks)
{
    enum { V = 1003, D = 70, BLOCK = 100 };
    float *w = malloc(sizeof(float) * V * D);
    for (int i = 0; i < V * D; i++)
        w[i] = tu_frand(&rng) * 0.1f;
    nmt_logits_screen whole, blocks;
    nmt_err err;
    ck_assert(nmt_logits_screen_build(&whole, w, V, D, &err) == NMT_OK);
    ck_assert(nmt_logits_screen_alloc(&blocks, V, D, &err) == NMT_OK);
    ck_assert_uint_eq(blocks.bytes, nmt_logits_screen_bytes_for(V, D));
    for (int r = V; r > 0; r -= BLOCK) { /* last block first: the rows land by index, not by order */
        int r0 = r - BLOCK > 0 ? r - BLOCK : 0;
        nmt_logits_screen_set_rows(&blocks, w + (size_t)r0 * D, r0, r - r0);
    }
    size_t panels = (V + 15) / 16;
    ck_assert(memcmp(whole.wq, blocks.wq, panels * 16 * (size_t)whole.k4) == 0);
    ck_assert(memcmp(whole.scale, blocks.scale, sizeof(float) * V) == 0);
    ck_assert(memcmp(whole.l1, blocks.l1, sizeof(float) * V) == 0);
    ck_assert(memcmp(whole.qsum, blocks.qsum, sizeof(int32_t) * V) == 0);
    ck_assert(memcmp(whole.offset_sum, blocks.offset_sum, sizeof(int32_t) * V) == 0);
    nmt_logits_screen_free(&whole);
    nmt_logits_screen_free(&blocks);
    free(w);
}
END_TEST

typedef struct counted_rows {
    const float *w;
    int d, reads;
} counted_rows;

static void read_counted(void *ctx, int i, float *dst)
{
    counted_rows *c = ctx;
    memcpy(dst, c->w + (size_t)i * c->d, sizeof(float) * (size_t)c->d);
    c->reads++;
}

/* Without a screen (bfloat16 on the portable path): every exact logit gives
 * the exact argmax, ties to the first index, bans skipped, rows read from
 * the matrix or once each through read_row; and, where the screen runs,
 * the screen's choice. */
START_TEST(test_exact_choice_without_screen)
{
    enum { V = 611, D = 40, N = 5 };
    float *w = malloc(sizeof(float) * V * D), b[V], x[N * D], row[D], best[N];
    for (int i = 0; i < V * D; i++)
        w[i] = tu_frand(&rng) * 0.1f;
    for (int i = 0; i < V; i++)
        b[i] = tu_frand(&rng) * 0.01f;
    memcpy(w + 400 * D, w + 300 * D, sizeof(float) * D); /* an exact tie: row 400 is row 300 */
    b[400] = b[300];
    for (int i = 0; i < N * D; i++)
        x[i] = tu_frand(&rng);
    for (int k = 0; k < D; k++)
        x[k] = w[300 * D + k] * 30.0f; /* row 0 chooses 300 (or 400: the tie) */
    static const int bans[][2] = {{-1, -1}, {300, -1}, {300, 400}};
    for (size_t t = 0; t < 3; t++)
        for (int via_read = 0; via_read < 2; via_read++) {
            counted_rows c = {.w = w, .d = D};
            int out[N];
            nmt_logits_choose_exact(via_read ? NULL : w, t == 2 ? NULL : b, x, N, V, D, bans[t][0], bans[t][1],
                                    via_read ? read_counted : NULL, &c, row, best, out);
            ck_assert_int_eq(c.reads, via_read ? V - (bans[t][0] >= 0) - (bans[t][1] >= 0) : 0);
            for (int r = 0; r < N; r++)
                ck_assert_int_eq(out[r], exact_argmax(w, t == 2 ? NULL : b, x + (size_t)r * D, V, D, bans[t][0],
                                                      bans[t][1]));
            if (t == 0)
                ck_assert_int_eq(out[0], 300);
        }
    if (nmt_logits_screen_available()) {
        nmt_logits_screen s;
        nmt_err err;
        ck_assert(nmt_logits_screen_build(&s, w, V, D, &err) == NMT_OK);
        nmt_logits_scratch sc;
        ck_assert(nmt_logits_scratch_init(&sc, &s, N, &err) == NMT_OK);
        int screened[N], exact[N];
        nmt_logits_choose(&s, w, b, x, N, 7, -1, &sc, screened, NULL);
        nmt_logits_choose_exact(w, b, x, N, V, D, 7, -1, NULL, NULL, row, best, exact);
        ck_assert(memcmp(screened, exact, sizeof exact) == 0);
        nmt_logits_scratch_free(&sc);
        nmt_logits_screen_free(&s);
    }
    free(w);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("logits");
    TCase *exact = tcase_create("exact");
    tcase_add_test(exact, test_exact_choice_without_screen);
    suite_add_tcase(s, exact);
    if (nmt_logits_screen_available()) {
        printf("screen kernel: %s\n", nmt_logits_screen_kernel());
        TCase *tc = tcase_create("screen");
        tcase_add_test(tc, test_screen_equals_exact_argmax);
        tcase_add_test(tc, test_screen_blocks_of_rows);
        tcase_add_test(tc, test_screen_many_rows);
        tcase_add_loop_test(tc, test_screen_survives_aligned_rounding, 0, 2);
        tcase_add_test(tc, test_screen_crowded_row);
        tcase_add_test(tc, test_screen_set_in_blocks);
        suite_add_tcase(s, tc);
    } else {
        printf("no int8 screen here (no AVX2, or NMTD_KERNELS=generic): only the exact choice is tested\n");
    }
    return tu_run(s);
}
