/* check_dot_rate.c: the measured rate of VDPBF16PS against VFMADD231PS
 * (dot_rate.h).  Without AVX512_BF16 it is 0; with it, a positive rate
 * within what any core could give (two multiply-adds a lane at most twice
 * as often as the FMA, at least a twentieth as often), measured once: the
 * same value on every call, from every thread (the first calls race). */
#include <check.h>
#include <pthread.h>
#include <stdio.h>

#include "cpu_features.h"
#include "dot_rate.h"
#include "testutil.h"

static void *rate_of_thread(void *out)
{
    *(double *)out = nmt_bf16_dot_rate();
    return NULL;
}

START_TEST(test_rate)
{
    double from_threads[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, rate_of_thread, &from_threads[i]), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    double rate = nmt_bf16_dot_rate();
    for (int i = 0; i < 4; i++)
        ck_assert(from_threads[i] == rate);
    ck_assert(nmt_bf16_dot_rate() == rate);
    if (!nmt_cpu_features_get()->avx512_bf16) {
        ck_assert(rate == 0.0);
        printf("no AVX512_BF16: rate 0\n");
        return;
    }
    printf("VDPBF16PS: %.2fx the multiply-adds of VFMADD231PS\n", rate);
    ck_assert_msg(rate > 0.1 && rate < 4.0, "rate %g", rate);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dot_rate");
    TCase *tc = tcase_create("rate");
    tcase_add_test(tc, test_rate);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
